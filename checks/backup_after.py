"""`verify --after` row of the backups: the server's status.json (through the agent's `list`).

ok: the last run succeeded and the newest backup is younger than
[backup] stale_after_hours; failed: a failed or killed run, a stale or missing
backup, or no agent installed. Without [backup]: "not checked".
"""
from __future__ import annotations

from checks.base import FAIL, NOT_CHECKED, OK, Check
from errors import DeployError

SECTION = "after"


def backup_checks(after) -> list[Check]:
    config = after.config
    if config is None or getattr(config, "backup", None) is None:
        return [Check(SECTION, "Backups", NOT_CHECKED, "no [backup] in deploy.toml")]
    from ops.backup_service import each, listing
    try:
        found = each(config, after.outputs, listing, "verify --after")
    except DeployError as exc:
        return [Check(SECTION, "Backups", FAIL, str(exc), "deploy with [backup] in deploy.toml")]
    rows = []
    for target, result in found:
        state, why = result.verdict()
        rows.append(Check(SECTION, f"{target.name}: backup status", OK if state == "ok" else FAIL,
                          f"{state}: {why}",
                          None if state == "ok" else "run `hetzner-deploy backup now` and read "
                          "`hetzner-deploy backup status`"))
    return rows

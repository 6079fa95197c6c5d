"""Warnings a reviewer must not miss in a plan, read from `terraform show -json`.

Issue 14 names three: a replaced server and a destroyed volume are already
warned about by runner.plan (PROTECTED_TYPES: "... will be replaced/deleted");
this module adds the third, SSH open to the world (a firewall rule letting
port 22 in from 0.0.0.0/0 or ::/0 once the plan is applied). It goes into the
plan summary's warnings, so `plan`, `plan --markdown` and the pull-request
comment all show it.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

WORLD = {"0.0.0.0/0", "::/0"}


def _covers_ssh(port: Any) -> bool:
    """Hetzner's port is "22", a range "20-30", or absent (any port)."""
    if port in (None, "", "any"):
        return True
    text = str(port)
    if "-" in text:
        low, _, high = text.partition("-")
        try:
            return int(low) <= 22 <= int(high)
        except ValueError:
            return False
    return text.strip() == "22"


def ssh_open_to_world(rules: Iterable[Mapping[str, Any]] | None) -> bool:
    for rule in rules or []:
        if (rule.get("direction") == "in" and rule.get("protocol") == "tcp"
                and _covers_ssh(rule.get("port"))
                and WORLD & set(rule.get("source_ips") or [])):
            return True
    return False


def review_warnings(show_json: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for rc in show_json.get("resource_changes") or []:
        if rc.get("mode", "managed") != "managed":
            continue
        address = rc.get("address", "?")
        change = rc.get("change") or {}
        after = change.get("after") or {}
        # Whether the rule is new or already there: the plan leaves it open.
        if rc.get("type") == "hcloud_firewall" and change.get("after") is not None:
            if ssh_open_to_world(after.get("rule")):
                found.append(f"{address} lets SSH (port 22) in from the whole Internet")
    return found

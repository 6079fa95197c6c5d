"""A switch from one server to 3-tier, in stages a rerun resumes.

The one server becomes the db server (the `moved` blocks in main_3tier.tf.j2:
same id, same volume, same attachment) while it still runs the old app and DNS
still points at it. So the switch goes:

1. `serving`: the infra phase applies the 3-tier stack with
   TF_VAR_db_serves_web=true (an extra firewall keeps the old app's 80/443 open),
   the app phase gives the db server its data services published on the private
   IP *beside* the old app (Compose without --remove-orphans), then the app
   servers in rolling groups behind the load balancer; the DNS phase points the
   names at the load balancer.
2. `retiring`: once resolvers can no longer hold the old address (the names
   moved to the load balancer at least [dns] ttl ago; until then the switch
   says when, and a rerun finishes it), the old app's containers on the db server go (the db
   part of the Compose file with --remove-orphans: the data services are the
   same, so they are not restarted), and the infra phase runs again without the
   variable: the extra firewall goes.
3. done: the record is removed.

3-tier -> one server (pipeline/tier_down.py runs it) is the mirror, and uses the
same record with source "3-tier":

1. `serving`: the 3-tier stack again with TF_VAR_db_serves_web=true, the db
   server runs the whole app (the transitional Compose file: its databases stay
   as they are, still published for the app servers), answers its health path
   on its public address, and the names move to it; dns_at is recorded.
2. `detaching`: [dns] ttl after that, the 3-tier stack once more with
   TF_VAR_db_private_network=false too: the db server leaves the private network
   on its own (in the single stack's apply Terraform deletes the subnet before
   it updates the server, and the API refuses that while the server is attached).
3. `single`: the single-server stack (the `moved` blocks db -> main: same id,
   same volume, same attachment; rescaled in place if the type differs), the app
   without the private publication, and the record removed.

The record is a small JSON file in the work directory (0600); whatever stops a
switch (a refusal, SIGINT, kill -9), `switch` or `deploy` reads it and goes on
from its stage. Terraform gets the variable from the environment, as it gets the
host keys, so the committed stack never changes between stages; a `plan` during
a switch shows the same as the switch's own.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

FILE = Path(".work") / "tier-switch.json"
DB_SERVES_WEB = "TF_VAR_db_serves_web"
DB_PRIVATE_NETWORK = "TF_VAR_db_private_network"
STAGES = ("serving", "retiring", "detaching", "single")
THREE_TIER = "3-tier"


@dataclass(frozen=True)
class Record:
    source: str          # the profile switched from (ccx33, ccx43; 3-tier on the way down)
    target: str          # 3-tier (ccx33, ccx43 on the way down)
    stage: str           # up: serving | retiring; down: serving | detaching | single
    dns_at: str | None = None   # when the names were first seen at their new address (UTC)

    @property
    def down(self) -> bool:
        return self.source == THREE_TIER


def _path(workdir: Path) -> Path:
    return Path(workdir) / FILE


def load(workdir: Path) -> Record | None:
    try:
        doc = json.loads(_path(workdir).read_text())
        record = Record(str(doc["source"]), str(doc["target"]), str(doc["stage"]),
                        doc.get("dns_at"))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        from errors import ConfigError
        raise ConfigError(f"{_path(workdir)} is not a switch record: remove it only if no "
                         "switch to 3-tier is under way") from None
    return record if record.stage in STAGES else None


def save(workdir: Path, record: Record) -> None:
    path = _path(workdir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(asdict(record), fh, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def clear(workdir: Path) -> None:
    _path(workdir).unlink(missing_ok=True)


def begin(workdir: Path, source: str, target: str) -> Record | None:
    """The record of a switch one server <-> 3-tier (kept if one is already under way)."""
    from pipeline.switch import SINGLE_SERVER
    up = source in SINGLE_SERVER and target == THREE_TIER
    down = source == THREE_TIER and target in SINGLE_SERVER
    if not (up or down):
        return load(workdir)
    record = load(workdir) or Record(source, target, "serving")
    save(workdir, record)
    return record


def terraform_vars(workdir: Path) -> dict[str, str]:
    """What the switch's stage adds to terraform's environment."""
    record = load(workdir)
    if record is None:
        return {}
    if record.stage == "serving":
        return {DB_SERVES_WEB: "true"}
    if record.stage == "detaching":
        return {DB_SERVES_WEB: "true", DB_PRIVATE_NETWORK: "false"}
    return {}


def keeps_old_app(workdir: Path) -> bool:
    record = load(workdir)
    return bool(record and record.stage == "serving")


def carry_host_key(env_name: str, server: str) -> bool:
    """The server keeps its SSH host key when it is renamed `<server>-db` (its user data,
    which holds the key, is never applied again): its pinned key moves with the name."""
    from remote import hostkeys
    old = hostkeys.load(env_name, server)
    if old is None:
        return False
    hostkeys.pin(env_name, f"{server}-db", old.private_openssh, old.public)
    return True


def carry_host_key_back(env_name: str, server: str) -> bool:
    """The way down: `<server>-db` becomes `<server>` again, with the same host key."""
    from remote import hostkeys
    db = hostkeys.load(env_name, f"{server}-db")
    if db is None:
        return False
    hostkeys.pin(env_name, server, db.private_openssh, db.public)
    return True


def refresh_terraform_env(session) -> None:
    """After a stage change: the session's terraform sees the stage's variables only."""
    session.tf.env.pop(DB_SERVES_WEB, None)
    session.tf.env.pop(DB_PRIVATE_NETWORK, None)
    session.tf.env.update(terraform_vars(session.ws.workdir))


def retire_from(record: Record, ttl_s: int):
    """When the old app may stop: [dns] ttl after the names moved (None: not yet known)."""
    import datetime as dt
    if record.dns_at is None:
        return None
    return dt.datetime.fromisoformat(record.dns_at) + dt.timedelta(seconds=ttl_s)

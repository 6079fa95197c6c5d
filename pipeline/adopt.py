"""Adopt an orphan: a cloud resource this stack planned but its state does not know.

An interrupted apply, a hand-made resource with a planned name, or a lost
state leaves a resource in the project that the next apply tries to create
again (`uniqueness_error`). `terraform import` fixes that, but only in the
right work directory (the sandbox runs on a copy), with the target's
environment and the stack initialised. This does exactly that, through the
runner, holding the work-dir lock, with a state backup first.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from errors import ConfigError, RefusedError
from pipeline.stack import Session, ensure_init
from runner.state import backup_state, forget_plan, load_state
from runner.workspace import private_umask, sync_copy
from runner.worklock import workdir_lock

_RESOURCE = re.compile(r'^resource\s+"([A-Za-z0-9_]+)"\s+"([A-Za-z0-9_-]+)"', re.MULTILINE)
_ADDRESS = re.compile(r"[A-Za-z0-9_]+\.[A-Za-z0-9_-]+(\[[0-9]+\])?")


@dataclass(frozen=True)
class Orphan:
    address: str
    resource_id: int
    name: str
    family: str


@dataclass(frozen=True)
class Adopted:
    address: str
    resource_id: str
    backup: Path | None


def adopt_hint(env: str, address: str | None = None, resource_id: int | str | None = None) -> str:
    """The command to print wherever we tell a user to adopt something."""
    if address and resource_id is not None:
        return f"hetzner-deploy adopt --env {env} {address} {resource_id}"
    return f"hetzner-deploy adopt --env {env}"


def config_addresses(workdir: Path) -> dict[str, list[str]]:
    """Resource type -> addresses declared in the stack's .tf files."""
    found: dict[str, list[str]] = {}
    for path in sorted(workdir.glob("*.tf")):
        for rtype, name in _RESOURCE.findall(path.read_text(encoding="utf-8")):
            found.setdefault(rtype, []).append(f"{rtype}.{name}")
    return found


def find_orphans(s: Session, client, config, profile) -> tuple[Orphan, ...]:
    """Planned names held in the project by resources whose ids state does not list.

    The address is the stack's one resource of that type; with several (a
    3-tier stack's servers) the user names it: adopt ADDRESS ID.
    """
    from checks.inventory import STATE_TYPES, find_conflicts, read_inventory, state_ids
    from generator.naming import resource_names
    sync_copy(s.ws)
    state = load_state(s.ws, s.tf)
    conflicts = find_conflicts(read_inventory(client), resource_names(config, profile),
                               project=config.project, environment=config.environment,
                               owned_ids=state_ids(state))
    declared = config_addresses(s.ws.workdir)
    orphans = []
    for c in conflicts:
        types = [t for t, fam in STATE_TYPES.items() if fam == c.family]
        candidates = [a for t in types for a in declared.get(t, ())
                      if state.get(a) is None]
        if len(candidates) == 1:
            orphans.append(Orphan(candidates[0], c.resource_id, c.name, c.family))
    return tuple(orphans)


def adopt(s: Session, address: str, resource_id: str) -> Adopted:
    """Import one resource into this target's work directory and state."""
    if not _ADDRESS.fullmatch(address):
        raise ConfigError(f"address {address!r}: expected TYPE.NAME, e.g. hcloud_firewall.main")
    if not re.fullmatch(r"[0-9]{1,19}", str(resource_id)):
        raise ConfigError(f"id {resource_id!r}: a Hetzner resource id is a number")
    with workdir_lock(s.ws.workdir, "adopt"), private_umask():
        sync_copy(s.ws)
        rtype = address.split(".", 1)[0]
        declared = config_addresses(s.ws.workdir).get(rtype, [])
        if address.split("[", 1)[0] not in declared:
            known = ", ".join(a for v in config_addresses(s.ws.workdir).values() for a in v)
            raise ConfigError(f"{address} is not in the {s.ws.env_name} stack "
                              f"(it declares: {known or 'nothing'})")
        if load_state(s.ws, s.tf).get(address) is not None:
            raise RefusedError(f"{address} is already in the state of {s.ws.env_name}; "
                               f"nothing to adopt")
        ensure_init(s)
        backup = backup_state(s.ws, s.tf)
        from pipeline.stack import redacted_errors
        with redacted_errors(s):
            s.tf.import_resource(address, str(resource_id))
        forget_plan(s.ws)   # made against the old state: stale now
    return Adopted(address, str(resource_id), backup)

"""Post-deploy checklist: does Hetzner hold what Terraform says it built?

Input is the stack's outputs (a StackOutputs object or a plain mapping of
output name -> value). Every item is asked of the API, never inferred from
the outputs alone. Items of later phases (SSH, containers, DNS, HTTPS) are
reported as not checked: verify --after never claims them.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from hcloud import APIException, Client

from checks.base import FAIL, NOT_CHECKED, OK, Check
from runner.tfstate import TfState, parse_state

SECTION = "after"
LATER_PHASES = (
    ("Server reachable over SSH", "app phase"),
    ("Containers healthy", "app phase"),
    ("DNS points at the server", "DNS phase"),
    ("HTTPS certificate valid", "TLS phase"),
)


def _output(outputs: Any, key: str) -> Any:
    if isinstance(outputs, Mapping):
        value = outputs.get(key)
    else:
        value = getattr(outputs, key, None)
    if isinstance(value, Mapping) and "value" in value:  # raw `terraform output -json`
        value = value["value"]
    return value


def _output_id(outputs: Any, key: str) -> int | None:
    value = _output(outputs, key)
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _fetch(getter: Callable[[int], Any], ident: int) -> Any | None:
    """The resource, or None when the API says it does not exist."""
    try:
        return getter(ident)
    except APIException as exc:
        if exc.code in (404, "not_found"):
            return None
        raise


def _automount(state: Mapping[str, Any] | TfState | None) -> bool | None:
    """automount of the volume attachment, from a typed, show -json or raw state."""
    if not state:
        return None
    typed = state if isinstance(state, TfState) else parse_state(state)
    for res in typed.of_type("hcloud_volume_attachment"):
        return bool(res.attributes.get("automount"))
    return None


def after_checks(client: Client, outputs: Any,
                 state_json: Mapping[str, Any] | TfState | None = None) -> tuple[Check, ...]:
    """Run inside hetzner_api.api_errors: API failures other than 404 propagate."""
    checks: list[Check] = []
    add = checks.append
    ids = {k: _output_id(outputs, k) for k in
           ("server_id", "volume_id", "firewall_id", "placement_group_id")}
    missing = [k for k, v in ids.items() if v is None]
    for key in missing:
        add(Check(SECTION, f"output {key}", FAIL, "missing from the stack outputs",
                  "run the deploy (terraform apply) for this environment first"))

    server = _fetch(client.servers.get_by_id, ids["server_id"]) if ids["server_id"] else None
    sid = ids["server_id"]
    if sid and server is None:
        add(Check(SECTION, "Server exists", FAIL, f"server {sid} not found in the project",
                  "re-run the deploy: the state no longer matches Hetzner"))
    if server is not None:
        running = server.status == "running"
        add(Check(SECTION, "Server running", OK if running else FAIL,
                  f"{server.name} ({sid}) is {server.status}",
                  None if running else f"start the server: hcloud server poweron {sid}"))
        backups = bool(server.backup_window)
        add(Check(SECTION, "Backups enabled", OK if backups else FAIL,
                  f"window {server.backup_window}" if backups else "backups are off",
                  None if backups else "set storage.backups = true in deploy.toml and deploy"))

    vid = ids["volume_id"]
    volume = _fetch(client.volumes.get_by_id, vid) if vid else None
    if vid and volume is None:
        add(Check(SECTION, "Volume exists", FAIL, f"volume {vid} not found"))
    if volume is not None:
        attached_to = volume.server.id if volume.server is not None else None
        ok = sid is not None and attached_to == sid
        add(Check(SECTION, "Volume attached to the server", OK if ok else FAIL,
                  f"{volume.name} attached to server {attached_to}" if attached_to
                  else f"{volume.name} is not attached",
                  None if ok else "re-run the deploy to attach the volume"))
        protected = bool((volume.protection or {}).get("delete"))
        add(Check(SECTION, "Volume delete-protected", OK if protected else FAIL,
                  "delete protection on" if protected else "delete protection off",
                  None if protected else
                  f"hcloud volume enable-protection {vid} delete (and fix the stack)"))
        mount = _automount(state_json)
        if mount is None:
            add(Check(SECTION, "Volume automount", NOT_CHECKED,
                      "the API does not report automount; read from state when available"))
        else:
            add(Check(SECTION, "Volume automount", OK if mount else FAIL,
                      "automount on (Terraform state)" if mount else "automount off in state",
                      None if mount else "set automount = true on hcloud_volume_attachment"))

    fid = ids["firewall_id"]
    firewall = _fetch(client.firewalls.get_by_id, fid) if fid else None
    if fid and firewall is None:
        add(Check(SECTION, "Firewall exists", FAIL, f"firewall {fid} not found"))
    if firewall is not None:
        servers = {r.server.id for r in firewall.applied_to or []
                   if r.type == "server" and r.server is not None}
        ok = sid in servers
        add(Check(SECTION, "Firewall applied to the server", OK if ok else FAIL,
                  f"{firewall.name} applied to {len(servers)} server(s)",
                  None if ok else "re-run the deploy to apply the firewall"))

    pid = ids["placement_group_id"]
    group = _fetch(client.placement_groups.get_by_id, pid) if pid else None
    if pid and group is None:
        add(Check(SECTION, "Placement group exists", FAIL, f"placement group {pid} not found"))
    if group is not None:
        ok = sid in (group.servers or [])
        add(Check(SECTION, "Placement group holds the server", OK if ok else FAIL,
                  f"{group.name} holds {len(group.servers or [])} server(s)",
                  None if ok else "re-run the deploy to place the server"))

    for name, phase in LATER_PHASES:
        add(Check(SECTION, name, NOT_CHECKED, f"not checked yet ({phase})"))
    return tuple(checks)

"""The infra phase's after-checks: does Hetzner hold what Terraform says it built?

Input is the stack's typed outputs (hosts by role). Every item is asked of
the API, never inferred from the outputs alone. The pipeline gathers these
with the other phases' checks for `verify --after`; phases not built yet
contribute "not checked" rows there, so nothing is ever claimed.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from hcloud import APIException, Client

from checks.base import FAIL, NOT_CHECKED, OK, Check
from runner.outputs import Host, StackOutputs
from runner.tfstate import TfState, parse_state

SECTION = "after"


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


def _missing(host: Host, field: str) -> Check:
    return Check(SECTION, f"output {field}", FAIL, f"missing for {host.name} in the stack outputs",
                 "run the deploy (terraform apply) for this environment first")


def _server_checks(client: Client, host: Host, backups_expected: bool) -> list[Check]:
    if host.id is None:
        return [_missing(host, "hosts[].id")]
    server = _fetch(client.servers.get_by_id, host.id)
    if server is None:
        return [Check(SECTION, "Server exists", FAIL, f"server {host.name} ({host.id}) not "
                      "found in the project", "re-run the deploy: the state no longer matches "
                      "Hetzner")]
    running = server.status == "running"
    out = [Check(SECTION, "Server running", OK if running else FAIL,
                 f"{server.name} ({host.id}) is {server.status}",
                 None if running else f"start the server: hcloud server poweron {host.id}")]
    if backups_expected:
        backups = bool(server.backup_window)
        out.append(Check(SECTION, "Backups enabled", OK if backups else FAIL,
                         f"{server.name}: window {server.backup_window}" if backups
                         else f"{server.name}: backups are off",
                         None if backups else
                         "set storage.backups = true in deploy.toml and deploy"))
    return out


def _volume_checks(client: Client, outputs: StackOutputs,
                   state_json: Mapping[str, Any] | None) -> list[Check]:
    vid = outputs.volume_id
    volume = _fetch(client.volumes.get_by_id, vid)
    if volume is None:
        return [Check(SECTION, "Volume exists", FAIL, f"volume {vid} not found")]
    carrier = outputs.volume_host
    attached_to = volume.server.id if volume.server is not None else None
    ok = carrier is not None and attached_to == carrier.id
    out = [Check(SECTION, "Volume attached to the server", OK if ok else FAIL,
                 f"{volume.name} attached to server {attached_to}" if attached_to
                 else f"{volume.name} is not attached",
                 None if ok else "re-run the deploy to attach the volume")]
    protected = bool((volume.protection or {}).get("delete"))
    out.append(Check(SECTION, "Volume delete-protected", OK if protected else FAIL,
                     "delete protection on" if protected else "delete protection off",
                     None if protected else
                     f"hcloud volume enable-protection {vid} delete (and fix the stack)"))
    mount = _automount(state_json)
    if mount is None:
        out.append(Check(SECTION, "Volume automount", NOT_CHECKED,
                         "the API does not report automount; read from state when available"))
    else:
        out.append(Check(SECTION, "Volume automount", OK if mount else FAIL,
                         "automount on (Terraform state)" if mount else "automount off in state",
                         None if mount else "set automount = true on hcloud_volume_attachment"))
    return out


def _firewall_checks(client: Client, host: Host) -> list[Check]:
    if host.firewall_id is None:
        return [_missing(host, "hosts[].firewall_id")]
    firewall = _fetch(client.firewalls.get_by_id, host.firewall_id)
    if firewall is None:
        return [Check(SECTION, "Firewall exists", FAIL, f"firewall {host.firewall_id} not found")]
    servers = {r.server.id for r in firewall.applied_to or []
               if r.type == "server" and r.server is not None}
    ok = host.id in servers
    return [Check(SECTION, "Firewall applied to the server", OK if ok else FAIL,
                  f"{firewall.name} applied to {len(servers)} server(s)",
                  None if ok else "re-run the deploy to apply the firewall")]


def _placement_checks(client: Client, host: Host) -> list[Check]:
    if host.placement_group_id is None:
        return [_missing(host, "hosts[].placement_group_id")]
    group = _fetch(client.placement_groups.get_by_id, host.placement_group_id)
    if group is None:
        return [Check(SECTION, "Placement group exists", FAIL,
                      f"placement group {host.placement_group_id} not found")]
    ok = host.id in (group.servers or [])
    return [Check(SECTION, "Placement group holds the server", OK if ok else FAIL,
                  f"{group.name} holds {len(group.servers or [])} server(s)",
                  None if ok else "re-run the deploy to place the server")]


def after_checks(client: Client, outputs: StackOutputs, state_json: Mapping[str, Any] | None = None,
                 *, backup_roles: frozenset[str] | None = None) -> tuple[Check, ...]:
    """The infrastructure's checks, host by host, then the data volume.

    backup_roles: the roles whose servers should have Hetzner backups (None: all).
    Run inside hetzner_api.api_errors: API failures other than 404 propagate.
    """
    checks: list[Check] = []
    for host in outputs.hosts:
        expected = backup_roles is None or host.role in backup_roles
        checks += _server_checks(client, host, expected)
    checks += _volume_checks(client, outputs, state_json)
    for host in outputs.hosts:
        checks += _firewall_checks(client, host)
        checks += _placement_checks(client, host)
    return tuple(checks)

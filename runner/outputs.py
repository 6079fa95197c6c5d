"""`terraform output -json` -> StackOutputs, the typed hand-off to later phases."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from errors import TerraformError

REQUIRED = ("server_id", "server_name", "server_ipv4", "server_ipv6", "volume_id",
            "volume_linux_device", "firewall_id", "placement_group_id", "ssh_key_id")
_IDS = ("server_id", "volume_id", "firewall_id", "placement_group_id", "ssh_key_id")


@dataclass(frozen=True)
class ServerOutput:
    name: str
    ipv4: str
    ipv6: str = ""
    id: int | None = None
    role: str = ""


@dataclass(frozen=True)
class StackOutputs:
    server_id: int
    server_name: str
    server_ipv4: str
    server_ipv6: str
    volume_id: int
    volume_linux_device: str
    firewall_id: int
    placement_group_id: int
    ssh_key_id: int
    servers: tuple[ServerOutput, ...] = ()
    load_balancer_ipv4: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "StackOutputs":
        """Inverse of as_dict (the deploy checkpoint keeps outputs this way)."""
        fields = dict(data)
        fields["servers"] = tuple(ServerOutput(**s) for s in fields.get("servers") or ())
        return cls(**fields)


def _int(name: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TerraformError(f"output {name} should be a numeric id, got {value!r}") from None


def _server(raw: Any) -> ServerOutput:
    if not isinstance(raw, dict) or "name" not in raw:
        raise TerraformError(f"output servers: each entry needs at least a name, got {raw!r}")
    sid = raw.get("id")
    return ServerOutput(name=str(raw["name"]), ipv4=str(raw.get("ipv4", "") or ""),
                        ipv6=str(raw.get("ipv6", "") or ""),
                        id=None if sid in (None, "") else _int("servers[].id", sid),
                        role=str(raw.get("role", "") or ""))


def parse_outputs(doc: dict) -> StackOutputs:
    """doc is `terraform output -json`: {name: {"value": ..., "sensitive": ..., "type": ...}}."""
    values = {name: entry.get("value") for name, entry in doc.items() if isinstance(entry, dict)}
    missing = [name for name in REQUIRED if values.get(name) in (None, "")]
    if missing:
        have = ", ".join(sorted(values)) or "none (has the stack been applied?)"
        raise TerraformError(f"stack outputs missing: {', '.join(missing)}; "
                             f"outputs present: {have}")
    fields: dict[str, Any] = {n: (_int(n, values[n]) if n in _IDS else str(values[n]))
                              for n in REQUIRED}
    servers = values.get("servers")
    if servers is not None:
        if not isinstance(servers, list):
            raise TerraformError("output servers should be a list of objects")
        fields["servers"] = tuple(_server(s) for s in servers)
    lb = values.get("load_balancer_ipv4")
    fields["load_balancer_ipv4"] = str(lb) if lb else None
    return StackOutputs(**fields)

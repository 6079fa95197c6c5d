"""`terraform output -json` -> StackOutputs, the typed hand-off to later phases.

Every generated stack has a `hosts` output: one object per server with its
role, addresses, private IP and the data volume's device when it carries it.
Later phases (app, DNS, TLS, verify --after) iterate over hosts by role and
never assume there is one server.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from errors import TerraformError

REQUIRED = ("hosts", "volume_id", "ssh_key_id")


@dataclass(frozen=True)
class Host:
    name: str
    role: str
    ipv4: str
    ipv6: str = ""
    private_ip: str = ""
    volume_device: str = ""       # set on the host that carries the data volume
    id: int | None = None
    firewall_id: int | None = None
    placement_group_id: int | None = None


@dataclass(frozen=True)
class StackOutputs:
    hosts: tuple[Host, ...]
    volume_id: int
    ssh_key_id: int
    load_balancer_ipv4: str | None = None
    load_balancer_ipv6: str | None = None

    def by_role(self, role: str) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if h.role == role)

    @property
    def volume_host(self) -> Host | None:
        return next((h for h in self.hosts if h.volume_device), None)

    @property
    def public_ipv4(self) -> str:
        """Where DNS points: the load balancer when there is one, else the only host."""
        return self.load_balancer_ipv4 or self.hosts[0].ipv4

    def describe(self) -> str:
        names = ", ".join(f"{h.name} {h.ipv4 or h.private_ip}" for h in self.hosts)
        lb = f"; load balancer {self.load_balancer_ipv4}" if self.load_balancer_ipv4 else ""
        return names + lb

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "StackOutputs":
        """Inverse of as_dict (the deploy checkpoint keeps outputs this way)."""
        fields = dict(data)
        fields["hosts"] = tuple(Host(**h) for h in fields.get("hosts") or ())
        return cls(**fields)


def _int(name: str, value: Any, *, optional: bool = False) -> int | None:
    if optional and value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TerraformError(f"output {name} should be a numeric id, got {value!r}") from None


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _host(raw: Any) -> Host:
    if not isinstance(raw, dict) or not raw.get("name") or not raw.get("role"):
        raise TerraformError(f"output hosts: each entry needs a name and a role, got {raw!r}")
    return Host(name=str(raw["name"]), role=str(raw["role"]), ipv4=_str(raw.get("ipv4")),
                ipv6=_str(raw.get("ipv6")), private_ip=_str(raw.get("private_ip")),
                volume_device=_str(raw.get("volume_device")),
                id=_int("hosts[].id", raw.get("id"), optional=True),
                firewall_id=_int("hosts[].firewall_id", raw.get("firewall_id"), optional=True),
                placement_group_id=_int("hosts[].placement_group_id",
                                        raw.get("placement_group_id"), optional=True))


def parse_outputs(doc: dict) -> StackOutputs:
    """doc is `terraform output -json`: {name: {"value": ..., "sensitive": ..., "type": ...}}."""
    values = {name: entry.get("value") for name, entry in doc.items() if isinstance(entry, dict)}
    missing = [name for name in REQUIRED if values.get(name) in (None, "", [])]
    if missing:
        have = ", ".join(sorted(values)) or "none (has the stack been applied?)"
        raise TerraformError(f"stack outputs missing: {', '.join(missing)}; "
                             f"outputs present: {have}")
    hosts = values["hosts"]
    if not isinstance(hosts, list):
        raise TerraformError("output hosts should be a list of objects")
    return StackOutputs(
        hosts=tuple(_host(h) for h in hosts),
        volume_id=_int("volume_id", values["volume_id"]),
        ssh_key_id=_int("ssh_key_id", values["ssh_key_id"]),
        load_balancer_ipv4=_str(values.get("load_balancer_ipv4")) or None,
        load_balancer_ipv6=_str(values.get("load_balancer_ipv6")) or None)

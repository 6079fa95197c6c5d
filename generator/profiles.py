"""The profile catalogue, as data: a profile is a set of roles.

A role says what one kind of machine is for and what it needs: its server
type (or load balancer type), how many, whether it carries the data volume,
whether its servers get Hetzner backups, and what its firewall opens to the
world. Naming, pricing, preflight and `verify --after` iterate over roles, so
a new profile is a new entry here, not a new branch elsewhere.

Server types are Hetzner's dedicated-vCPU CCX line, because a voice pipeline
is latency-sensitive and shared vCPUs jitter.
"""
from __future__ import annotations

from dataclasses import dataclass

from errors import ConfigError


@dataclass(frozen=True)
class Role:
    name: str                     # all-in-one | lb | app | db
    label: str                    # how a person calls it ("database server")
    count: int = 1
    server_type: str | None = None          # None for a load balancer
    load_balancer_type: str | None = None
    name_part: str = ""           # inserted into resource names: <project>-<env>[-part][-i]
    numbered: bool = False        # app-1, app-2…: adding one never renames the others
    volume: bool = False          # carries the data volume (PostgreSQL, Redis)
    backups: bool = True          # Hetzner backups, when [storage] backups is on
    public_ports: tuple[int, ...] = ()      # open to the world (SSH follows ssh.allow)

    @property
    def is_server(self) -> bool:
        return self.server_type is not None

    def hostnames(self, base: str, count: int | None = None) -> tuple[str, ...]:
        """count: how many to name (default the role's; length checks ask for more)."""
        stem = "-".join(p for p in (base, self.name_part) if p)
        if self.numbered:
            return tuple(f"{stem}-{i + 1}" for i in range(count or self.count))
        return (stem,)

    def __post_init__(self) -> None:
        if self.count > 1 and not self.numbered:
            raise ValueError(f"role {self.name}: {self.count} machines need numbered names")


@dataclass(frozen=True)
class Profile:
    name: str
    summary: str
    roles: tuple[Role, ...]
    private_network: bool = False

    def role(self, name: str) -> Role | None:
        return next((r for r in self.roles if r.name == name), None)

    @property
    def server_roles(self) -> tuple[Role, ...]:
        return tuple(r for r in self.roles if r.is_server)

    @property
    def server_count(self) -> int:
        return sum(r.count for r in self.server_roles)

    @property
    def server_types(self) -> tuple[str, ...]:
        """Every server type the profile rents, in role order, without repeats."""
        return tuple(dict.fromkeys(r.server_type for r in self.server_roles))

    @property
    def load_balancer_types(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.load_balancer_type for r in self.roles
                                   if r.load_balancer_type))

    @property
    def server_type(self) -> str:
        """The first server role's type: the only one in a single-host profile.

        The single-host templates render it as `server_type`; the 3-tier
        templates iterate over roles instead.
        """
        return self.server_roles[0].server_type


WEB = (80, 443)


def _all_in_one(server_type: str) -> tuple[Role, ...]:
    return (Role("all-in-one", "server", server_type=server_type, volume=True,
                 public_ports=WEB),)


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("ccx33", "1 server, 8 dedicated vCPU: up to 5K calls a month",
                roles=_all_in_one("ccx33")),
        Profile("ccx43", "1 server, 16 dedicated vCPU: 5K to 20K calls a month",
                roles=_all_in_one("ccx43")),
        Profile("3-tier", "load balancer + 2 app servers + DB server on a private network",
                roles=(
                    Role("lb", "load balancer", load_balancer_type="lb11", name_part="lb",
                         backups=False, public_ports=WEB),
                    # Web ports come from the load balancer over the private network.
                    Role("app", "app server", count=2, server_type="ccx23", name_part="app",
                         numbered=True, backups=False),
                    Role("db", "database server", server_type="ccx33", name_part="db",
                         volume=True),
                ),
                private_network=True),
    )
}
PROFILE_NAMES: tuple[str, ...] = tuple(PROFILES)


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(
            f"unknown profile {name!r}: choose one of {', '.join(PROFILE_NAMES)}") from None

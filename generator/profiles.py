"""The profile catalogue, as data.

A profile says what to rent; everything else (project, location, volume)
comes from deploy.toml. Server types are Hetzner's dedicated-vCPU CCX line,
because a voice pipeline is latency-sensitive and shared vCPUs jitter.
"""
from __future__ import annotations

from dataclasses import dataclass

from errors import ConfigError


@dataclass(frozen=True)
class Profile:
    name: str
    summary: str
    server_type: str              # the app server (or the only server)
    app_server_count: int = 1
    db_server_type: str | None = None
    load_balancer_type: str | None = None

    @property
    def single_server(self) -> bool:
        return self.db_server_type is None and self.load_balancer_type is None

    @property
    def server_types(self) -> tuple[str, ...]:
        """Every server type the profile rents, app first, without repeats."""
        types = [self.server_type]
        if self.db_server_type and self.db_server_type not in types:
            types.append(self.db_server_type)
        return tuple(types)


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("ccx33", "1 server, 8 dedicated vCPU: up to 5K calls a month",
                server_type="ccx33"),
        Profile("ccx43", "1 server, 16 dedicated vCPU: 5K to 20K calls a month",
                server_type="ccx43"),
        Profile("3-tier", "load balancer + 2 app servers + DB server on a private network",
                server_type="ccx23", app_server_count=2, db_server_type="ccx33",
                load_balancer_type="lb11"),
    )
}
PROFILE_NAMES: tuple[str, ...] = tuple(PROFILES)


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(
            f"unknown profile {name!r}: choose one of {', '.join(PROFILE_NAMES)}") from None

"""[tier] in deploy.toml: how the 3-tier profile is sized and health-checked.

The number of app servers follows the call volume: calls_per_month divided by
calls_per_app_server, rounded up, never fewer than MIN_APP_SERVERS (two, so
the load balancer always has a second target while one is being replaced).
`app_servers` pins the number instead. The single-server profiles ignore
this section. Its schema is config_file.TierSection (this module imports no pydantic).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from generator.profiles import Profile

MIN_APP_SERVERS = 2
MAX_APP_SERVERS = 50
# About what one ccx23 serves next to a shared database (the plan's 3-tier sizing).
CALLS_PER_APP_SERVER = 10_000

# Hetzner network zone of each location: a private network's subnet must be in
# the zone of the servers it connects.
NETWORK_ZONES = {"nbg1": "eu-central", "fsn1": "eu-central", "hel1": "eu-central",
                 "ash": "us-east", "hil": "us-west", "sin": "ap-southeast"}


@dataclass(frozen=True)
class TierConfig:
    calls_per_app_server: int = CALLS_PER_APP_SERVER
    app_servers: int | None = None
    health_path: str = "/health"

    def app_count(self, calls_per_month: int) -> int:
        if self.app_servers is not None:
            return self.app_servers
        needed = math.ceil(max(calls_per_month, 0) / self.calls_per_app_server)
        return min(max(MIN_APP_SERVERS, needed), MAX_APP_SERVERS)


def sized(profile: "Profile", tier: TierConfig, calls_per_month: int) -> "Profile":
    """`profile` with its numbered app role sized for the call volume."""
    roles = tuple(dataclasses.replace(r, count=tier.app_count(calls_per_month))
                  if r.numbered and r.name == "app" else r for r in profile.roles)
    return dataclasses.replace(profile, roles=roles)

"""[tier] in deploy.toml: how the 3-tier profile is sized and health-checked.

The number of app servers follows the call volume: calls_per_month divided by
calls_per_app_server, rounded up, never fewer than MIN_APP_SERVERS (two, so
the load balancer always has a second target while one is being replaced).
`app_servers` pins the number instead. The single-server profiles ignore
this section.

The app phase on 3-tier (app/tiers.py) reads the rest: `db_services` are the
Compose services that run on the db server, each published on the db server's
private IP at its container port; `db_host_env` are the .env keys the app
servers get set to that IP; `rolling_group` is how many app servers a rolling
release updates at once. Its schema is config_file.TierSection (this module imports no pydantic).
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


# The example app's data services and the container port each listens on.
DB_SERVICES: tuple[tuple[str, int], ...] = (("postgres", 5432), ("redis", 6379))
DB_HOST_ENV: tuple[str, ...] = ("POSTGRES_HOST", "REDIS_HOST")


@dataclass(frozen=True)
class TierConfig:
    calls_per_app_server: int = CALLS_PER_APP_SERVER
    app_servers: int | None = None
    health_path: str = "/health"
    # (Compose service, container port), in the order written; a tuple so the config
    # stays hashable and picklable by config_cache.
    db_services: tuple[tuple[str, int], ...] = DB_SERVICES
    db_host_env: tuple[str, ...] = DB_HOST_ENV
    rolling_group: int = 1

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

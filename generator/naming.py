"""The Hetzner names a stack creates, one place for templates and checks.

Names carry the environment so that two environments of one project can
share a Hetzner project without colliding. Each role adds its own part
(`-app-1`, `-db`, `-lb`); the all-in-one role adds none, so a single-server
stack keeps the plan's names (`autoscale-ai-production`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from generator.profiles import PROFILES, Profile

if TYPE_CHECKING:   # config asks naming for the longest name: no import cycle at run time
    from generator.config import DeployConfig

# Numbered roles grow with traffic: length checks keep room for this many.
NUMBERED_RESERVE = 10
# Hetzner's cap on servers in one spread placement group: a numbered role gets
# one group per this many servers (<role>-pg-1, -pg-2...), as main_3tier.tf.j2.
SPREAD_GROUP_MAX = 10

FAMILIES = ("servers", "volumes", "firewalls", "ssh_keys", "networks",
            "placement_groups", "load_balancers", "floating_ips", "certificates")


def base_name(config: "DeployConfig") -> str:
    return f"{config.project}-{config.environment}"


def _join(*parts: str) -> str:
    return "-".join(p for p in parts if p)


def _sized(config: "DeployConfig", profile: Profile) -> Profile:
    # The app role's count follows [tier] and the call volume, as in the stack.
    from generator.config_tier import sized
    return sized(profile, config.tier, config.calls_per_month)


def resource_names(config: "DeployConfig", profile: Profile) -> dict[str, list[str]]:
    return names_for(base_name(config), _sized(config, profile))


def names_for(base: str, profile: Profile, *, reserve: bool = False) -> dict[str, list[str]]:
    names: dict[str, list[str]] = {family: [] for family in FAMILIES}
    names["ssh_keys"] = [f"{base}-key"]
    names["volumes"] = [f"{base}-data"]
    for role in profile.roles:
        if role.is_server:
            grow = max(role.count, NUMBERED_RESERVE) if reserve and role.numbered else None
            names["servers"] += role.hostnames(base, grow)
            names["firewalls"].append(_join(base, role.name_part, "firewall"))
            if role.numbered:
                count = grow or role.count
                groups = -(-count // SPREAD_GROUP_MAX)
                names["placement_groups"] += [_join(base, role.name_part, "pg", str(g + 1))
                                              for g in range(groups)]
            else:
                names["placement_groups"].append(_join(base, role.name_part, "pg"))
        else:
            names["load_balancers"].append(_join(base, role.name_part))
    if profile.private_network:
        names["networks"] = [f"{base}-net"]
    return names


def longest_name(project: str, environment: str) -> str:
    """The longest name any profile makes (numbered roles grown), for the 63-character check."""
    base = f"{project}-{environment}"
    return max((n for profile in PROFILES.values()
                for names in names_for(base, profile, reserve=True).values() for n in names),
               key=len)


def server_types_by_name(config: "DeployConfig", profile: Profile) -> dict[str, str]:
    """Every planned server name and the server type its role gives it."""
    base = base_name(config)
    return {host: role.server_type for role in _sized(config, profile).server_roles
            for host in role.hostnames(base)}

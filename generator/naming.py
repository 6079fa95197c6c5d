"""The Hetzner names a stack creates, one place for templates and checks.

Names carry the environment so that two environments of one project can
share a Hetzner project without colliding. Each role adds its own part
(`-app-1`, `-db`, `-lb`); the all-in-one role adds none, so a single-server
stack keeps the plan's names (`autoscale-ai-production`).
"""
from __future__ import annotations

from generator.config import DeployConfig
from generator.profiles import Profile

FAMILIES = ("servers", "volumes", "firewalls", "ssh_keys", "networks",
            "placement_groups", "load_balancers", "floating_ips", "certificates")


def base_name(config: DeployConfig) -> str:
    return f"{config.project}-{config.environment}"


def _join(*parts: str) -> str:
    return "-".join(p for p in parts if p)


def resource_names(config: DeployConfig, profile: Profile) -> dict[str, list[str]]:
    base = base_name(config)
    names: dict[str, list[str]] = {family: [] for family in FAMILIES}
    names["ssh_keys"] = [f"{base}-key"]
    names["volumes"] = [f"{base}-data"]
    for role in profile.roles:
        if role.is_server:
            names["servers"] += role.hostnames(base)
            names["firewalls"].append(_join(base, role.name_part, "firewall"))
            names["placement_groups"].append(_join(base, role.name_part, "pg"))
        else:
            names["load_balancers"].append(_join(base, role.name_part))
    if profile.private_network:
        names["networks"] = [f"{base}-net"]
    return names


def longest_server_name(config: DeployConfig, profile: Profile) -> str:
    """The longest hostname the profile creates (Hetzner's limit is a 63-character label)."""
    return max(resource_names(config, profile)["servers"], key=len)


def server_types_by_name(config: DeployConfig, profile: Profile) -> dict[str, str]:
    """Every planned server name and the server type its role gives it."""
    base = base_name(config)
    return {host: role.server_type for role in profile.server_roles
            for host in role.hostnames(base)}

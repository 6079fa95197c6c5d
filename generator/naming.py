"""The Hetzner names a stack creates, one place for templates and checks.

Names carry the environment so that two environments of one project can
share a Hetzner project without colliding.
"""
from __future__ import annotations

from generator.config import DeployConfig
from generator.profiles import Profile

FAMILIES = ("servers", "volumes", "firewalls", "ssh_keys", "networks",
            "placement_groups", "load_balancers", "floating_ips", "certificates")


def base_name(config: DeployConfig) -> str:
    return f"{config.project}-{config.environment}"


def resource_names(config: DeployConfig, profile: Profile) -> dict[str, list[str]]:
    base = base_name(config)
    names: dict[str, list[str]] = {family: [] for family in FAMILIES}
    names["ssh_keys"] = [f"{base}-key"]
    names["firewalls"] = [f"{base}-firewall"]
    names["placement_groups"] = [f"{base}-pg"]
    names["volumes"] = [f"{base}-data"]
    if profile.single_server:
        names["servers"] = [base]
    else:
        names["servers"] = [f"{base}-app-{i + 1}" for i in range(profile.app_server_count)]
        names["servers"].append(f"{base}-db")
        names["networks"] = [f"{base}-net"]
        names["load_balancers"] = [f"{base}-lb"]
    return names

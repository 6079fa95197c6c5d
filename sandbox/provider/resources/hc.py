"""The hcloud client's classes, imported on first use.

Importing `hcloud` (and requests/urllib3 under it) is the largest part of the
stand-in's start-up, and Terraform starts the plugin for commands that only
need schemas (`validate`, `show -json`, `providers schema`). Resource modules
write `hc.Server(...)`; the module holding the class is imported the first
time a class is asked for.
"""
from __future__ import annotations

import importlib

_HOME = {
    "Certificate": "hcloud.certificates",
    "Firewall": "hcloud.firewalls",
    "FirewallResource": "hcloud.firewalls",
    "FirewallRule": "hcloud.firewalls",
    "FirewallResourceLabelSelector": "hcloud.firewalls.domain",
    "Image": "hcloud.images",
    "LoadBalancerAlgorithm": "hcloud.load_balancers",
    "LoadBalancerHealthCheck": "hcloud.load_balancers",
    "LoadBalancerHealthCheckHttp": "hcloud.load_balancers",
    "LoadBalancerService": "hcloud.load_balancers",
    "LoadBalancerServiceHttp": "hcloud.load_balancers",
    "LoadBalancerTarget": "hcloud.load_balancers",
    "LoadBalancerTargetIP": "hcloud.load_balancers.domain",
    "LoadBalancerTargetLabelSelector": "hcloud.load_balancers.domain",
    "LoadBalancerType": "hcloud.load_balancer_types",
    "Location": "hcloud.locations",
    "Network": "hcloud.networks",
    "NetworkRoute": "hcloud.networks",
    "NetworkSubnet": "hcloud.networks",
    "PlacementGroup": "hcloud.placement_groups",
    "PrimaryIP": "hcloud.primary_ips",
    "Server": "hcloud.servers",
    "ServerCreatePublicNetwork": "hcloud.servers",
    "ServerType": "hcloud.server_types",
    "SSHKey": "hcloud.ssh_keys",
}


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(name)
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value  # the next lookup is a plain module attribute
    return value

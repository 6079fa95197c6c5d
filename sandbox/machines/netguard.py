"""Refuse a sandbox range that touches anything the host already uses.

The documentation ranges are live on these hosts (the host's own network and
the package registries' address sit in 192.0.2.0/24 and 203.0.113.0/24), so a
route for a range that covers them cuts the host off. Before anything is
routed, the range is compared with every route, every local address and every
/etc/hosts address; any overlap is one line and no change.
"""
from __future__ import annotations

import ipaddress
import json
from pathlib import Path

from errors import SandboxError
from runner.process import run

DEFAULT_RANGE = "198.51.100.0/24"
# Never ours, whatever the routes say: the host's network and the registries live there.
FORBIDDEN = ("192.0.2.0/24", "203.0.113.0/24")


def parse_range(text: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise SandboxError(f"machine address range {text!r} is not an IPv4 network") from None
    if net.version != 4 or net.num_addresses < 8:
        raise SandboxError(f"machine address range {text} must be IPv4 with at least 8 addresses")
    return net


def conflicts(net: ipaddress.IPv4Network, routes: list[dict], addrs: list[dict], hosts_text: str,
              own: set[str] = frozenset()) -> list[str]:
    """Reasons `net` cannot be used: `routes` and `addrs` are `ip -j route` and
    `ip -j addr` output, `hosts_text` the content of /etc/hosts. `own` names
    devices that are this sandbox's own (left by a crash, about to be swept)."""
    found = []
    for bad in FORBIDDEN:
        if net.overlaps(ipaddress.ip_network(bad)):
            found.append(f"it overlaps {bad}, which this host uses for its own network or the package registries")
    for route in routes:
        dst = route.get("dst")
        if not dst or dst == "default" or route.get("dev") in own:
            continue
        try:
            rnet = ipaddress.ip_network(dst, strict=False)
        except ValueError:
            continue
        if rnet.version == 4 and rnet.overlaps(net):
            found.append(f"route {dst} via {route.get('dev') or route.get('gateway') or route.get('type')} overlaps it")
    for link in addrs:
        if link.get("ifname") in own:
            continue
        for info in link.get("addr_info", []):
            if info.get("family") != "inet":
                continue
            anet = ipaddress.ip_network(f"{info['local']}/{info.get('prefixlen', 32)}", strict=False)
            if anet.overlaps(net):
                found.append(f"address {info['local']}/{info.get('prefixlen')} on {link.get('ifname')} overlaps it")
    for number, line in enumerate(hosts_text.splitlines(), 1):
        word = line.split("#", 1)[0].split()
        if not word:
            continue
        try:
            addr = ipaddress.ip_address(word[0])
        except ValueError:
            continue
        if addr.version == 4 and addr in net:
            found.append(f"/etc/hosts line {number} ({word[0]}) is inside it")
    return found


def host_conflicts(net: ipaddress.IPv4Network, own: set[str] = frozenset(),
                   hosts_file: str = "/etc/hosts") -> list[str]:
    """conflicts() against the live host."""
    routes = json.loads(run(["ip", "-j", "-4", "route", "show", "table", "all"]).stdout or "[]")
    addrs = json.loads(run(["ip", "-j", "addr"]).stdout or "[]")
    try:
        hosts_text = Path(hosts_file).read_text(errors="replace")
    except OSError:
        hosts_text = ""
    # The local table lists the host's own addresses again; the addr check names those better.
    routes = [r for r in routes if r.get("table") != "local"]
    return conflicts(net, routes, addrs, hosts_text, own)


def check(net: ipaddress.IPv4Network, own: set[str] = frozenset(), hosts_file: str = "/etc/hosts") -> None:
    """Raise SandboxError (one line) if the live host uses any part of `net`."""
    found = host_conflicts(net, own, hosts_file)
    if found:
        raise SandboxError(f"refusing to start sandbox machines on {net}: {found[0]}"
                           + (f" (and {len(found) - 1} more)" if len(found) > 1 else "")
                           + "; choose a free range with --machine-range")

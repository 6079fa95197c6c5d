"""The emulator's load balancers as LbSpecs: addresses, private legs and the
rendered haproxy.cfg, read under the store lock. A record whose values fail
the renderer's patterns is refused with its reason, never half-built."""
from __future__ import annotations

import ipaddress
import shutil
from pathlib import Path
from typing import Callable

from . import haproxy_cfg
from .lb import LbSpec, kill_recorded


def _targets(store, lb: dict, lb_nets: set[int], net, public: dict[int, str]) -> list[haproxy_cfg.Target]:
    """Backend servers; `public` collects the server targets reached on their
    public IPv4 inside the machine range (they need routes both ways)."""
    from sandbox.emulator.selectors import servers_matching
    found: dict[str, str] = {}
    for index, t in enumerate(lb["targets"]):
        if t["type"] == "ip":
            found[f"ip{index}"] = t["ip"]["ip"]
            continue
        ids = [t["server"]["id"]] if t["type"] == "server" else \
            servers_matching(store, t["label_selector"]["selector"])
        for sid in ids:
            server = store.find("servers", sid)
            if server is None:
                continue
            if t.get("use_private_ip"):
                ip = next((p["ip"] for p in server.get("private_net", []) if p["network"] in lb_nets), None)
            else:
                pip = store.find("primary_ips", server.get("ipv4")) if server.get("ipv4") else None
                ip = pip["ip"] if pip else None
                if ip is not None and f"s{sid}" not in found and _inside(ip, net):
                    public[sid] = ip
            if ip is not None:
                found.setdefault(f"s{sid}", ip)   # a server named twice is one backend server
    return [haproxy_cfg.Target(name, ip) for name, ip in found.items()]


def _inside(ip: str, net) -> bool:
    try:
        return ipaddress.ip_address(ip) in net and ip != str(net.network_address + 1)
    except ValueError:
        return False


def snapshot(store, net: ipaddress.IPv4Network, lb_dir: Callable[[int], Path],
             private_ok: Callable[[str], bool]) -> tuple[dict[int, LbSpec], dict[int, str]]:
    specs, refused = {}, {}
    with store.lock:
        for lb in store.all("load_balancers"):
            lid, ip = lb["id"], lb["public_net"]["ipv4"]["ip"]
            if not ip:
                continue
            try:
                if ipaddress.ip_address(ip) not in net:
                    refused[lid] = f"{ip} is outside {net} (never routed)"
                    continue
            except ValueError:
                refused[lid] = "its public address is not an IP address"
                continue
            private = {}
            for p in lb["private_net"]:
                network = store.find("networks", p["network"])
                if network is not None and private_ok(network["ip_range"]):
                    private[p["network"]] = (network["ip_range"], (p["ip"],))
            # A disabled public interface keeps the namespace but listens only privately.
            binds = ([ip] if lb["public_net"].get("enabled", True) else []) + [v[1][0] for v in private.values()]
            public: dict[int, str] = {}
            try:
                config = haproxy_cfg.render(lb, binds, _targets(store, lb, set(private), net, public),
                                            lb_dir(lid) / "stats.sock")
            except haproxy_cfg.ConfigRefused as exc:
                refused[lid] = str(exc)
                continue
            specs[lid] = LbSpec(lid, ip, private, config, public)
    return specs, refused


def forget(folder: Path, keep: set[int]) -> None:
    """A deleted load balancer's directory (config, log, socket) goes with it."""
    for entry in folder.iterdir() if folder.is_dir() else []:
        if entry.name.isdigit() and int(entry.name) not in keep:
            kill_recorded(entry)
            shutil.rmtree(entry, ignore_errors=True)

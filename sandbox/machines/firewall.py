"""A server's firewalls as an nftables ruleset inside its namespace.

Hetzner's firewall sits in front of the server, so it also covers ports that
Docker publishes (which skip a host firewall's INPUT chain). The chain hooks
prerouting at priority -150: after connection tracking, before Docker's DNAT.
Semantics as documented by Hetzner: no firewall applied -> all inbound
allowed; a firewall applied -> only what its inbound rules allow (several
firewalls: the union). Outbound rules are not enforced: a machine can reach
nothing but the host anyway.
"""
from __future__ import annotations

import ipaddress

TABLE = "hcloud_firewall"
UPLINK = "eth0"


def inbound_rules(firewalls: list[dict]) -> list[dict]:
    return [r for fw in firewalls for r in fw.get("rules", []) if r.get("direction") == "in"]


def _sources(rule: dict) -> tuple[list[str], list[str]]:
    v4, v6 = [], []
    for cidr in rule.get("source_ips") or []:
        net = ipaddress.ip_network(cidr, strict=False)
        (v4 if net.version == 4 else v6).append(str(net))
    return v4, v6


def _match(rule: dict) -> str | None:
    proto = rule["protocol"]
    if proto in ("tcp", "udp"):
        port = rule.get("port") or "any"
        return f"meta l4proto {proto}" if port == "any" else f"{proto} dport {port}"
    if proto == "icmp":
        return "meta l4proto { icmp, ipv6-icmp }"
    if proto in ("esp", "gre"):
        return f"meta l4proto {proto}"
    return None


def ruleset(firewalls: list[dict] | None) -> str:
    """The nft script for these firewalls; `None` or [] means no firewall
    applied and yields a script that only removes ours."""
    lines = [f"table inet {TABLE} {{}}", f"delete table inet {TABLE}"]
    if not firewalls:
        return "\n".join(lines) + "\n"
    lines += [f"table inet {TABLE} {{", "  chain inbound {",
              "    type filter hook prerouting priority -150; policy accept;",
              f'    iifname != "{UPLINK}" accept',
              "    ct state established,related accept"]
    for rule in inbound_rules(firewalls):
        match = _match(rule)
        if match is None:
            continue
        v4, v6 = _sources(rule)
        for family, nets in (("ip", v4), ("ip6", v6)):
            if not nets:
                continue
            anywhere = nets in (["0.0.0.0/0"], ["::/0"])
            src = "" if anywhere else f"{family} saddr {{ {', '.join(nets)} }} "
            fam = f"meta nfproto {'ipv4' if family == 'ip' else 'ipv6'} "
            lines.append(f"    {fam}{src}{match} accept")
    lines += [f'    iifname "{UPLINK}" drop', "  }", "}"]
    return "\n".join(lines) + "\n"

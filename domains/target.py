"""Which records a deploy wants, from the config and the stack's outputs.

Its own module, light on imports (no HTTP client, no DNS library), because
the dns phase's checkpoint key needs it on every run, a no-op included.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from domains.records import HostRecord
from domains.zone_ops import desired_records
from errors import ConfigError


@dataclass(frozen=True)
class DnsTarget:
    zone: str
    records: tuple[HostRecord, ...]


def dns_target(config, outputs) -> DnsTarget:
    """A (and AAAA) for each managed name, at the load balancer or the only host."""
    dns = config.dns
    if dns.provider not in ("namecheap", "hetzner"):
        raise ConfigError(f"dns.provider {dns.provider!r}: namecheap or hetzner")
    try:
        names = dns.record_names(config.domain)
    except ValueError as exc:
        raise ConfigError(f"dns.zone: {exc}") from None
    ipv6 = (outputs.load_balancer_ipv6 or outputs.hosts[0].ipv6) if dns.ipv6 else None
    if ipv6 and "/" in ipv6:                 # a network (/64): its first address answers
        ipv6 = str(ipaddress.ip_network(ipv6, strict=False)[1])
    return DnsTarget(dns.zone_for(config.domain),
                     desired_records(dns.zone_for(config.domain), names, outputs.public_ipv4,
                                     ipv6 or None, dns.ttl))

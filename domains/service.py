"""DNS for one deploy: which records, in which zone, from the config and the stack's outputs.

The CLI's `dns` commands and the pipeline's dns phase both come through
here, so both plan, back up, write and verify the same way.
"""
from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from domains.namecheap import Credentials, NamecheapClient
from domains.propagation import Nameserver
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
    if dns.provider != "namecheap":
        raise ConfigError(f"dns.provider {dns.provider!r}: only namecheap is built so far "
                          "(Hetzner DNS through Terraform comes with its issue)")
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


def client_for(config, environ: Mapping[str, str] | None = None) -> NamecheapClient:
    env = os.environ if environ is None else environ
    return NamecheapClient(Credentials.from_env(env, endpoint=config.dns.endpoint))


def servers(entries) -> list[Nameserver]:
    """host[:port] entries; names are looked up once here (dnspython queries addresses)."""
    out = []
    for entry in entries:
        host, _, port = entry.partition(":")
        try:
            address = socket.getaddrinfo(host, None, socket.AF_INET)[0][4][0]
        except OSError:
            raise ConfigError(f"dns: cannot look up the server {host}") from None
        out.append(Nameserver(address, int(port or 53)))
    return out


def backup_dir(workdir: Path) -> Path:
    return workdir / ".work" / "dns-backups"

"""[dns] in deploy.toml: which names point at the deploy, where, and how long they are cached.

Credentials never live here: Namecheap's come from NAMECHEAP_* variables only.
Names are relative to [project] domain ("@" is the domain itself, "api" is
api.<domain>); the registrar zone is the domain's last two labels unless
`zone` says otherwise (for a public suffix like co.uk). The schema that checks
these values is config_file.DnsSection; this module imports no pydantic.
"""
from __future__ import annotations

from dataclasses import dataclass

LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?"
# Addresses of nameservers and resolvers: IPv4 or a host name, with an optional port.
SERVER = (r"(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
          r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+)(?::[0-9]{1,5})?")
NAMECHEAP_NS = ("dns1.registrar-servers.com", "dns2.registrar-servers.com")
PUBLIC_RESOLVERS = ("1.1.1.1", "8.8.8.8", "9.9.9.9")


@dataclass(frozen=True)
class DnsConfig:
    provider: str = "namecheap"
    names: tuple[str, ...] = ("@", "api")
    ttl: int = 300
    ipv6: bool = True
    zone: str | None = None
    endpoint: str | None = None
    nameservers: tuple[str, ...] = NAMECHEAP_NS
    resolvers: tuple[str, ...] = PUBLIC_RESOLVERS
    propagation_timeout_s: int = 900

    def zone_for(self, domain: str) -> str:
        return self.zone or ".".join(domain.split(".")[-2:])

    def record_names(self, domain: str) -> tuple[str, ...]:
        """The managed names relative to the registrar zone (Namecheap's HostName)."""
        zone = self.zone_for(domain)
        if domain != zone and not domain.endswith("." + zone):
            raise ValueError(f"{domain} is not inside the zone {zone}")
        prefix = domain[: -len(zone)].rstrip(".")
        out = []
        for name in self.names:
            parts = [p for p in (("" if name == "@" else name), prefix) if p]
            out.append(".".join(parts) or "@")
        return tuple(out)

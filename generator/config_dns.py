"""[dns] in deploy.toml: which names point at the deploy, where, and how long they are cached.

Credentials never live here: Namecheap's come from NAMECHEAP_* variables only.
Names are relative to [project] domain ("@" is the domain itself, "api" is
api.<domain>); the registrar zone is the domain's last two labels unless
`zone` says otherwise (for a public suffix like co.uk).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from generator.inputs import bad, between, pattern, show

LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?"
# Addresses of nameservers and resolvers: IPv4 or a host name, with an optional port.
SERVER = (r"(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
          r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+)(?::[0-9]{1,5})?")
NAMECHEAP_NS = ("dns1.registrar-servers.com", "dns2.registrar-servers.com")
PUBLIC_RESOLVERS = ("1.1.1.1", "8.8.8.8", "9.9.9.9")


def _names(v) -> tuple[str, ...]:
    if not isinstance(v, list) or not v or len(v) > 20:
        raise bad('must be a list of 1 to 20 names like ["@", "api"]')
    import re
    for item in v:
        if not isinstance(item, str) or not (item == "@" or re.fullmatch(
                rf"{LABEL}(?:\.{LABEL})*", item)):
            raise bad(f'{show(item)} is not "@" or a name like api (lowercase, digits, - and _)')
    if len(set(v)) != len(v):
        raise bad("lists a name twice")
    return tuple(v)


def _servers(v) -> tuple[str, ...]:
    import re
    if not isinstance(v, list) or not v or len(v) > 10:
        raise bad("must be a list of 1 to 10 servers like 1.1.1.1 or ns1.example.net:53")
    for item in v:
        if not isinstance(item, str) or not re.fullmatch(SERVER, item):
            raise bad(f"{show(item)} is not an IPv4 address or host name, with an optional port")
    return tuple(v)


class DnsSection(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    provider: Literal["namecheap", "hetzner"] = "namecheap"
    names: Annotated[tuple[str, ...], BeforeValidator(_names)] = ("@", "api")
    # 300 s during a migration, as the team's plan says: a rollback is a DNS change.
    ttl: Annotated[int, between(60, 60000, "seconds")] = 300
    ipv6: bool = True
    zone: Annotated[str, pattern(rf"{LABEL}(?:\.{LABEL})+", "a registered domain like "
                                 "example.com")] = None          # type: ignore[assignment]
    endpoint: Annotated[str, pattern(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?/[A-Za-z0-9._/-]*",
                                     "a URL like https://api.namecheap.com/xml.response")] \
        = None                                                     # type: ignore[assignment]
    nameservers: Annotated[tuple[str, ...], BeforeValidator(_servers)] = NAMECHEAP_NS
    resolvers: Annotated[tuple[str, ...], BeforeValidator(_servers)] = PUBLIC_RESOLVERS
    propagation_timeout_s: Annotated[int, Field(ge=10, le=7200)] = 900


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

    @classmethod
    def from_section(cls, s: DnsSection) -> "DnsConfig":
        return cls(s.provider, s.names, s.ttl, s.ipv6, s.zone, s.endpoint, s.nameservers,
                   s.resolvers, s.propagation_timeout_s)

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

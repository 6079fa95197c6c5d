"""DNS for one deploy: which records, in which zone, from the config and the stack's outputs.

The CLI's `dns` commands and the pipeline's dns phase both come through
here, so both plan, back up, write and verify the same way.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from domains.namecheap import ENV_VARS, Credentials, NamecheapClient
from domains.propagation import Nameserver
from domains.target import DnsTarget, dns_target  # noqa: F401 - re-exported
from errors import ConfigError
from generator.config_dns import NAMECHEAP_NS


def client_for(config, environ: Mapping[str, str] | None = None) -> NamecheapClient:
    env = os.environ if environ is None else environ
    return NamecheapClient(Credentials.from_env(env, endpoint=config.dns.endpoint))


@dataclass(frozen=True)
class DnsAccess:
    """Where the records are written and which servers are asked about them."""
    client: NamecheapClient
    nameservers: tuple[Nameserver, ...]
    resolvers: tuple[Nameserver, ...]
    sandbox: bool = False


def _registrar(target) -> tuple[str, str]:
    if not target.registrar:
        raise ConfigError(f"the sandbox's registrar is not running (start it with "
                          f"`hetzner-deploy sandbox up`; an older sandbox: `sandbox down` "
                          f"first), and Namecheap needs {', '.join(ENV_VARS)} for a real zone")
    return target.registrar


# Hetzner DNS's authoritative servers (OpenAPI: zone.authoritative_nameservers.assigned).
HETZNER_NS = ("hydrogen.ns.hetzner.com", "oxygen.ns.hetzner.com", "helium.ns.hetzner.de")


def nameservers_for(config, target) -> tuple[Nameserver, ...]:
    """The zone's authoritative servers: the sandbox's DNS server (it serves the
    Namecheap emulator's and the Hetzner emulator's zones), or [dns] nameservers,
    whose Namecheap default becomes Hetzner's three with provider = "hetzner"."""
    if target is not None and target.is_sandbox:
        return tuple(servers([_registrar(target)[1]]))
    configured = config.dns.nameservers
    if config.dns.provider == "hetzner" and tuple(configured) == NAMECHEAP_NS:
        configured = HETZNER_NS
    return tuple(servers(configured))


def resolvers_for(config, target) -> tuple[Nameserver, ...]:
    """The recursive path checked after the authoritative one (the sandbox has only its own server)."""
    if target is not None and target.is_sandbox:
        return nameservers_for(config, target)
    return tuple(servers(config.dns.resolvers))


def access_for(config, target, environ: Mapping[str, str] | None = None) -> DnsAccess | None:
    """The sandbox's registrar (its account owns the deploy's domain), or Namecheap with the
    environment's credentials; None on a real target without any NAMECHEAP_* variable."""
    env = os.environ if environ is None else environ
    if target is not None and target.is_sandbox:
        from sandbox.registrar import ACCOUNT, CLIENT_IP, ensure_zone
        endpoint, dns_server = _registrar(target)
        ensure_zone(endpoint, dns_target_zone(config))
        # The sandbox's Namecheap API key is its token (sandbox/registrar.py).
        creds = Credentials(ACCOUNT, target.token, ACCOUNT, CLIENT_IP, endpoint)
        dns = tuple(servers([dns_server]))
        return DnsAccess(NamecheapClient(creds), dns, dns, sandbox=True)
    if not any(env.get(v, "").strip() for v in ENV_VARS):
        return None
    return DnsAccess(client_for(config, env), tuple(servers(config.dns.nameservers)),
                     tuple(servers(config.dns.resolvers)))


def dns_target_zone(config) -> str:
    return config.dns.zone_for(config.domain)


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

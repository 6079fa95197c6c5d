"""The sandbox's authoritative DNS: answers for the Namecheap emulator's zones, on loopback.

A real DNS server (dnslib's, speaking the wire protocol over UDP and TCP),
fed live by the emulator's state, so the propagation check queries DNS the
way it would query Namecheap's nameservers. `hold_back` keeps serving a
record's old answer, to test a propagation that does not converge.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from dnslib import AAAA, CAA, CNAME, MX, QTYPE, RCODE, RR, SOA, TXT, A, DNSLabel
from dnslib.server import BaseResolver, DNSServer

Zones = Callable[[], dict[str, dict]]     # domain -> {"hosts": [{name,type,address,ttl,mx_pref}]}


def _rdata(rtype: str, address: str, mx_pref: int):
    if rtype == "A":
        return A(address)
    if rtype == "AAAA":
        return AAAA(address)
    if rtype == "CNAME":
        return CNAME(address)
    if rtype == "MX":
        return MX(address, mx_pref)
    if rtype == "TXT":
        return TXT(address)
    if rtype == "CAA":
        flags, tag, value = (address.split(" ", 2) + ["", ""])[:3]
        return CAA(int(flags or 0), tag, value.strip('"'))
    return None        # URL redirects are Namecheap's web service, not DNS records


@dataclass
class ZoneResolver(BaseResolver):
    zones: Zones
    held: dict[tuple[str, str], str] = field(default_factory=dict)   # (fqdn, type) -> old

    def resolve(self, request, handler):
        reply = request.reply()
        qname = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        zones = self.zones()
        domain = next((d for d in zones if qname == d or qname.endswith("." + d)), None)
        if domain is None:
            reply.header.rcode = RCODE.REFUSED
            return reply
        reply.header.aa = 1
        label = "@" if qname == domain else qname[: -len(domain) - 1]
        found = False
        for host in zones[domain]["hosts"]:
            if host["name"].lower() != label:
                continue
            found = True
            if host["type"] != qtype:
                continue
            address = self.held.get((qname, qtype), host["address"])
            rdata = _rdata(host["type"], address, int(host.get("mx_pref", 10)))
            if rdata is not None:
                reply.add_answer(RR(request.q.qname, request.q.qtype, rdata=rdata,
                                    ttl=int(host.get("ttl", 1800))))
        if not found and not reply.rr:
            reply.header.rcode = RCODE.NXDOMAIN
        if not reply.rr:
            reply.add_auth(RR(DNSLabel(domain), QTYPE.SOA, ttl=60,
                              rdata=SOA(f"ns1.{domain}", f"hostmaster.{domain}",
                                        (1, 3600, 600, 86400, 60))))
        return reply


@dataclass
class RunningDns:
    udp: DNSServer
    tcp: DNSServer
    resolver: ZoneResolver

    @property
    def address(self) -> tuple[str, int]:
        return self.udp.server.server_address[:2]

    def hold_back(self, fqdn: str, rtype: str, old_address: str) -> None:
        self.resolver.held[(fqdn.lower(), rtype)] = old_address

    def close(self) -> None:
        for server in (self.udp, self.tcp):
            server.stop()
            server.server.server_close()


class _Quiet:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def start(zones: Zones, port: int = 0) -> RunningDns:
    """UDP and TCP on 127.0.0.1 (the TCP listener takes the UDP one's port)."""
    resolver = ZoneResolver(zones)
    for attempt in range(20):
        udp = DNSServer(resolver, address="127.0.0.1", port=port, logger=_Quiet())
        bound = udp.server.server_address[1]
        try:
            tcp = DNSServer(resolver, address="127.0.0.1", port=bound, tcp=True, logger=_Quiet())
        except OSError:
            # The free UDP port is taken for TCP by someone else: another port (unless fixed).
            udp.server.server_close()
            if port or attempt == 19:
                raise
            continue
        udp.start_thread()
        tcp.start_thread()
        return RunningDns(udp, tcp, resolver)
    raise AssertionError("unreachable")

"""Propagation, checked on real DNS with dnspython.

First the zone's authoritative nameservers, asked directly (no cache in the
way), until every managed record answers the intended address; then a
recursive path, so a stale cache between users and the zone is caught too.
Both with one deadline and a backoff; reaching the deadline is an error
naming the records that did not converge and what they answered.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import dns.resolver

from domains.records import HostRecord
from errors import ApiError


@dataclass(frozen=True)
class Nameserver:
    host: str
    port: int = 53


@dataclass(frozen=True)
class Answer:
    record: HostRecord
    fqdn: str
    got: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.record.address in self.got


class NotPropagated(ApiError):
    pass


def fqdn(domain: str, name: str) -> str:
    return domain if name == "@" else f"{name}.{domain}"


def ask_authoritative(ns: Nameserver, name: str, rtype: str, timeout: float) -> tuple[str, ...]:
    query = dns.message.make_query(name, dns.rdatatype.from_text(rtype))
    query.flags &= ~dns.flags.RD          # authoritative answer only, no recursion
    try:
        reply = dns.query.udp(query, ns.host, port=ns.port, timeout=timeout)
    except (dns.exception.Timeout, OSError):
        return ()
    return tuple(str(rd).strip('"') for rrset in reply.answer for rd in rrset)


def ask_recursive(resolvers: Sequence[Nameserver], name: str, rtype: str,
                  timeout: float) -> tuple[str, ...]:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [r.host for r in resolvers]
    resolver.port = resolvers[0].port
    resolver.lifetime = timeout
    try:
        return tuple(str(rd) for rd in resolver.resolve(name, rtype, raise_on_no_answer=False))
    except (dns.exception.DNSException, OSError):
        return ()


def wait_for(domain: str, records: Sequence[HostRecord], authoritative: Sequence[Nameserver],
             recursive: Sequence[Nameserver], *, deadline_s: float = 300.0,
             clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep,
             on_round: Callable[[str, list[Answer]], None] | None = None) -> list[Answer]:
    """Every record on every authoritative server, then through the recursive path."""
    end = clock() + deadline_s
    delay = 1.0
    for stage in ("authoritative", "recursive"):
        while True:
            answers = []
            for record in records:
                name = fqdn(domain, record.name)
                remaining = max(0.5, min(3.0, end - clock()))
                if stage == "authoritative":
                    got = [ask_authoritative(ns, name, record.type, remaining)
                           for ns in authoritative]
                    # Converged only when every nameserver agrees.
                    common = set.intersection(*(set(g) for g in got)) if got else set()
                    answers.append(Answer(record, name, tuple(sorted(common))))
                else:
                    answers.append(Answer(record, name,
                                          ask_recursive(recursive, name, record.type, remaining)))
            if on_round:
                on_round(stage, answers)
            if all(a.ok for a in answers):
                break
            if clock() + delay > end:
                late = "; ".join(f"{a.fqdn} {a.record.type} answers "
                                 f"{', '.join(a.got) or 'nothing'} (want {a.record.address})"
                                 for a in answers if not a.ok)
                raise NotPropagated(f"DNS did not converge within {deadline_s:.0f}s "
                                    f"({stage} servers): {late}")
            sleep(delay)
            delay = min(delay * 2, 15.0)
    return answers

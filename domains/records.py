"""A registrar zone as data, and the merge that never loses a record.

Namecheap's `setHosts` replaces the whole zone with what the call sends, so
every write is: read everything, replace only the records we manage (keyed
by name and type), keep every other record exactly as it was (TXT, MX with
its preference, CNAME, CAA, URL redirects), write, read back, compare.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

DEFAULT_TTL = 1800
MIN_TTL, MAX_TTL = 60, 60000
EMAIL_TYPES = ("MX", "MXE", "FWD", "OX", "GMAIL", "NONE")


@dataclass(frozen=True)
class HostRecord:
    name: str                  # "@", "api", "_dmarc"…
    type: str                  # A, AAAA, CNAME, MX, TXT, CAA, URL, URL301, FRAME…
    address: str
    ttl: int = DEFAULT_TTL
    mx_pref: int = 10          # meaningful for MX only; the API reports 10 elsewhere

    @property
    def key(self) -> tuple[str, str]:
        return (self.name.lower(), self.type.upper())

    def identity(self) -> tuple:
        """What must survive a write unchanged (the preference counts for MX only)."""
        return (self.name.lower(), self.type.upper(), self.address, self.ttl,
                self.mx_pref if self.type.upper() == "MX" else None)

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        pref = f" {self.mx_pref}" if self.type.upper() == "MX" else ""
        return f"{self.name} {self.type}{pref} {self.address} (ttl {self.ttl})"


@dataclass(frozen=True)
class Zone:
    domain: str
    email_type: str
    using_our_dns: bool
    hosts: tuple[HostRecord, ...]

    def as_dict(self) -> dict:
        return {"domain": self.domain, "email_type": self.email_type,
                "using_our_dns": self.using_our_dns,
                "hosts": [h.as_dict() for h in self.hosts]}

    @classmethod
    def from_dict(cls, data: dict) -> "Zone":
        return cls(domain=str(data["domain"]), email_type=str(data["email_type"]),
                   using_our_dns=bool(data.get("using_our_dns", True)),
                   hosts=tuple(HostRecord(**h) for h in data["hosts"]))


@dataclass(frozen=True)
class ZoneChange:
    kept: tuple[HostRecord, ...]
    changed: tuple[tuple[HostRecord, HostRecord], ...]
    added: tuple[HostRecord, ...]
    removed: tuple[HostRecord, ...]

    @property
    def has_changes(self) -> bool:
        return bool(self.changed or self.added or self.removed)

    def lines(self) -> list[str]:
        out = [f"  ~ {before.describe()}  ->  {after.address} (ttl {after.ttl})"
               for before, after in self.changed]
        out += [f"  + {r.describe()}" for r in self.added]
        out += [f"  - {r.describe()}" for r in self.removed]
        out.append(f"  {len(self.kept)} other record(s) kept as they are")
        return out


# A CNAME (or Namecheap's ALIAS) cannot share its name with other data (RFC 1034, 3.6.2).
EXCLUSIVE = ("CNAME", "ALIAS")


def merge(current: Sequence[HostRecord], desired: Sequence[HostRecord]) -> tuple[HostRecord, ...]:
    """Every record whose (name, type) we do not manage, untouched and in order; then ours.

    Pointing a name at an address also replaces a CNAME or ALIAS at that name (an
    old host reached by CNAME, as a PaaS is): the two cannot coexist. Everything
    else at the name (TXT, MX, CAA...) stays."""
    managed = {r.key for r in desired}
    addressed = {r.name.lower() for r in desired if r.type.upper() in ("A", "AAAA")}
    return tuple(h for h in current if h.key not in managed
                 and not (h.name.lower() in addressed and h.type.upper() in EXCLUSIVE)) \
        + tuple(desired)


def diff(current: Sequence[HostRecord], merged: Sequence[HostRecord]) -> ZoneChange:
    before = {h.identity(): h for h in current}
    after = {h.identity(): h for h in merged}
    kept = tuple(h for i, h in before.items() if i in after)
    gone = [h for i, h in before.items() if i not in after]
    new = [h for i, h in after.items() if i not in before]
    changed, added = [], []
    for record in new:
        old = next((g for g in gone if g.key == record.key), None)
        if old is not None:
            gone.remove(old)
            changed.append((old, record))
        else:
            added.append(record)
    return ZoneChange(kept, tuple(changed), tuple(added), tuple(gone))


def same_records(a: Iterable[HostRecord], b: Iterable[HostRecord]) -> bool:
    return sorted(h.identity() for h in a) == sorted(h.identity() for h in b)

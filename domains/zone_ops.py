"""Read, back up, merge, write, read back, compare: the only way a zone is changed.

A failure anywhere before the write leaves the zone as it was (nothing was
sent); a write the API rejects changes nothing there either; a read-back
that differs from what was intended is an error naming the difference, and
the backup taken before the write restores it (`hetzner-deploy dns restore`).
"""
from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from domains.records import HostRecord, Zone, ZoneChange, diff, merge, same_records
from errors import ApiError, ConfigError, RefusedError


@dataclass(frozen=True)
class ZonePlan:
    zone: Zone
    merged: tuple[HostRecord, ...]
    change: ZoneChange


@dataclass(frozen=True)
class ZoneResult:
    plan: ZonePlan
    written: bool
    backup: Path | None


def desired_records(domain: str, names: Sequence[str], ipv4: str, ipv6: str | None,
                    ttl: int) -> tuple[HostRecord, ...]:
    """A (and AAAA when there is IPv6) for each managed name ("@" is the apex)."""
    records = [HostRecord(n, "A", ipv4, ttl) for n in names]
    if ipv6:
        records += [HostRecord(n, "AAAA", ipv6, ttl) for n in names]
    return tuple(records)


def plan_zone(client, domain: str, desired: Sequence[HostRecord]) -> ZonePlan:
    zone = client.get_hosts(domain)
    if not zone.using_our_dns:
        raise RefusedError(f"{domain} does not use Namecheap's DNS (IsUsingOurDNS=false): its "
                           "records live with the nameservers it points to; change them there, "
                           "or switch the domain to Namecheap BasicDNS first")
    merged = merge(zone.hosts, desired)
    return ZonePlan(zone, merged, diff(zone.hosts, merged))


def write_backup(zone: Zone, folder: Path) -> Path:
    """The whole zone, dated, mode 0600 in a 0700 folder, written then renamed."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    path = folder / f"{zone.domain}-{stamp}.json"
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(zone.as_dict(), fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def read_backup(path: Path) -> Zone:
    try:
        return Zone.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ConfigError(f"--from: no backup at {path}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"--from: {path.name} is not a zone backup ({type(exc).__name__})") \
            from None


def _write_and_verify(client, zone: Zone, hosts: Sequence[HostRecord]) -> None:
    client.set_hosts(zone.domain, hosts, zone.email_type)
    back = client.get_hosts(zone.domain)
    if not same_records(back.hosts, hosts) or back.email_type != zone.email_type:
        missing = [h.describe() for h in hosts if h.identity() not in
                   {b.identity() for b in back.hosts}]
        raise ApiError(f"{zone.domain}: the zone read back differs from what was written "
                       f"({len(missing)} record(s) missing, EmailType {back.email_type} vs "
                       f"{zone.email_type}); restore it with `hetzner-deploy dns restore`")


def apply_zone(client, domain: str, desired: Sequence[HostRecord], backup_dir: Path,
               plan: ZonePlan | None = None) -> ZoneResult:
    plan = plan or plan_zone(client, domain, desired)
    if not plan.change.has_changes:
        return ZoneResult(plan, False, None)
    backup = write_backup(plan.zone, backup_dir)
    _write_and_verify(client, plan.zone, plan.merged)
    return ZoneResult(plan, True, backup)


def restore_zone(client, backup: Zone, backup_dir: Path) -> ZoneResult:
    """Write a backup back exactly, after backing up what is there now."""
    current = client.get_hosts(backup.domain)
    change = diff(current.hosts, backup.hosts)
    plan = ZonePlan(current, backup.hosts, change)
    if not change.has_changes and current.email_type == backup.email_type:
        return ZoneResult(plan, False, None)
    saved = write_backup(current, backup_dir)
    _write_and_verify(client, Zone(backup.domain, backup.email_type, current.using_our_dns,
                                   current.hosts), backup.hosts)
    return ZoneResult(plan, True, saved)

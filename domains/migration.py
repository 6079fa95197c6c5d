"""Moving the domain off the current host, in steps that can each be resumed, and rolled back.

The team's plan: lower the TTL well ahead, move the data, switch DNS with a
TTL of 300 s so a rollback is a DNS change, keep the old host for 7 days.
The DNS half of that lives here; every zone change goes through zone_ops
(read, back up, merge, write, read back), so nothing else in the zone moves.

1. `lower_ttl`: the records at the managed names (the old host's A, AAAA or
   CNAME) get [dns] ttl, addresses unchanged; when and the old TTL are kept.
2. `record_import`: the data was imported (ops/migrate_import.py dumps the
   old host and restores it on the new server); recorded with its counts.
   The cut-over runs it once more, as the final sync, while writes are frozen.
3. `cut_over`: refused until the old TTL has passed since step 1 (caches may
   still hold the old, long TTL). The zone as it is then is saved as the
   rollback point; the names are pointed at the deploy.
4. `roll_back`: writes the rollback point back exactly (CNAMEs included), at
   any time in the window.
5. `finish`: after the window, reminds to shut the old host down; removes
   nothing.

Progress is a small JSON file (0600) in the work directory, so every step can
be rerun: a step already done says so and changes nothing.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from domains.records import EXCLUSIVE, HostRecord
from domains.zone_ops import apply_zone, plan_zone, read_backup, restore_zone, write_backup
from errors import RefusedError

WINDOW = dt.timedelta(days=7)
Clock = Callable[[], dt.datetime]


def folder_for(workdir: Path) -> Path:
    """Where a work directory keeps its migration's progress (and its saved records)."""
    return Path(workdir) / ".work" / "migration"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class Progress:
    zone: str = ""
    ttl_lowered_at: str | None = None
    old_ttl: int | None = None
    cutover_at: str | None = None
    rollback_zone: str | None = None       # file name of the zone saved before the cut-over
    rolled_back_at: str | None = None
    imported_at: str | None = None
    imported: str | None = None            # backup name and counts of the last import
    history: list[str] = field(default_factory=list)


class Migration:
    def __init__(self, folder: Path, zone: str, clock: Clock = utcnow):
        self.folder, self.zone, self.clock = folder, zone, clock
        self.path = folder / "migration.json"
        self.progress = self._load()

    # -- progress file -------------------------------------------------------------------
    def _load(self) -> Progress:
        try:
            return Progress(**json.loads(self.path.read_text()))
        except FileNotFoundError:
            return Progress(zone=self.zone)

    def _save(self, event: str) -> None:
        self.progress.history.append(f"{self.clock().isoformat()} {event}")
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_name(".migration.json.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(asdict(self.progress), fh, indent=2, sort_keys=True)
        os.replace(tmp, self.path)

    # -- steps ---------------------------------------------------------------------------
    def lower_ttl(self, client, names: Sequence[str], ttl: int) -> str:
        if self.progress.ttl_lowered_at:
            return f"TTL already lowered at {self.progress.ttl_lowered_at}"
        zone = client.get_hosts(self.zone)
        at = {n.lower() for n in names}
        current = [h for h in zone.hosts
                   if h.name.lower() in at and h.type.upper() in ("A", "AAAA", *EXCLUSIVE)]
        if not current:
            raise RefusedError(f"{self.zone} has no A, AAAA or CNAME record at "
                               f"{', '.join(names)}: nothing points at the old host to migrate")
        lowered = [HostRecord(h.name, h.type, h.address, min(h.ttl, ttl), h.mx_pref)
                   for h in current]
        apply_zone(client, self.zone, lowered, self.folder / "zone-backups")
        self.progress.old_ttl = max(h.ttl for h in current)
        self.progress.ttl_lowered_at = self.clock().isoformat()
        self._save(f"ttl lowered to {ttl} (was {self.progress.old_ttl})")
        return (f"TTL of {len(current)} record(s) lowered to {ttl}; the cut-over is possible "
                f"from {self.cutover_from():%Y-%m-%d %H:%M} UTC")

    def record_import(self, backup: str, counts: str) -> None:
        self.progress.imported_at = self.clock().isoformat()
        self.progress.imported = f"{backup}: {counts}"
        self._save(f"data imported ({backup}: {counts})")

    def cutover_from(self) -> dt.datetime:
        if not self.progress.ttl_lowered_at:
            raise RefusedError("lower the TTL first: `hetzner-deploy migrate ttl`")
        return (dt.datetime.fromisoformat(self.progress.ttl_lowered_at)
                + dt.timedelta(seconds=self.progress.old_ttl or 0))

    def ready(self) -> None:
        """Refuses a cut-over before step 1, or while resolvers may still hold the old TTL."""
        ready = self.cutover_from()
        if self.clock() < ready:
            raise RefusedError(f"too early: resolvers may still cache the old TTL "
                               f"({self.progress.old_ttl} s) until {ready:%Y-%m-%d %H:%M:%S} UTC")

    def cut_over(self, client, desired: Sequence[HostRecord]) -> str:
        self.ready()
        planned = plan_zone(client, self.zone, desired)
        if not self.progress.rollback_zone or self.progress.rolled_back_at:
            saved = write_backup(planned.zone, self.folder / "rollback")
            self.progress.rollback_zone = saved.name
            self.progress.rolled_back_at = None
        result = apply_zone(client, self.zone, desired, self.folder / "zone-backups",
                            plan=planned)
        if not self.progress.cutover_at or result.written:
            self.progress.cutover_at = self.clock().isoformat()
        self._save("cut over" if result.written else "cut over (records already right)")
        return (f"{self.zone} points at the new deploy; `hetzner-deploy migrate rollback` "
                f"restores the old records until {self.window_end():%Y-%m-%d %H:%M} UTC")

    def pending(self) -> bool:
        """Started (TTL lowered) and not cut over, or rolled back: the names stay on the
        old host, and `deploy`'s dns phase leaves them there."""
        p = self.progress
        return bool(p.ttl_lowered_at) and (not p.cutover_at or bool(p.rolled_back_at))

    def window_end(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.progress.cutover_at) + WINDOW

    def roll_back(self, client) -> str:
        if not self.progress.rollback_zone:
            raise RefusedError("nothing to roll back: there was no cut-over")
        backup = read_backup(self.folder / "rollback" / self.progress.rollback_zone)
        result = restore_zone(client, backup, self.folder / "zone-backups")
        self.progress.rolled_back_at = self.clock().isoformat()
        self._save("rolled back")
        return (f"{self.zone}: the records from before the cut-over are back"
                + ("" if result.written else " (they already were)"))

    def finish(self) -> str:
        if not self.progress.cutover_at or self.progress.rolled_back_at:
            raise RefusedError("the domain is not cut over to the new deploy")
        if self.clock() < self.window_end():
            raise RefusedError(f"the rollback window is open until "
                               f"{self.window_end():%Y-%m-%d %H:%M} UTC: keep the old host "
                               "running until then")
        self._save("finished")
        return ("the migration is finished: shut the old host down yourself (this tool "
                "removed nothing); its records are in the rollback file "
                f"{self.folder / 'rollback' / self.progress.rollback_zone}")

    def status(self) -> list[tuple[str, str]]:
        p = self.progress
        rows = [("1 lower the TTL", f"done {p.ttl_lowered_at} (old TTL {p.old_ttl} s)"
                 if p.ttl_lowered_at else "to do: `hetzner-deploy migrate ttl`"),
                ("2 import the data", f"done {p.imported_at} (backup {p.imported})"
                 if p.imported_at else "to do: `hetzner-deploy migrate import` (OLD_DATABASE_URL, "
                                       "OLD_REDIS_URL)")]
        if p.rolled_back_at:
            rows.append(("3 cut over", f"rolled back {p.rolled_back_at}"))
        elif p.cutover_at:
            rows.append(("3 cut over", f"done {p.cutover_at}; rollback possible until "
                                       f"{self.window_end():%Y-%m-%d %H:%M} UTC"))
        elif p.ttl_lowered_at:
            rows.append(("3 cut over", f"possible from {self.cutover_from():%Y-%m-%d %H:%M:%S}"
                                       " UTC: `hetzner-deploy migrate cutover`"))
        else:
            rows.append(("3 cut over", "after step 1 and the old TTL"))
        return rows

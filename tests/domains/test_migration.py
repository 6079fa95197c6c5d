"""Migrating the domain off the old host: TTL first, cut-over only after it, rollback exact.

Against the Namecheap emulator (its zone is the oracle, read through its own
state), with an injected clock instead of waiting out real TTLs."""
from __future__ import annotations

import datetime as dt

import pytest

from domains.migration import Migration
from domains.records import HostRecord
from errors import RefusedError
from sandbox import namecheap as emulator
from tests.domains.conftest import DOMAIN

OLD = [  # a PaaS reached by CNAME for the app, the apex by A
    {"name": "app", "type": "CNAME", "address": "voice-app.up.railway.app.", "ttl": 3600},
    {"name": "@", "type": "A", "address": "198.51.100.200", "ttl": 1800},
    {"name": "@", "type": "MX", "address": "mx1.mail.example.net.", "mx_pref": 10, "ttl": 3600},
    {"name": "@", "type": "TXT", "address": "v=spf1 include:_spf.example.net ~all"},
]
NEW = (HostRecord("@", "A", "198.51.100.7", 300), HostRecord("app", "A", "198.51.100.7", 300))


class Clock:
    def __init__(self):
        self.now = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.timezone.utc)

    def __call__(self):
        return self.now


def _zone(nc) -> list[tuple]:
    return sorted((h["name"], h["type"], h["address"], h["ttl"], h["mx_pref"])
                  for h in nc.state.domains[DOMAIN]["hosts"])


@pytest.fixture
def migration(nc, tmp_path):
    emulator.seed(nc.state, {"domain": DOMAIN, "email_type": "MX", "hosts": OLD})
    clock = Clock()
    return Migration(tmp_path / "migration", DOMAIN, clock), clock


def test_ttl_first_then_cutover_after_the_old_ttl_then_exact_rollback(nc, client, migration):
    mig, clock = migration
    original = _zone(nc)
    with pytest.raises(RefusedError, match="lower the TTL first"):
        mig.cut_over(client, NEW)
    assert "cut-over is possible from 2026-11-28 10:00" in mig.lower_ttl(client, ["@", "app"], 300)
    lowered = _zone(nc)
    assert ("app", "CNAME", "voice-app.up.railway.app.", 300, 10) in lowered
    assert ("@", "A", "198.51.100.200", 300, 10) in lowered
    assert ("@", "MX", "mx1.mail.example.net.", 3600, 10) in lowered    # not ours: untouched
    assert "already lowered" in mig.lower_ttl(client, ["@", "app"], 300)  # rerun: no change
    assert _zone(nc) == lowered

    clock.now += dt.timedelta(minutes=59)     # the old CNAME TTL was 3600 s
    with pytest.raises(RefusedError, match="too early.*10:00:00"):
        mig.cut_over(client, NEW)
    clock.now += dt.timedelta(minutes=1)
    assert "points at the new deploy" in mig.cut_over(client, NEW)
    after = _zone(nc)
    assert ("app", "A", "198.51.100.7", 300, 10) in after
    assert not any(r[:2] == ("app", "CNAME") for r in after)   # a CNAME cannot stay beside A
    assert ("@", "MX", "mx1.mail.example.net.", 3600, 10) in after
    mig.cut_over(client, NEW)                                   # rerun converges, same zone
    assert _zone(nc) == after

    clock.now += dt.timedelta(days=3)
    assert "are back" in mig.roll_back(client)
    assert _zone(nc) == lowered                  # exactly the records before the cut-over
    with pytest.raises(RefusedError, match="not cut over"):
        mig.finish()
    status = dict(mig.status())
    assert status["3 cut over"].startswith("rolled back")


def test_finish_waits_for_the_window_and_removes_nothing(nc, client, migration):
    mig, clock = migration
    mig.lower_ttl(client, ["@", "app"], 300)
    clock.now += dt.timedelta(hours=1)
    mig.cut_over(client, NEW)
    clock.now += dt.timedelta(days=6, hours=23)
    with pytest.raises(RefusedError, match="window is open until 2026-12-05 10:00"):
        mig.finish()
    clock.now += dt.timedelta(hours=1)
    before = _zone(nc)
    assert "shut the old host down yourself" in mig.finish()
    assert _zone(nc) == before


def test_progress_survives_a_new_process(nc, client, migration, tmp_path):
    mig, clock = migration
    mig.lower_ttl(client, ["@", "app"], 300)
    again = Migration(tmp_path / "migration", DOMAIN, clock)
    assert dict(again.status())["1 lower the TTL"].startswith("done 2026-11-28T09:00")
    assert (tmp_path / "migration" / "migration.json").stat().st_mode & 0o777 == 0o600


def test_nothing_to_migrate_is_refused(nc, client, tmp_path):
    emulator.seed(nc.state, {"domain": DOMAIN, "email_type": "MX", "hosts": OLD[2:]})
    with pytest.raises(RefusedError, match="nothing points at the old host"):
        Migration(tmp_path, DOMAIN, Clock()).lower_ttl(client, ["@", "app"], 300)


def test_pending_until_cut_over_and_again_after_a_rollback(nc, client, migration):
    mig, clock = migration
    assert not mig.pending()
    mig.lower_ttl(client, ["@", "app"], 300)
    assert mig.pending()
    clock.now += dt.timedelta(hours=1)
    mig.cut_over(client, NEW)
    assert not mig.pending()
    mig.roll_back(client)
    assert mig.pending()

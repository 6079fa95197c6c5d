"""Read, merge, write, verify against the Namecheap emulator: no record is ever lost."""
from __future__ import annotations

import json
import stat

import pytest

from domains.records import HostRecord
from domains.zone_ops import (apply_zone, desired_records, plan_zone, read_backup,
                              restore_zone)
from errors import ApiError, RefusedError
from tests.domains.conftest import DOMAIN, FOREIGN

NAMES = ("@", "api")


def foreign_identities(zone):
    """The foreign records as the API holds them, minus the old A the deploy replaces."""
    return sorted((h.name, h.type, h.address, h.ttl, h.mx_pref) for h in zone.hosts
                  if (h.name, h.type) not in {("@", "A"), ("api", "A"), ("@", "AAAA"),
                                              ("api", "AAAA")})


EXPECTED_FOREIGN = sorted((h["name"], h["type"], h["address"], h.get("ttl", 1800),
                           h.get("mx_pref", 10)) for h in FOREIGN if h["type"] != "A")


def test_deploy_redeploy_and_address_change_keep_every_foreign_record(client, tmp_path):
    backups = tmp_path / "dns-backups"
    first = apply_zone(client, DOMAIN, desired_records(DOMAIN, NAMES, "198.51.100.7",
                                                       "2001:db8::7", 300), backups)
    assert first.written
    assert [(b.address, a.address) for b, a in first.plan.change.changed] == [
        ("198.51.100.200", "198.51.100.7")]
    assert len(first.plan.change.added) == 3        # api A, @ AAAA, api AAAA
    zone = client.get_hosts(DOMAIN)
    assert foreign_identities(zone) == EXPECTED_FOREIGN and zone.email_type == "MX"
    assert {(h.name, h.type, h.address, h.ttl) for h in zone.hosts if h.type in ("A", "AAAA")} == {
        ("@", "A", "198.51.100.7", 300), ("api", "A", "198.51.100.7", 300),
        ("@", "AAAA", "2001:db8::7", 300), ("api", "AAAA", "2001:db8::7", 300)}

    again = apply_zone(client, DOMAIN, desired_records(DOMAIN, NAMES, "198.51.100.7",
                                                       "2001:db8::7", 300), backups)
    assert not again.written and again.backup is None  # a redeploy writes nothing

    moved = apply_zone(client, DOMAIN, desired_records(DOMAIN, NAMES, "198.51.100.8",
                                                       "2001:db8::7", 300), backups)
    assert moved.written and len(moved.plan.change.changed) == 2
    zone = client.get_hosts(DOMAIN)
    assert foreign_identities(zone) == EXPECTED_FOREIGN and zone.email_type == "MX"


def test_backups_are_private_and_restore_brings_the_zone_back_exactly(client, tmp_path):
    backups = tmp_path / "dns-backups"
    before = client.get_hosts(DOMAIN)
    result = apply_zone(client, DOMAIN, desired_records(DOMAIN, NAMES, "198.51.100.7", None, 300),
                        backups)
    assert stat.S_IMODE(backups.stat().st_mode) == 0o700
    assert stat.S_IMODE(result.backup.stat().st_mode) == 0o600
    assert json.loads(result.backup.read_text())["email_type"] == "MX"
    restored = restore_zone(client, read_backup(result.backup), backups)
    assert restored.written
    after = client.get_hosts(DOMAIN)
    assert sorted(h.identity() for h in after.hosts) == sorted(h.identity() for h in before.hosts)
    assert after.email_type == before.email_type


def test_a_rejected_write_leaves_the_zone_as_it_was(nc, client, tmp_path):
    before = client.get_hosts(DOMAIN)
    nc.state.reject_next_set = 1
    with pytest.raises(ApiError, match="Namecheap error 2050900"):
        apply_zone(client, DOMAIN, desired_records(DOMAIN, NAMES, "198.51.100.7", None, 300),
                   tmp_path / "b")
    assert client.get_hosts(DOMAIN) == before


def test_a_failure_between_read_and_write_sends_nothing(client, tmp_path, monkeypatch):
    before = client.get_hosts(DOMAIN)
    plan = plan_zone(client, DOMAIN, desired_records(DOMAIN, NAMES, "198.51.100.7", None, 300))

    def crash(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr("domains.zone_ops.write_backup", crash)   # dies before the write
    with pytest.raises(KeyboardInterrupt):
        apply_zone(client, DOMAIN, (), tmp_path / "b", plan=plan)
    assert client.get_hosts(DOMAIN) == before


def test_hostile_values_round_trip_exactly(client, tmp_path):
    odd = HostRecord("_test", "TXT", 'a "quoted" <xml> & ${x} %{y}\\', 300)
    apply_zone(client, DOMAIN, (odd,), tmp_path / "b")
    assert odd.identity() in {h.identity() for h in client.get_hosts(DOMAIN).hosts}


def test_domain_on_other_nameservers_is_refused_with_what_to_do(nc, client, tmp_path):
    from sandbox import namecheap as emulator
    emulator.seed(nc.state, {"domain": "elsewhere.com", "using_our_dns": False, "hosts": []})
    with pytest.raises(RefusedError, match="IsUsingOurDNS=false.*switch the domain"):
        apply_zone(client, "elsewhere.com", desired_records("elsewhere.com", NAMES,
                                                            "198.51.100.7", None, 300),
                   tmp_path / "b")

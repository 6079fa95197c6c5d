"""Propagation against the sandbox's real DNS server, fed by the Namecheap emulator."""
from __future__ import annotations

import pytest

from domains.propagation import Nameserver, NotPropagated, wait_for
from domains.zone_ops import apply_zone, desired_records
from sandbox import dns_server
from tests.domains.conftest import DOMAIN


@pytest.fixture(scope="module")
def _dns(_server):
    running = dns_server.start(lambda: _server.state.domains)
    yield running
    running.close()


@pytest.fixture
def dns_srv(_dns, nc):
    _dns.resolver.held.clear()
    return _dns


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.naps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.naps.append(seconds)
        self.now += seconds


def test_converges_on_authoritative_then_recursive(client, dns_srv, tmp_path):
    records = desired_records(DOMAIN, ("@", "api"), "198.51.100.7", "2001:db8::7", 300)
    apply_zone(client, DOMAIN, records, tmp_path / "b")
    ns = Nameserver(*dns_srv.address)
    rounds = []
    answers = wait_for(DOMAIN, records, [ns], [ns], deadline_s=30,
                       on_round=lambda stage, a: rounds.append(stage))
    assert all(a.ok for a in answers) and rounds == ["authoritative", "recursive"]
    assert {a.fqdn for a in answers} == {DOMAIN, f"api.{DOMAIN}"}


def test_foreign_records_are_served_too(client, dns_srv, tmp_path):
    import dns.resolver
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port = [dns_srv.address[0]], dns_srv.address[1]
    mx = sorted((r.preference, str(r.exchange)) for r in resolver.resolve(DOMAIN, "MX"))
    assert mx == [(10, "mx1.mail.example.net."), (20, "mx2.mail.example.net.")]


def test_a_record_held_back_times_out_naming_it(client, dns_srv, tmp_path):
    records = desired_records(DOMAIN, ("@", "api"), "198.51.100.7", None, 300)
    apply_zone(client, DOMAIN, records, tmp_path / "b")
    dns_srv.hold_back(f"api.{DOMAIN}", "A", "198.51.100.200")     # a stale secondary
    clock = FakeClock()
    ns = Nameserver(*dns_srv.address)
    with pytest.raises(NotPropagated) as err:
        wait_for(DOMAIN, records, [ns], [ns], deadline_s=60, clock=clock, sleep=clock.sleep)
    message = str(err.value)
    assert f"api.{DOMAIN} A answers 198.51.100.200 (want 198.51.100.7)" in message
    assert f"{DOMAIN} A answers" not in message.replace(f"api.{DOMAIN}", "")
    assert clock.naps == sorted(clock.naps) and sum(clock.naps) <= 60

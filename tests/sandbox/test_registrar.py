"""The sandbox registrar: Namecheap emulator + DNS server, zones kept on disk across restarts."""
from __future__ import annotations

import json

import dns.message
import dns.query

import pytest

from domains.namecheap import Credentials, NamecheapClient, NamecheapError
from sandbox import registrar


def _client(reg, key):
    return NamecheapClient(Credentials(registrar.ACCOUNT, key, registrar.ACCOUNT,
                                       registrar.CLIENT_IP, reg.api.url))


def test_zones_survive_a_restart_in_a_private_file(tmp_path):
    reg = registrar.start(tmp_path, "key-1")
    try:
        assert registrar.ensure_zone(reg.api.url, "example.org") is True
        assert registrar.ensure_zone(reg.api.url, "example.org") is False   # never reseeded
        zone = _client(reg, "key-1").get_hosts("example.org")
    finally:
        reg.close()
    saved = tmp_path / "namecheap.json"
    assert saved.stat().st_mode & 0o777 == 0o600
    assert "example.org" in json.loads(saved.read_text())["domains"]
    again = registrar.start(tmp_path, "key-1")
    try:
        assert _client(again, "key-1").get_hosts("example.org") == zone
        host, port = again.summary()["dns"].split(":")
        reply = dns.query.udp(dns.message.make_query("example.org", "MX"), host,
                              port=int(port), timeout=3)
        assert sorted(str(rd) for rrset in reply.answer for rd in rrset) == [
            "10 mx1.mail.example.org.", "20 mx2.mail.example.org."]
    finally:
        again.close()


def test_the_api_key_is_the_one_given(tmp_path):
    reg = registrar.start(tmp_path, "right-key")
    try:
        registrar.ensure_zone(reg.api.url, "example.org")
        with pytest.raises(NamecheapError) as caught:
            _client(reg, "wrong-key").get_hosts("example.org")
        assert caught.value.number == "1011102"
    finally:
        reg.close()


def test_dns_server_answers_for_hetzner_zones_too(tmp_path):
    """The registrar's DNS server serves the emulator's /zones beside Namecheap's zones."""
    from tests.sandbox.conftest import start_emulator
    from sandbox.emulator.zones import dns_zones
    from hcloud.zones import ZoneRecord
    emu = start_emulator(tmp_path / "emu")
    reg = registrar.start(tmp_path, "key-1", cloud_zones=lambda: dns_zones(emu.server.store))
    try:
        registrar.ensure_zone(reg.api.url, "example.org")
        client = emu.client()
        zone = client.zones.create(name="example.net", mode="primary").zone
        client.zones.create_rrset(zone=zone, name="api", type="A", ttl=120,
                                  records=[ZoneRecord(value="203.0.113.44")])
        host, port = reg.summary()["dns"].split(":")

        def ask(name, rtype):
            reply = dns.query.udp(dns.message.make_query(name, rtype), host, port=int(port), timeout=3)
            return sorted((str(rd), rrset.ttl) for rrset in reply.answer for rd in rrset)
        assert ask("api.example.net", "A") == [("203.0.113.44", 120)]
        assert ask("example.org", "MX")[0][0] == "10 mx1.mail.example.org."   # Namecheap's still answer
    finally:
        reg.close()
        emu.server.close()

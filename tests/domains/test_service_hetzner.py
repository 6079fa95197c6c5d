"""domains.service with [dns] provider = "hetzner": the same records, Hetzner's nameservers."""
from __future__ import annotations

import pytest

from domains import service
from generator.config import load_config
from tests.conftest import BASE_TOML


class _Real:
    is_sandbox = False


def _asked(monkeypatch) -> list:
    seen = []
    monkeypatch.setattr(service, "servers", lambda entries: seen.append(tuple(entries)) or [])
    return seen


@pytest.mark.parametrize("extra,want", [
    ('provider = "hetzner"\n', service.HETZNER_NS),
    ('provider = "namecheap"\n', ("dns1.registrar-servers.com", "dns2.registrar-servers.com")),
    ('provider = "hetzner"\nnameservers = ["ns.example.net"]\n', ("ns.example.net",)),
])
def test_nameservers_follow_the_provider(make_config, monkeypatch, extra, want):
    config = load_config(make_config(BASE_TOML + "\n[dns]\n" + extra))
    seen = _asked(monkeypatch)
    service.nameservers_for(config, _Real())
    assert seen == [want]


def test_dns_target_is_the_same_for_both_providers(make_config):
    from runner.outputs import parse_outputs
    raw = {"hosts": {"value": [{"name": "a", "role": "all-in-one", "id": 1, "ipv4": "203.0.113.5",
                                "ipv6": "2001:db8::/64", "private_ip": "", "volume_device": "",
                                "firewall_id": 1, "placement_group_id": 1}]},
           "volume_id": {"value": 2}, "ssh_key_id": {"value": 3}}
    outputs = parse_outputs(raw)
    hetzner = service.dns_target(load_config(make_config(BASE_TOML + '\n[dns]\nprovider = "hetzner"\n')), outputs)
    namecheap = service.dns_target(load_config(make_config()), outputs)
    assert hetzner == namecheap
    assert {(r.name, r.type, r.address) for r in hetzner.records} >= {
        ("app", "A", "203.0.113.5"), ("api.app", "AAAA", "2001:db8::1")}

"""The dns phase with provider = "hetzner", against a real DNS server on loopback
(sandbox/dns_server.py fed from an emulator store): it waits, reports that
Terraform holds the records, and fails cleanly on a record held back."""
from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from domains.propagation import NotPropagated
from generator.config import load_config
from pipeline.phases import dns as phase
from pipeline.target import Target
from runner.outputs import parse_outputs
from sandbox import dns_server
from sandbox.emulator.store import Store
from sandbox.emulator.zones import dns_zones
from tests.conftest import BASE_TOML

IPV4 = "203.0.113.5"


class _Progress:
    def __init__(self):
        self.notes = []

    def note(self, text):
        self.notes.append(text)


def _store_with(records: dict[str, str]) -> Store:
    """A store holding example.com as the Hetzner emulator would after `terraform apply` of dns.tf."""
    store = Store(None)
    rrsets = {f"{n}/A": {"name": n, "type": "A", "ttl": 120, "labels": {}, "protection": {"change": False},
                         "records": [{"value": v, "comment": ""}]} for n, v in records.items()}
    store.put("zones", {"id": 1, "name": "example.com", "mode": "primary", "ttl": 3600, "labels": {},
                        "protection": {"delete": True}, "created": "2026-01-01T00:00:00+00:00",
                        "status": "ok", "registrar": "other", "primary_nameservers": [], "rrsets": rrsets})
    return store


@pytest.fixture
def ctx_for(make_config):
    running = []

    def make(records, timeout=5):
        config = load_config(make_config(BASE_TOML + '\n[dns]\nprovider = "hetzner"\nipv6 = false\n'))
        # Below the schema's 10 s minimum, to keep the failing case short.
        config = replace(config, dns=replace(config.dns, propagation_timeout_s=timeout))
        store = _store_with(records)
        server = dns_server.start(lambda: dns_zones(store))
        running.append(server)
        host, port = server.address
        target = Target("sandbox", "http://127.0.0.1:9", "t", {}, ("http://127.0.0.1:9", f"{host}:{port}"))
        outputs = parse_outputs({"hosts": {"value": [{"name": "s", "role": "all-in-one", "ipv4": IPV4,
                                                      "ipv6": ""}]},
                                 "volume_id": {"value": 1}, "ssh_key_id": {"value": 2}})
        return SimpleNamespace(config=config, outputs=outputs, target=target, progress=_Progress(),
                               fingerprint="f", workdir=None, options=None, confirm=None), server
    yield make
    for server in running:
        server.close()


def test_waits_for_the_terraform_records_and_says_who_holds_them(ctx_for):
    ctx, _ = ctx_for({"app": IPV4, "api.app": IPV4})
    result = phase.run(ctx)
    assert "records managed by Terraform (dns.tf)" in result.detail
    assert result.record_key == phase.key(ctx)
    assert any("authoritative: 2/2" in n for n in ctx.progress.notes)


def test_a_record_that_does_not_answer_fails_with_its_name(ctx_for):
    ctx, _ = ctx_for({"app": IPV4, "api.app": "198.51.100.250"}, timeout=2)
    with pytest.raises(NotPropagated, match="api.app.example.com"):
        phase.run(ctx)

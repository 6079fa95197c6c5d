"""`deploy` with [dns] provider = "hetzner": the records are Terraform resources
(dns.tf), the emulator holds the zone, and the sandbox DNS server answers them.

Oracles: the official hcloud client (the emulator's zone) and dnspython asking
the sandbox's authoritative server."""
from __future__ import annotations

import json

import dns.flags
import dns.message
import dns.query
import pytest

from sandbox import manager

pytestmark = pytest.mark.e2e


def _ok(done):
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def _ask(sb, name: str, rtype: str) -> list[str]:
    host, port = manager.status(sb.directory).dns_server.split(":")
    query = dns.message.make_query(name, rtype)
    query.flags &= ~dns.flags.RD
    reply = dns.query.udp(query, host, port=int(port), timeout=3)
    return [str(rd) for rrset in reply.answer for rd in rrset]


def test_deploy_with_hetzner_dns_records_answer_on_the_sandbox_dns(sb):
    sb.config.write_text(sb.config.read_text() + '\n[dns]\nprovider = "hetzner"\nttl = 120\n')
    first = _ok(sb.cli("deploy", "--profile", "ccx33"))
    assert "[dns] done" in first.stdout, first.stdout
    assert "records managed by Terraform (dns.tf)" in first.stdout
    assert (sb.stacks / "production" / "dns.tf").is_file()
    outputs = json.loads(_ok(sb.cli("outputs", "--json")).stdout)
    ipv4 = outputs["hosts"][0]["ipv4"]
    client = sb.client()
    zone = client.zones.get("example.com")
    assert zone.protection["delete"] is True
    rrset = client.zones.get_rrset(zone, "api.app", "A")
    assert [r.value for r in rrset.records] == [ipv4] and rrset.ttl == 120
    assert _ask(sb, "app.example.com", "A") == [ipv4]
    assert _ask(sb, "api.app.example.com", "A") == [ipv4]
    assert _ask(sb, "app.example.com", "AAAA") != []

    report = json.loads(sb.cli("verify", "--after", "--json").stdout)
    row = next(c for c in report["checks"] if c["name"] == "DNS points at the server")
    assert row["status"] == "ok", row

    # Changed by hand in the cloud: verify --after sees it.
    from hcloud.zones import ZoneRecord
    client.zones.set_rrset_records(rrset, [ZoneRecord(value="198.51.100.250")]).wait_until_finished()
    report = json.loads(sb.cli("verify", "--after", "--json").stdout)
    row = next(c for c in report["checks"] if c["name"] == "DNS points at the server")
    assert row["status"] == "fail" and "198.51.100.250" in row["detail"], row

    # The zone is guarded like the volume: a plain destroy names it and removes nothing;
    # --destroy-volume lifts its protection too and takes it away with the rest.
    refused = sb.cli("destroy", "--confirm", "production")
    assert refused.returncode == 7 and "hcloud_zone.dns" in refused.stderr, refused.stderr
    assert client.zones.get("example.com").protection["delete"] is True
    done = sb.cli("destroy", "--confirm", "production", "--destroy-volume")
    assert done.returncode == 0, done.stdout + done.stderr
    assert client.zones.get_all() == [] and client.servers.get_all() == []

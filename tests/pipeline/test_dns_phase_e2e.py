"""The dns phase of `deploy` on the sandbox's registrar: a team's zone keeps every other record.

Oracles: the registrar's own state (its admin listing, not our client), and
DNS answers read with dnspython from the sandbox's authoritative server."""
from __future__ import annotations

import json
import urllib.request

import dns.flags
import dns.message
import dns.query
import pytest

from sandbox import manager
from sandbox.registrar import team_zone

pytestmark = pytest.mark.e2e

ZONE = "example.com"          # BASE_TOML's domain is app.example.com
OLD_HOST = "198.51.100.250"   # where app.example.com pointed before (the old host)


def _ok(done):
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def _admin(sb, body=None) -> dict:
    url = manager.status(sb.directory).namecheap_endpoint.replace("/xml.response",
                                                                  "/_sandbox/domains")
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as resp:
        return json.loads(resp.read())


def _records(zone: dict) -> list[tuple]:
    return sorted((h["name"], h["type"], h["address"], h["ttl"], h["mx_pref"])
                  for h in zone["hosts"])


def _ask(sb, name: str, rtype: str) -> list[str]:
    host, port = manager.status(sb.directory).dns_server.split(":")
    query = dns.message.make_query(name, rtype)
    query.flags &= ~dns.flags.RD
    reply = dns.query.udp(query, host, port=int(port), timeout=3)
    return [str(rd) for rrset in reply.answer for rd in rrset]


def test_deploy_points_the_names_and_keeps_every_other_record(sb):
    seeded = team_zone(ZONE)
    seeded["hosts"].append({"name": "app", "type": "A", "address": OLD_HOST, "ttl": 1800})
    _admin(sb, seeded)
    before = _admin(sb)[ZONE]
    foreign = [r for r in _records(before) if r[:2] not in {("app", "A"), ("app", "AAAA"),
                                                             ("api.app", "A"),
                                                             ("api.app", "AAAA")}]
    assert len(foreign) == 8

    first = _ok(sb.cli("deploy", "--profile", "ccx33"))
    assert "[dns] done" in first.stdout and "8 other record(s) kept" in first.stdout
    assert f"~ app A {OLD_HOST}" in first.stdout            # the diff was shown first
    outputs = json.loads(_ok(sb.cli("outputs", "--json")).stdout)
    address = outputs["hosts"][0]["ipv4"]
    after = _admin(sb)[ZONE]
    assert after["email_type"] == before["email_type"] == "MX"
    kept = [r for r in _records(after) if r in foreign]
    assert kept == foreign                                   # every foreign record, exactly
    assert ("app", "A", address, 300, 10) in _records(after)
    assert _ask(sb, "app.example.com", "A") == [address]
    assert _ask(sb, "api.app.example.com", "A") == [address]
    mx = sorted(_ask(sb, "example.com", "MX"))
    assert mx == ["10 mx1.mail.example.com.", "20 mx2.mail.example.com."]

    again = _ok(sb.cli("deploy", "--profile", "ccx33"))
    assert "[dns] skipped" in again.stdout
    assert _records(_admin(sb)[ZONE]) == _records(after)

    report = json.loads(sb.cli("verify", "--after", "--json").stdout)
    row = next(c for c in report["checks"] if c["name"] == "DNS points at the server")
    assert row["status"] == "ok", row

    # Someone points app elsewhere by hand: verify --after says so.
    tampered = dict(after, domain=ZONE, hosts=[dict(h, address=OLD_HOST) if
                                               (h["name"], h["type"]) == ("app", "A") else h
                                               for h in after["hosts"]])
    _admin(sb, tampered)
    report = json.loads(sb.cli("verify", "--after", "--json").stdout)
    row = next(c for c in report["checks"] if c["name"] == "DNS points at the server")
    assert row["status"] == "fail" and OLD_HOST in row["detail"], row


def test_restore_brings_the_zone_back_exactly_and_zones_survive_a_restart(sb):
    seeded = team_zone(ZONE)
    seeded["hosts"].append({"name": "app", "type": "A", "address": OLD_HOST, "ttl": 1800})
    _admin(sb, seeded)
    before = _records(_admin(sb)[ZONE])
    _ok(sb.cli("deploy", "--profile", "ccx33"))
    backups = sorted((sb.workdir() / ".work" / "dns-backups").glob("example.com-*.json"))
    assert len(backups) == 1 and backups[0].stat().st_mode & 0o777 == 0o600
    deployed = _records(_admin(sb)[ZONE])

    manager.down(sb.directory)           # the registrar's zones are state: kept on disk
    manager.up(sb.directory)
    assert _records(_admin(sb)[ZONE]) == deployed

    _ok(sb.cli("dns", "restore", "--from", str(backups[0]), "--auto-approve"))
    assert _records(_admin(sb)[ZONE]) == before
    assert _ask(sb, "app.example.com", "A") == [OLD_HOST]


def test_a_migration_in_progress_keeps_deploy_off_the_names(sb):
    seeded = team_zone(ZONE)
    seeded["hosts"].append({"name": "app", "type": "CNAME", "address": "voice.up.railway.app.",
                            "ttl": 3600})
    _admin(sb, seeded)
    lowered = _ok(sb.cli("migrate", "ttl", "--config", str(sb.config), "--stacks-dir", str(sb.stacks)))
    assert "TTL of 1 record(s) lowered to 300" in lowered.stdout
    zone = _records(_admin(sb)[ZONE])
    assert ("app", "CNAME", "voice.up.railway.app.", 300, 10) in zone

    deployed = _ok(sb.cli("deploy", "--profile", "ccx33"))
    assert "[dns] skipped: a migration is in progress" in deployed.stdout
    assert _records(_admin(sb)[ZONE]) == zone                    # the old host keeps the names

    status = _ok(sb.cli("migrate", "status", "--config", str(sb.config), "--stacks-dir", str(sb.stacks)))
    assert "possible from" in status.stdout and "to do: `hetzner-deploy migrate import`" in status.stdout
    early = sb.cli("migrate", "cutover", "--config", str(sb.config), "--stacks-dir", str(sb.stacks))
    assert early.returncode == 7 and "too early" in early.stderr
    assert early.stderr.count("\n") == 1 and "Traceback" not in early.stderr
    nothing = sb.cli("migrate", "rollback", "--config", str(sb.config), "--stacks-dir", str(sb.stacks))
    assert nothing.returncode == 7 and "nothing to roll back" in nothing.stderr
    assert _records(_admin(sb)[ZONE]) == zone

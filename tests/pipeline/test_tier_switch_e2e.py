"""`switch --to 3-tier` from one server, end to end on sandbox machines, as a user runs it.

The example app runs on one ccx33 with rows and keys written through it. The
switch keeps that server as the db server (same id, same volume), adds the app
servers and the load balancer (HAProxy in the sandbox), moves DNS to it, and
stops the old app only once resolvers can no longer hold its address. All the
while a client resolves the name at the sandbox's authoritative DNS server and
asks the address it gets: no request fails. Oracles: the API (hcloud client),
the DNS server, the app's own answers through the load balancer."""
from __future__ import annotations

import json
import os
import textwrap
import threading
import time

import pytest

from tests.examples.appkit import http
from tests.pipeline import sandbox_env
from tests.pipeline.test_dns_phase_e2e import _ask

pytestmark = pytest.mark.e2e

RANGE = os.environ.get("HD_TEST_MACHINE_RANGE", "198.18.78.0/24")
PG, REDIS = "switch-pg-Secret-6e02", "switch-redis-Secret-c4a8"
_ok = sandbox_env.ok


@pytest.fixture
def switch_sb(tmp_path, make_config, monkeypatch):
    public = sandbox_env.login_key(tmp_path)
    sandbox_env.example_app(tmp_path / "app", f"PROJECT=example\nPOSTGRES_USER=app\n"
                            f"POSTGRES_DB=app\nPOSTGRES_PASSWORD={PG}\nREDIS_PASSWORD={REDIS}\n")
    config = make_config(sandbox_env.machines_toml(RANGE, textwrap.dedent('''
        [app]
        compose = "app/docker-compose.yml"
        env_file = "app/.env"
        files = ["backend/app.py", "ai/worker.py"]
        health_timeout_s = 120

        [dns]
        ipv6 = false
        ''')), key=public)
    with sandbox_env.machines_sandbox(tmp_path, config, monkeypatch, RANGE,
                                      ["python", "redis", "postgres"]) as (box, _):
        yield box


class Client(threading.Thread):
    """A user: resolve app.example.com at the authoritative server, GET /notes/count there."""

    def __init__(self, sb):
        super().__init__(daemon=True)
        self.sb, self.stop = sb, threading.Event()
        self.log: list[tuple[str, bool, str]] = []      # (address, answered 200, detail)

    def run(self):
        while not self.stop.is_set():
            address = "?"
            try:
                (address,) = _ask(self.sb, "app.example.com", "A")
                status, body = http(address, "GET", "/notes/count", timeout=5)
                self.log.append((address, status == 200, f"{status} {body}"))
            except Exception as exc:   # noqa: BLE001 - every failure is the finding
                self.log.append((address, False, repr(exc)))
            time.sleep(0.05)


def test_one_server_to_3_tier_keeps_every_row_and_key_and_never_stops_serving(switch_sb):
    sb = switch_sb
    _ok(sb.cli("generate", "--profile", "ccx33"))
    _ok(sb.cli("deploy", "--profile", "ccx33", timeout=600))
    before = json.loads(_ok(sb.cli("outputs", "--json")).stdout)
    (host,) = before["hosts"]
    old_ip, server_id, volume_id = host["ipv4"], host["id"], before["volume_id"]
    for note in ("one", "two", "three"):
        assert http(old_ip, "POST", "/notes", note)[0] == 201
    assert _ask(sb, "app.example.com", "A") == [old_ip]

    client = Client(sb)
    client.start()
    try:
        first = _ok(sb.cli("switch", "--to", "3-tier", "--config", str(sb.config),
                           "--stacks-dir", str(sb.stacks), timeout=900))
        assert "becomes the db server" in first.stdout          # the data path, shown first
        assert "the old app keeps serving on the db server until" in first.stdout
        after = json.loads(_ok(sb.cli("outputs", "--json")).stdout)
        lb = after["load_balancer_ipv4"]
        db = next(h for h in after["hosts"] if h["role"] == "db")
        assert db["id"] == server_id and after["volume_id"] == volume_id
        api = sb.client()
        assert api.volumes.get_by_id(volume_id).server.id == server_id
        assert sorted(h["role"] for h in after["hosts"]) == ["app", "app", "db"]
        assert _ask(sb, "app.example.com", "A") == [lb]
        # Every row and key, through the load balancer, and a write there too.
        assert http(lb, "GET", "/notes/count") == (200, {"rows": 3, "written": 3,
                                                         "last": "three"})
        assert http(lb, "POST", "/notes", "four")[0] == 201
        assert http(old_ip, "GET", "/health")[0] == 200          # the old app still serves

        sandbox_env.age_recorded_time(sb.workdir() / ".work" / "tier-switch.json",
                                      "dns_at", 301)
        second = _ok(sb.cli("switch", "--to", "3-tier", "--config", str(sb.config),
                            "--stacks-dir", str(sb.stacks), timeout=900))
        assert "ccx33 -> 3-tier finished" in second.stdout
        time.sleep(1)       # a few more requests after the end
    finally:
        client.stop.set()
        client.join(30)
    # Users were served by the old app until DNS moved, then by the load balancer, which
    # never failed once. The old app did restart once, while its databases were published on
    # the private network (a container's ports cannot change while it runs): those failures
    # are the old server's, and it served again before DNS left it.
    assert [a for a, _, _ in client.log if a not in (old_ip, lb)] == []
    moved = next(i for i, (a, _, _) in enumerate(client.log) if a == lb)
    assert all(a == lb for a, _, _ in client.log[moved:])
    assert [d for a, good, d in client.log[moved:] if not good] == []
    assert client.log[moved - 1][1], client.log[moved - 5:moved]
    assert sum(1 for _, good, _ in client.log[moved:] if good) > 20
    assert http(lb, "GET", "/notes/count") == (200, {"rows": 4, "written": 4, "last": "four"})
    with pytest.raises(OSError):                                   # the old app is gone
        http(old_ip, "GET", "/health", timeout=3)
    assert [f.name for f in api.firewalls.get_all() if f.name.endswith("db-web-firewall")] == []
    assert json.loads(_ok(sb.cli("plan", "--json")).stdout)["has_changes"] is False
    assert not (sb.workdir() / ".work" / "tier-switch.json").exists()
    for done in (first, second):
        assert PG not in done.stdout + done.stderr and REDIS not in done.stdout + done.stderr

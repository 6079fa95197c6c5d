"""`switch --to ccx33` from 3-tier, end to end on the sandbox, as a user runs it.

The db server becomes the single server again: the same server id, the same
volume and attachment; the load balancer, the app servers and the network go;
the next plan is empty. Oracles: the API read with the hcloud client, the
sandbox's authoritative DNS server, Terraform's own plan."""
from __future__ import annotations

import json
import time

import pytest

from tests.pipeline import sandbox_env
from tests.pipeline.test_dns_phase_e2e import _ask

pytestmark = pytest.mark.e2e

_ok = sandbox_env.ok
RECORD = ("work", "production", ".work", "tier-switch.json")


def _switch(sb, to="ccx33", *extra):
    return sb.cli("switch", "--to", to, "--stacks-dir", str(sb.stacks), "--config",
                  str(sb.config), *extra, timeout=900)


def _verify(sb) -> list[dict]:
    done = sb.cli("verify", "--after", "--json", "--config", str(sb.config), "--stacks-dir",
                  str(sb.stacks))
    return json.loads(done.stdout)["checks"]


def test_3_tier_back_to_one_server_keeps_the_db_server_and_its_volume(sb):
    _ok(sb.cli("deploy", "--profile", "3-tier", timeout=600))
    api = sb.client()
    db = next(s for s in api.servers.get_all() if s.name.endswith("-db"))
    (volume,) = api.volumes.get_all()
    lb = api.load_balancers.get_all()[0].public_net.ipv4.ip
    assert _ask(sb, "app.example.com", "A") == [lb]

    first = _ok(_switch(sb))
    assert "switch 3-tier -> ccx33" in first.stdout
    assert "stays on the db server" in first.stdout and "kept as ccx33" in first.stdout
    assert "rerun `hetzner-deploy switch --to ccx33`" in first.stdout
    assert _ask(sb, "app.example.com", "A") == [db.public_net.ipv4.ip]
    assert len(api.servers.get_all()) == 3 and len(api.load_balancers.get_all()) == 1
    web = [f for f in api.firewalls.get_all() if f.name.endswith("db-web-firewall")]
    assert len(web) == 1
    (row,) = [c for c in _verify(sb) if c["name"] == "Tier switch finished"]
    assert row["status"] == "warn"
    assert "3-tier -> ccx33 under way: the names point at the db server" in row["detail"]
    (dns,) = [c for c in _verify(sb) if c["name"] == "DNS points at the server"]
    assert dns["status"] == "ok", dns          # at the db server, as the switch wants now
    # A rerun before the TTL is over changes nothing and says when.
    again = _ok(_switch(sb))
    assert "keep serving until" in again.stdout and len(api.servers.get_all()) == 3

    sandbox_env.age_recorded_time(sb.directory.joinpath(*RECORD), "dns_at", 3601)
    second = _ok(_switch(sb))
    assert "left the private network" in second.stdout
    assert "3-tier -> ccx33 finished" in second.stdout
    (server,) = api.servers.get_all()
    assert server.id == db.id and not server.name.endswith("-db")
    assert server.server_type.name == "ccx33" and server.labels["profile"] == "ccx33"
    assert server.private_net == [] and "role" not in server.labels
    assert api.volumes.get_by_id(volume.id).server.id == db.id
    assert api.load_balancers.get_all() == [] and api.networks.get_all() == []
    assert [f.name for f in api.firewalls.get_all()] == [f"{server.name}-firewall"]
    assert _ask(sb, "app.example.com", "A") == [server.public_net.ipv4.ip]
    assert json.loads(_ok(sb.cli("plan", "--json")).stdout)["has_changes"] is False
    assert not sb.directory.joinpath(*RECORD).exists()
    assert [c for c in _verify(sb) if c["name"] == "Tier switch finished"] == []


def test_a_switch_down_whose_plan_replaces_the_db_server_is_refused(sb):
    """The data-loss review judges the switch's plans like any other: another image would
    replace the db server (and its local disk), so the switch stops before anything."""
    _ok(sb.cli("deploy", "--profile", "3-tier", timeout=600))
    state = sb.workdir() / "terraform.tfstate"
    serial = json.loads(state.read_text())["serial"]
    stack = {p.name: p.read_bytes() for p in (sb.stacks / "production").iterdir() if p.is_file()}
    sb.config.write_text(sb.config.read_text().replace('image = "ubuntu-22.04"',
                                                       'image = "ubuntu-24.04"'))
    for extra in ((), ("--allow-replace",)):
        refused = _switch(sb, "ccx33", *extra)
        assert refused.returncode == 7, refused.stdout + refused.stderr
        errors = [ln for ln in refused.stderr.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and "refusing a plan that can lose the data" in errors[0]
        assert "hcloud_server.db would be" in errors[0] and "--accept-data-loss" in errors[0]
        assert "Traceback" not in refused.stderr
        assert json.loads(state.read_text())["serial"] == serial
        assert {p.name: p.read_bytes() for p in (sb.stacks / "production").iterdir()
                if p.is_file()} == stack
        assert not sb.directory.joinpath(*RECORD).exists()
    assert len(sb.client().servers.get_all()) == 3



def test_a_switch_down_stopped_by_sigint_in_its_last_apply_is_finished_by_a_rerun(sb):
    from tests.pipeline.test_switch_e2e import interrupt_switch_mid_apply
    _ok(sb.cli("deploy", "--profile", "3-tier", timeout=600))
    api = sb.client()
    db = next(s for s in api.servers.get_all() if s.name.endswith("-db"))
    (volume,) = api.volumes.get_all()
    _ok(_switch(sb))
    sandbox_env.age_recorded_time(sb.directory.joinpath(*RECORD), "dns_at", 3601)
    # Slow the db server's update so the signal lands while terraform renames it.
    sb.fault(count=4, latency_ms=1500, path_prefix=f"/servers/{db.id}")
    interrupt_switch_mid_apply(sb, "ccx33", wait_s=240)
    sb.clear_faults()
    record = json.loads(sb.directory.joinpath(*RECORD).read_text())
    assert record["stage"] == "single"
    (row,) = [c for c in _verify(sb) if c["name"] == "Tier switch finished"]
    assert "single-server stack is still to be applied" in row["detail"]

    rerun = _ok(_switch(sb))
    assert "3-tier -> ccx33 finished" in rerun.stdout
    (server,) = api.servers.get_all()
    assert server.id == db.id and api.volumes.get_by_id(volume.id).server.id == db.id
    assert api.load_balancers.get_all() == [] and api.networks.get_all() == []
    assert json.loads(_ok(sb.cli("plan", "--json")).stdout)["has_changes"] is False
    assert not sb.directory.joinpath(*RECORD).exists()

# --- with machines: the app, its data and a user all the while ------------------------------

from tests.examples.appkit import http  # noqa: E402
from tests.pipeline.test_tier_switch_e2e import PG, REDIS, Client, switch_sb  # noqa: E402,F401


def test_3_tier_to_ccx33_keeps_every_row_and_key_and_a_user_fails_only_in_the_db_restart(switch_sb):
    sb = switch_sb
    _ok(sb.cli("generate", "--profile", "3-tier"))
    _ok(sb.cli("deploy", "--profile", "3-tier", timeout=900))
    before = json.loads(_ok(sb.cli("outputs", "--json")).stdout)
    lb, volume_id = before["load_balancer_ipv4"], before["volume_id"]
    db = next(h for h in before["hosts"] if h["role"] == "db")
    for note in ("one", "two", "three"):
        assert http(lb, "POST", "/notes", note)[0] == 201
    assert _ask(sb, "app.example.com", "A") == [lb]

    client = Client(sb)
    client.start()
    try:
        first = _ok(_switch(sb))
        assert "stays on the db server" in first.stdout
        assert _ask(sb, "app.example.com", "A") == [db["ipv4"]]
        # The whole app on the db server, over its public address: every row and key.
        assert http(db["ipv4"], "GET", "/notes/count") == (200, {"rows": 3, "written": 3,
                                                                 "last": "three"})
        assert http(lb, "GET", "/health")[0] == 200          # the load balancer still serves
        sandbox_env.age_recorded_time(sb.directory.joinpath(*RECORD), "dns_at", 301)
        start = len(client.log)
        second = _ok(_switch(sb))
        end = len(client.log)
        assert "3-tier -> ccx33 finished" in second.stdout
        time.sleep(1)       # a few more requests after the end
    finally:
        client.stop.set()
        client.join(30)
    after = json.loads(_ok(sb.cli("outputs", "--json")).stdout)
    (host,) = after["hosts"]
    assert host["id"] == db["id"] and after["volume_id"] == volume_id
    assert host["ipv4"] == db["ipv4"] and after.get("load_balancer_ipv4") in (None, "")
    api = sb.client()
    assert api.volumes.get_by_id(volume_id).server.id == db["id"]
    assert len(api.servers.get_all()) == 1 and api.load_balancers.get_all() == []
    assert api.networks.get_all() == []
    # The user: the load balancer until DNS moved, then the db server, never a failure.
    # The user: the load balancer until DNS moved, then the db server. Never a failure
    # through the whole first run (the app comes to the db server, DNS moves) nor after
    # the end. The one window of failures is in the last stage: PostgreSQL and Redis lose
    # their private-network ports, and a container's ports cannot change while it runs,
    # so they restart once (and the backend, which depends on them, with them).
    assert [a for a, _, _ in client.log if a not in (lb, db["ipv4"])] == []
    moved = next(i for i, (a, _, _) in enumerate(client.log) if a == db["ipv4"])
    assert all(a == db["ipv4"] for a, _, _ in client.log[moved:])
    assert [d for _, good, d in client.log[:start] if not good] == []
    assert [d for _, good, d in client.log[end:] if not good] == []
    failed = [i for i, (_, good, _) in enumerate(client.log) if not good]
    print(f"requests: {len(client.log)}; failed: {len(failed)}, all during the last stage "
          f"({end - start} requests)")
    assert all(start <= i < end and client.log[i][0] == db["ipv4"] for i in failed)
    windows = [i for i in failed if i - 1 not in failed]
    print(f"failure windows start at {windows}; first kinds: "
          f"{sorted({client.log[i][2][:60] for i in failed})[:6]}")
    assert sum(1 for _, good, _ in client.log[moved:] if good) > 20
    assert http(db["ipv4"], "GET", "/notes/count") == (200, {"rows": 3, "written": 3,
                                                             "last": "three"})
    assert http(db["ipv4"], "POST", "/notes", "four")[0] == 201
    assert json.loads(_ok(sb.cli("plan", "--json")).stdout)["has_changes"] is False
    assert not sb.directory.joinpath(*RECORD).exists()
    for done in (first, second):
        assert PG not in done.stdout + done.stderr and REDIS not in done.stdout + done.stderr


def test_3_tier_to_ccx43_rescales_the_db_server_in_place(sb):
    _ok(sb.cli("deploy", "--profile", "3-tier", timeout=600))
    api = sb.client()
    db = next(s for s in api.servers.get_all() if s.name.endswith("-db"))
    (volume,) = api.volumes.get_all()
    first = _ok(_switch(sb, "ccx43"))
    assert "rescaled in place from ccx33 to ccx43" in first.stdout
    assert "after: 1 x server ccx43 (rescaled: " in first.stdout     # the current price row
    sandbox_env.age_recorded_time(sb.directory.joinpath(*RECORD), "dns_at", 3601)
    _ok(_switch(sb, "ccx43"))
    (server,) = api.servers.get_all()
    assert server.id == db.id and server.server_type.name == "ccx43"
    assert server.primary_disk_size == db.primary_disk_size          # keep_disk
    assert server.status == "running"
    assert api.volumes.get_by_id(volume.id).server.id == db.id
    assert json.loads(_ok(sb.cli("plan", "--json")).stdout)["has_changes"] is False

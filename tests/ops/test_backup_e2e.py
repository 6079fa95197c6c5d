"""Backups of the example app on a sandbox machine, through the CLI as a user runs it.

deploy with [backup] (agent + units installed; no systemd on sandbox machines,
so the timers are written but not active), rows and keys written through the
app, `backup now`, wipe, `restore --target live` -> every row and key back and
the counts match the manifest; a corrupted backup is caught by the scratch
drill and refused by a live restore; a backup killed midway leaves the earlier
ones intact and `backup status` failed."""
from __future__ import annotations

import json
import os

import pytest

from remote import backup_commands as b
from tests.examples.appkit import http
from tests.pipeline import sandbox_env

pytestmark = pytest.mark.e2e

RANGE = os.environ.get("HD_TEST_MACHINE_RANGE", "198.18.82.0/24")
PG_SECRET, REDIS_SECRET = "pg-secret-5e1f0a77", "redis-secret-93bd24c1"


@pytest.fixture
def app_sb(tmp_path, make_config, monkeypatch):
    public = sandbox_env.login_key(tmp_path)
    sandbox_env.example_app(tmp_path / "app", f"PROJECT=example\nPOSTGRES_USER=app\n"
                            f"POSTGRES_DB=app\nPOSTGRES_PASSWORD={PG_SECRET}\n"
                            f"REDIS_PASSWORD={REDIS_SECRET}\n")
    config = make_config(sandbox_env.machines_toml(
        RANGE, '\n[app]\ncompose = "app/docker-compose.yml"\nenv_file = "app/.env"\n'
        'files = ["backend/app.py", "ai/worker.py"]\nhealth_timeout_s = 120\n'
        '\n[backup]\nschedule = "*-*-* 03:15:00"\nstale_after_hours = 26\n'), key=public)
    with sandbox_env.machines_sandbox(tmp_path, config, monkeypatch, RANGE,
                                      ["python", "redis", "postgres"]) as (box, _):
        yield box, tmp_path


_ok = sandbox_env.ok


def _server(tmp_path, ip, argv, timeout=120):
    """One command on the server over SSH, with the pinned host key the deploy stored."""
    from remote import hostkeys
    from remote.ssh import Target, connect, run_sync
    target = Target(ip, hostkeys.load_public("production", "autoscale-ai-production"),
                    str(tmp_path / "id_test"))

    async def go():
        async with connect(target) as conn:
            return await conn.run(argv, check=False, timeout=timeout)
    return run_sync(go())


def test_backup_wipe_restore_live_corrupt_and_killed(app_sb):
    sb, tmp_path = app_sb
    where = ["--stacks-dir", str(sb.stacks), "--config", str(sb.config)]
    outputs = []
    outputs.append(_ok(sb.cli("generate", "--profile", "ccx33")))
    deployed = _ok(sb.cli("deploy", "--profile", "ccx33", timeout=600))
    outputs.append(deployed)
    assert "backup units written, timers not active (no systemd on this server)" in deployed.stdout
    ip = json.loads(_ok(sb.cli("outputs", "--json")).stdout)["hosts"][0]["ipv4"]
    units = _server(tmp_path, ip, ["cat", f"{b.UNIT_DIR}/{b.BACKUP_UNIT}.timer"])
    assert "OnCalendar=*-*-* 03:15:00" in units.stdout

    for note in ("one", "two", "three"):
        assert http(ip, "POST", "/notes", note)[0] == 201
    assert http(ip, "GET", "/notes/count") == (200, {"rows": 3, "written": 3, "last": "three"})

    now = _ok(sb.cli("backup", "now", *where, timeout=300))
    outputs.append(now)
    first = now.stdout.split("backup ")[1].split()[0]
    listed = _ok(sb.cli("backup", "list", "--json", *where))
    [local] = json.loads(listed.stdout)["autoscale-ai-production"]["local"]
    assert local["name"] == first and local["bytes"] > 0
    human = _ok(sb.cli("backup", "list", *where))
    assert f"  local     {first}  " in human.stdout and " ago " in human.stdout
    outputs.append(_ok(sb.cli("backup", "status", *where)))
    manifest = json.loads(_server(tmp_path, ip, ["cat", f"{b.DATA}/{first}/manifest.json"]).stdout)
    assert manifest["postgres"]["counts"] == {"public.notes": 3}
    assert manifest["redis"]["counts"] == {"db0": 2}     # notes:written, notes:last

    # The scratch drill: throwaway containers of the app's images on no network, then gone.
    drilled = _ok(sb.cli("restore", "--from", first, *where, timeout=300))
    assert "restore drill ok" in drilled.stdout
    assert '"public.notes": 3' in drilled.stdout and '"db0": 2' in drilled.stdout
    leftovers = _server(tmp_path, ip, ["docker", "ps", "--all", "--quiet", "--filter",
                                       "name=hd-scratch"])
    assert leftovers.exit_status == 0 and leftovers.stdout.strip() == ""

    # Wipe both databases (and write a row that is not in the backup).
    pg = b.exec_in("autoscale-ai", "postgres", b.PG_WRAPPER)
    redis = b.exec_in("autoscale-ai", "redis", b.REDIS_WRAPPER)
    assert _server(tmp_path, ip, [*pg, "psql", "-d", "app", "-c", "TRUNCATE notes"]).exit_status == 0
    assert _server(tmp_path, ip, [*redis, "redis-cli", "FLUSHALL"]).exit_status == 0
    assert http(ip, "POST", "/notes", "after the backup")[0] == 201
    assert http(ip, "GET", "/notes/count")[1]["rows"] == 1

    refused = sb.cli("restore", "--from", first, "--target", "live", *where)
    assert refused.returncode == 7 and "--yes-i-mean production" in refused.stderr
    wrong = sb.cli("restore", "--from", first, "--target", "live", "--yes-i-mean", "staging", *where)
    assert wrong.returncode == 7
    live = _ok(sb.cli("restore", "--from", first, "--target", "live", "--yes-i-mean",
                      "production", *where, timeout=600))
    outputs.append(live)
    assert "3 rows in 1 tables, 2 keys; counts match the manifest" in live.stdout
    assert http(ip, "GET", "/notes/count") == (200, {"rows": 3, "written": 3, "last": "three"})
    fresh = live.stdout.split("the data from before is backup ")[1].split()[0]

    # A corrupted backup: the drill says so, a live restore refuses and changes nothing.
    dump = f"{b.DATA}/{fresh}/postgres.dump"
    assert _server(tmp_path, ip, ["truncate", "-s", "-64", dump]).exit_status == 0
    scratch = sb.cli("restore", "--from", fresh, *where, timeout=300)
    assert scratch.returncode == 8 and "corrupted" in scratch.stderr
    # One error line (after the CLI's "target:" notice), no traceback.
    assert "Traceback" not in scratch.stderr
    assert [ln for ln in scratch.stderr.splitlines() if not ln.startswith("target: ")] == \
        [scratch.stderr.splitlines()[-1]] and "error: " in scratch.stderr.splitlines()[-1]
    bad = sb.cli("restore", "--from", fresh, "--target", "live", "--yes-i-mean", "production",
                 *where, timeout=300)
    assert bad.returncode == 7 and "refused" in bad.stderr and "Traceback" not in bad.stderr
    assert http(ip, "GET", "/notes/count")[1]["rows"] == 3

    # A backup killed midway: earlier backups intact, status failed, no partial left.
    before = sorted(_server(tmp_path, ip, ["ls", str(b.DATA)]).stdout.split())
    killed = _server(tmp_path, ip, ["timeout", "-s", "KILL", "0.5", *b.agent("backup")])
    assert killed.exit_status != 0      # killed (asyncssh reports the signal, not 137)
    status = sb.cli("backup", "status", *where)
    assert status.returncode == 1 and "failed" in status.stdout, status.stdout + status.stderr
    after = _server(tmp_path, ip, ["ls", str(b.DATA)]).stdout.split()
    assert [n for n in sorted(after) if not n.endswith(".partial")] == before
    assert _ok(sb.cli("restore", "--from", first, *where, timeout=300))
    verify = sb.cli("verify", "--after", "--json", "--config", str(sb.config))
    rows = {c["name"]: c for c in json.loads(verify.stdout)["checks"]}
    assert rows["autoscale-ai-production: backup status"]["status"] == "fail"

    # `rollback` explains what can go back: one release only, no migration cut-over.
    listing = _ok(sb.cli("rollback", *where))
    assert "nothing to roll back to (no earlier good release)" in listing.stdout
    assert "dns:   nothing to roll back (no migration cut-over)" in listing.stdout

    for done in outputs + [scratch, bad, status, verify, refused]:
        assert PG_SECRET not in done.stdout + done.stderr
        assert REDIS_SECRET not in done.stdout + done.stderr
    config_json = _server(tmp_path, ip, ["cat", str(b.CONFIG)]).stdout
    assert PG_SECRET not in config_json and REDIS_SECRET not in config_json
    # No local file the tool wrote holds them either (the server's own files are under machines/).
    for path in tmp_path.rglob("*"):
        if path.is_file() and path != tmp_path / "app" / ".env" and "machines" not in path.parts:
            try:
                data = path.read_bytes()
            except OSError:
                continue
            assert PG_SECRET.encode() not in data and REDIS_SECRET.encode() not in data, path

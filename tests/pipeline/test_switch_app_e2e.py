"""A tier switch with the example app on sandbox machines: a note written to
PostgreSQL before `switch --to ccx43` is read after it. The machine really
restarts (a new PID 1: power off, change type, power on), the data on the
volume survives, and the switch waits until the app answers its health path."""
from __future__ import annotations

import json
import os

import pytest

from remote import hostkeys
from tests.examples.appkit import http, wait_health
from tests.pipeline import sandbox_env
from tests.sandbox.machines.machinekit import BOOT_ID, ssh

pytestmark = pytest.mark.e2e

RANGE = os.environ.get("HD_TEST_MACHINE_RANGE", "198.18.83.0/24")


_ok = sandbox_env.ok


@pytest.fixture
def example_sb(tmp_path, make_config, monkeypatch):
    """The example app beside its deploy.toml (as examples/app/sandbox.toml lays it out),
    its .env with random passwords, and a sandbox with machines on this test's range."""
    public = sandbox_env.login_key(tmp_path)
    sandbox_env.example_app_here(tmp_path, "switch")
    config = make_config(sandbox_env.machines_toml(
        RANGE, '\n[app]\ncompose = "docker-compose.yml"\nenv_file = ".env"\n'
        'files = ["backend/app.py", "ai/worker.py"]\nhealth_path = "/health"\n'
        'health_timeout_s = 120\n'), key=public)
    with sandbox_env.machines_sandbox(tmp_path, config, monkeypatch, RANGE,
                                      ["python", "redis", "postgres"]) as (box, _):
        yield box, tmp_path


def test_a_note_written_before_the_switch_is_read_after_it(example_sb):
    sb, home = example_sb
    # Pin the host keys first, as a user's `generate` does (tests/app does the same).
    _ok(sb.cli("generate", "--profile", "ccx33"))
    deployed = _ok(sb.cli("deploy", "--profile", "ccx33", timeout=600))
    assert "[app] done" in deployed.stdout, deployed.stdout
    out = json.loads(_ok(sb.cli("outputs", "--json")).stdout)
    (host,) = out["hosts"]
    ip, server_id = host["ipv4"], int(host["id"])
    wait_health(ip, 200)
    assert http(ip, "POST", "/notes", "written before the switch")[0] == 201
    key = (home / "id_test").read_text()
    host_public = hostkeys.load_public("production", host["name"])
    boot_before = ssh(ip, BOOT_ID, key, host_public).stdout.strip()

    switched = _ok(sb.cli("switch", "--to", "ccx43", "--stacks-dir", str(sb.stacks),
                          "--config", str(sb.config), timeout=600))
    assert "switch ccx33 -> ccx43" in switched.stdout and "data path:" in switched.stdout
    assert f"[switch] {host['name']} is back (SSH and Docker answer)" in switched.stdout
    assert f"[switch] healthy: {host['name']}: http://{ip}/health HTTP 200" in switched.stdout

    client = sb.client()
    server = client.servers.get_by_id(server_id)
    assert server.server_type.name == "ccx43" and server.status == "running"
    assert client.volumes.get_by_id(out["volume_id"]).server.id == server_id
    # The host really restarted, and what PostgreSQL held is still there.
    assert ssh(ip, BOOT_ID, key, host_public).stdout.strip() != boot_before
    status, body = wait_health(ip, 200)
    assert body["checks"] == {"postgres": "ok", "redis": "ok"}
    assert http(ip, "GET", "/notes/count") == \
        (200, {"rows": 1, "written": 1, "last": "written before the switch"})
    assert json.loads(_ok(sb.cli("plan", "--json")).stdout)["has_changes"] is False

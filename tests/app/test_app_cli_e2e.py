"""`deploy` with [app] on the sandbox: machines boot, the app answers; `app` commands; verify --after."""
from __future__ import annotations

import json
import os
import urllib.request

import asyncssh
import pytest

from sandbox.machines.images import build
from tests.conftest import BASE_TOML
from tests.pipeline import sandbox_env

pytestmark = pytest.mark.e2e

SECRET = "cli-secret-4b1d9e"
# Benchmark space, apart from the default and other tests' ranges; HD_TEST_MACHINE_RANGE when
# several runs share the host.
RANGE = os.environ.get("HD_TEST_MACHINE_RANGE", "198.18.91.0/24")
HOST = RANGE.rsplit(".", 1)[0] + ".1"      # the bridge's host-side address

COMPOSE = """version: "3.7"
services:
  web:
    image: sandbox/busybox
    command: ["sh", "-c", "mkdir -p /www && echo $$VERSION > /www/health && exec httpd -f -p 8000 -h /www"]
    env_file: [.env]
    environment:
      VERSION: "%s"
    ports: ["80:8000"]
    init: true
"""


@pytest.fixture
def app_sb(tmp_path, make_config, monkeypatch):
    from sandbox import manager
    monkeypatch.setenv("HETZNER_DEPLOY_MACHINE_RANGE", RANGE)
    key = asyncssh.generate_private_key("ssh-ed25519")
    (tmp_path / "id_test").write_bytes(key.export_private_key())
    os.chmod(tmp_path / "id_test", 0o600)
    app = tmp_path / "app"
    app.mkdir()
    (app / "compose.yaml").write_text(COMPOSE % "v1")
    (app / ".env").write_text(f"API_KEY={SECRET}\n")
    os.chmod(app / ".env", 0o600)
    # SSH must be allowed from the sandbox bridge's host address (the machine's firewall is enforced).
    base = BASE_TOML.replace('allow = ["203.0.113.7/32"]', f'allow = ["{HOST}/32"]')
    config = make_config(base + '\n[app]\ncompose = "app/compose.yaml"\nenv_file = "app/.env"\n'
                         'health_timeout_s = 20\nkeep = 3\n',
                         key=key.export_public_key().decode().strip())
    directory = tmp_path / "sandbox"
    build(directory / "images", ["busybox"])
    import shutil
    stacks = tmp_path / "stacks"
    shutil.copytree(sandbox_env.REPO / "terraform" / "stacks", stacks)
    info = manager.up(directory, machines=True)
    box = sandbox_env.Sandbox(directory, stacks, config, info.endpoint, info.token)
    try:
        yield box, app
    finally:
        manager.down(directory)


def _ok(done):
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def _get(ip: str) -> str:
    with urllib.request.urlopen(f"http://{ip}/health", timeout=5) as r:
        return r.read().decode().strip()


def test_deploy_with_app_then_noop_change_releases_rollback_and_verify(app_sb, tmp_path):
    sb, app = app_sb
    first = _ok(sb.cli("generate", "--profile", "ccx33"))
    assert "host key  autoscale-ai-production: created" in first.stdout
    deployed = _ok(sb.cli("deploy", "--profile", "ccx33", timeout=400))
    assert "[app] done" in deployed.stdout, deployed.stdout
    ip = json.loads(_ok(sb.cli("outputs", "--json")).stdout)["hosts"][0]["ipv4"]
    assert ip.startswith(RANGE.rsplit(".", 1)[0] + ".")
    assert _get(ip) == "v1"

    again = _ok(sb.cli("deploy", "--profile", "ccx33", timeout=300))
    assert "unchanged" in again.stdout

    (app / "compose.yaml").write_text(COMPOSE % "v2")
    changed = _ok(sb.cli("app", "deploy", "--stacks-dir", str(sb.stacks), "--config", str(sb.config)))
    assert "live at http://" in changed.stdout and _get(ip) == "v2"
    listed = _ok(sb.cli("app", "releases", "--stacks-dir", str(sb.stacks), "--config", str(sb.config)))
    assert listed.stdout.count(" ok") == 1 and listed.stdout.count(" current") == 1

    back = _ok(sb.cli("app", "rollback", "--stacks-dir", str(sb.stacks), "--config", str(sb.config)))
    assert "rolled back to" in back.stdout and _get(ip) == "v1"

    after = sb.cli("verify", "--after", "--json", "--config", str(sb.config))
    status = {c["name"]: c["status"] for c in json.loads(after.stdout)["checks"]}
    name = "autoscale-ai-production"
    assert status[f"{name}: SSH with the pinned host key"] == "ok"
    assert status[f"{name}: containers running"] == "ok"
    assert status[f"{name}: .env mode 0600 root"] == "ok"
    assert status[f"{name}: port 5432 closed from outside"] == "ok"
    assert status[f"{name}: port 6379 closed from outside"] == "ok"

    # A broken release through the CLI: exit 8, the container's last lines above the error, v1 still answers.
    (app / "compose.yaml").write_text(COMPOSE.replace(
        "mkdir -p /www && echo $$VERSION > /www/health && exec httpd -f -p 8000 -h /www",
        "echo broken-cli-marker $$API_KEY; exit 3") % "v3")
    broken = sb.cli("app", "deploy", "--stacks-dir", str(sb.stacks), "--config", str(sb.config))
    assert broken.returncode == 8, broken.stdout + broken.stderr
    lines = broken.stderr.splitlines()
    assert any(ln.startswith("  | ") and "broken-cli-marker ***" in ln for ln in lines), broken.stderr
    assert lines[-1].startswith("error: ") and "rolled back to" in lines[-1]
    assert _get(ip) == "v1"

    # The .env content is in no output and no local file the tool wrote.
    for done in (first, deployed, again, changed, listed, back, after, broken):
        assert SECRET not in done.stdout + done.stderr
    for path in tmp_path.rglob("*"):
        if path.is_file() and path != app / ".env" and "machines" not in path.parts:
            try:
                assert SECRET.encode() not in path.read_bytes(), path
            except OSError:
                pass

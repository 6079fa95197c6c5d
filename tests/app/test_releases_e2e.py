"""Releases on a real sandbox machine (sshd + Docker + Compose), over the pinned SSH layer."""
from __future__ import annotations

import asyncio
import json
import threading
import urllib.request

import pytest
from hcloud.images import Image
from hcloud.server_types import ServerType

from app.releases import AppSpec, ReleaseFailed, deploy, list_releases, rollback
from errors import RemoteError
from remote import commands as c
from remote import hostkeys
from remote.ssh import Target, connect, run_sync
from sandbox.machines.images import build
from tests.sandbox.machines.machinekit import cloud_config, wait_boot_finished

pytestmark = pytest.mark.e2e

PROJECT = "shop"
SECRET = "s3cr3t-never-shown-9f1c"


def compose(version: str, broken: bool = False) -> bytes:
    start = ("echo broken-start-marker $$API_KEY; exit 3" if broken else
             'mkdir -p /www && echo "$$VERSION" > /www/health && exec httpd -f -p 8000 -h /www')
    return f"""version: "3.7"
services:
  web:
    image: sandbox/busybox
    command: {json.dumps(["sh", "-c", start])}
    env_file: [.env]
    environment:
      VERSION: "{version}"
    ports: ["80:8000"]
    init: true
""".encode()


def spec(version: str = "v1", *, broken: bool = False, env: str = SECRET, timeout: float = 20) -> AppSpec:
    return AppSpec(PROJECT, compose(version, broken), f"API_KEY={env}\n".encode(),
                   health_timeout_s=timeout, keep=3)


@pytest.fixture
def server(machines_sandbox, tmp_path):
    sb = machines_sandbox
    build(sb.dir / "images", ["busybox"])
    key, _ = hostkeys.ensure("e2e", "app-1", tmp_path / "keys")
    created = sb.client.servers.create(name="app-1", server_type=ServerType(name="cpx12"),
                                       image=Image(name="ubuntu-24.04"), ssh_keys=[sb.ssh_key()],
                                       user_data=cloud_config(key.private_openssh)).server
    ip = created.public_net.ipv4.ip
    wait_boot_finished(ip, sb.client_key, key.public)
    return Target(ip, key.public, str(sb.dir / "client"), name="app-1")


def on(target, steps):
    async def main():
        async with connect(target) as conn:
            return await steps(conn)
    return run_sync(main())


def body(target) -> str:
    with urllib.request.urlopen(f"http://{target.address}/health", timeout=5) as r:
        return r.read().decode().strip()


def test_deploy_noop_change_broken_rollback_and_manual_rollback(server, capsys):
    first = on(server, lambda conn: deploy(conn, spec("v1")))
    assert first.status == "deployed" and first.previous is None
    assert body(server) == "v1"
    # .env on the server: 0600 root, and the app got its value.
    mode = on(server, lambda conn: conn.run(c.env_mode(PROJECT))).stdout.split()
    assert mode == ["600", "root"]

    again = on(server, lambda conn: deploy(conn, spec("v1")))
    assert again.status == "unchanged" and again.release == first.release

    second = on(server, lambda conn: deploy(conn, spec("v2")))
    assert second.status == "deployed" and second.previous == first.release
    assert body(server) == "v2"

    with pytest.raises(ReleaseFailed) as info:
        on(server, lambda conn: deploy(conn, spec("v3", broken=True, timeout=6)))
    assert f"rolled back to {second.release}" in info.value.message
    assert any(line.endswith("broken-start-marker ***") for line in info.value.log_tail)
    assert info.value.exit_code == 8
    assert body(server) == "v2"        # the old release answers again

    manual = on(server, lambda conn: rollback(conn, spec()))
    assert manual.release == first.release and body(server) == "v1"
    listed = on(server, lambda conn: list_releases(conn, PROJECT))
    assert {r.name: r.status for r in listed} == {first.release: "current", second.release: "ok",
                                                  spec("v3", broken=True).release: "failed"}
    with pytest.raises(RemoteError, match="no release 'nope'"):
        on(server, lambda conn: rollback(conn, spec(), "nope"))

    # Pruning keeps 3 (current included) and touches only folders that carry our marker.
    on(server, lambda conn: conn.run(["mkdir", "-p", f"/opt/{PROJECT}/releases/not-ours"]))
    for v in ("v4", "v5"):
        on(server, lambda conn, v=v: deploy(conn, spec(v)))
    listed = on(server, lambda conn: list_releases(conn, PROJECT))
    assert len(listed) == 3 and listed[-1].status == "current"
    ls = on(server, lambda conn: conn.run(["ls", f"/opt/{PROJECT}/releases"])).stdout.split()
    assert "not-ours" in ls
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err + str(info.value) + "\n".join(info.value.log_tail)


def test_a_noop_asks_the_server_and_notices_changes_made_behind_its_back(server):
    """The no-op is decided by what the server reports, not by anything kept locally."""
    first = on(server, lambda conn: deploy(conn, spec("v1")))
    assert on(server, lambda conn: deploy(conn, spec("v1"))).status == "unchanged"
    folder = f"/opt/{PROJECT}/releases/{first.release}"
    # Someone edits the live .env by hand: same release id, other bytes on the server.
    on(server, lambda conn: conn.upload(f"{folder}/.env", b"API_KEY=edited-by-hand\n", 0o600))
    fixed = on(server, lambda conn: deploy(conn, spec("v1")))
    assert fixed.status == "deployed" and fixed.release == first.release
    assert on(server, lambda conn: conn.run(["cat", f"{folder}/.env"])).stdout == f"API_KEY={SECRET}\n"
    # Someone stops the app: nothing runs, so the same release is started again.
    on(server, lambda conn: conn.run(c.compose(PROJECT, first.release, "stop")))
    assert on(server, lambda conn: deploy(conn, spec("v1"))).status == "deployed"
    assert body(server) == "v1"
    assert on(server, lambda conn: deploy(conn, spec("v1"))).status == "unchanged"


def test_two_deploys_at_once_one_waits_for_the_lock(server):
    async def both():
        async with connect(server) as a, connect(server) as b:
            return await asyncio.gather(deploy(a, spec("v1")), deploy(b, spec("v1")),
                                        return_exceptions=True)
    results = run_sync(both())
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], RemoteError)
    assert "deploy lock" in errors[0].message and "--break-lock" in errors[0].message
    assert body(server) == "v1"
    # The lock is gone after the winner finished.
    assert on(server, lambda conn: deploy(conn, spec("v1"))).status == "unchanged"


def test_a_stale_lock_is_reported_and_broken_on_request(server):
    on(server, lambda conn: conn.run(["mkdir", "-p", f"/opt/{PROJECT}/.deploy-lock"]))
    on(server, lambda conn: conn.upload(f"/opt/{PROJECT}/.deploy-lock/owner",
                                        b'{"owner": "ci@runner", "pid": 7, "time": 1000, '
                                        b'"command": "app deploy"}', 0o600))
    with pytest.raises(RemoteError, match=r"held by ci@runner \(pid 7\) running `app deploy` for \d+ s \(stale\)"):
        on(server, lambda conn: deploy(conn, spec("v1")))
    assert on(server, lambda conn: deploy(conn, spec("v1"), break_lock=True)).status == "deployed"


def test_a_connection_killed_mid_release_converges_on_the_next_deploy(server):
    async def cut():
        async with connect(server) as conn:
            task = asyncio.create_task(deploy(conn, spec("v1")))
            # Wait until the release folder exists, then drop the connection under it.
            async with connect(server) as watch:
                for _ in range(200):
                    done = await watch.run(["test", "-e", f"/opt/{PROJECT}/releases/{spec('v1').release}"],
                                           check=False)
                    if done.exit_status == 0:
                        break
                    await asyncio.sleep(0.02)
            conn._conn.abort()
            with pytest.raises(RemoteError):
                await task
    run_sync(cut())
    outcome = on(server, lambda conn: deploy(conn, spec("v1"), break_lock=True))
    assert outcome.status in ("deployed", "unchanged")
    assert body(server) == "v1"


def test_the_wrong_host_key_is_refused(server, tmp_path):
    other, _ = hostkeys.ensure("e2e", "other", tmp_path / "other")
    from dataclasses import replace
    with pytest.raises(RemoteError, match="host key does not match the pinned key"):
        on(replace(server, host_public=other.public), lambda conn: deploy(conn, spec("v1")))


def test_adopting_an_unpinned_server_pins_what_it_presents(server, tmp_path, monkeypatch):
    """trust_host_keys: explicit TOFU; afterwards the SSH layer trusts exactly that key."""
    from app.service import trust_host_keys
    from runner.outputs import Host, StackOutputs
    from types import SimpleNamespace
    monkeypatch.setenv("HETZNER_DEPLOY_KEYS_DIR", str(tmp_path / "adopted"))
    outputs = StackOutputs(hosts=(Host("app-1", "all-in-one", server.address),), volume_id=1, ssh_key_id=1)
    config = SimpleNamespace(environment="e2e")
    ((name, fp, new),) = trust_host_keys(config, outputs)
    assert name == "app-1" and new and fp == hostkeys.fingerprint(server.host_public)
    assert hostkeys.load_public("e2e", "app-1") == server.host_public
    assert trust_host_keys(config, outputs)[0][2] is False   # a second run changes nothing

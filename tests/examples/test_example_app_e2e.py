"""examples/app on a real sandbox machine: shipped over SSH (pinned host key),
started with `docker compose up -d`, reached from the host on the server's
address port 80. /health really checks PostgreSQL and Redis, the data ports
stay private, and notes survive `compose down` + `up` and a machine reboot
(their data sits on the Hetzner volume at /mnt/data)."""
from __future__ import annotations

import socket

import pytest
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.server_types import ServerType

from sandbox.machines.images import build
from tests.examples.appkit import START, compose, http, ship, wait_health
from tests.sandbox.machines.machinekit import (BOOT_ID, cloud_config, keypair, ssh, wait_boot_finished,
                                               wait_restarted)
from tests.sandbox.machines import machinekit
from tests.sandbox.machines.machinekit import machines_sandbox  # noqa: F401 - a fixture

pytestmark = pytest.mark.e2e
# A range of its own (still RFC 2544 space), so this test and the machines
# tests can run at the same time on one host (the guard refuses overlaps).
APP_RANGE = "198.18.78.0/24"


@pytest.fixture
def app_sandbox(monkeypatch):
    monkeypatch.setattr(machinekit, "TEST_RANGE", APP_RANGE)
    yield


def _refused(ip: str, port: int) -> bool:
    try:
        socket.create_connection((ip, port), timeout=2).close()
    except OSError:
        return True
    return False


def test_example_app_health_data_and_restarts(app_sandbox, machines_sandbox):
    sb = machines_sandbox
    build(sb.dir / "images", ["python", "redis", "postgres"])
    host_private, host_public = keypair(sb.dir, "hostkey")
    volume = sb.client.volumes.create(name="appdata", size=10, location=Location(name="nbg1"), format="ext4").volume
    extra = f"mounts:\n  - [/dev/disk/by-id/scsi-0HC_Volume_{volume.id}, /mnt/data, ext4, 'discard,nofail']\n"
    server = sb.client.servers.create(name="app-1", server_type=ServerType(name="cpx12"),
                                      image=Image(name="ubuntu-24.04"), ssh_keys=[sb.ssh_key()],
                                      user_data=cloud_config(host_private, extra), volumes=[volume],
                                      location=Location(name="nbg1")).server
    ip = server.public_net.ipv4.ip
    key = sb.client_key
    wait_boot_finished(ip, key, host_public)
    ship(ip, key, host_public, project="e2e")
    up = ssh(ip, f"cd /srv/app && {' '.join(START)}", key, host_public, timeout=180)
    assert up.exit_status == 0, up.stderr

    status, body = wait_health(ip, 200)
    assert body == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}}
    # Every container carries the project label (what `status`/`destroy` look for).
    labelled = ssh(ip, "docker ps -q --filter label=com.hetzner-deploy.project=e2e | wc -l", key, host_public)
    assert labelled.stdout.strip() == "4"
    # PostgreSQL and Redis are not published: nothing answers on the server's address.
    assert _refused(ip, 5432) and _refused(ip, 6379)

    assert http(ip, "POST", "/notes", "first note")[0] == 201
    assert http(ip, "POST", "/notes", "second note")[0] == 201
    assert http(ip, "GET", "/notes/count") == (200, {"rows": 2, "written": 2, "last": "second note"})
    assert http(ip, "POST", "/ask", "what does the ai stub say") == \
        (200, {"model": "stub", "words": 6, "summary": "what does the ai stub say"})

    # The health check is real: PostgreSQL stopped -> 503 naming it; back -> 200.
    assert compose(ip, key, host_public, "stop", "postgres").exit_status == 0
    status, body = http(ip, "GET", "/health")
    assert status == 503 and body["status"] == "unavailable"
    assert body["checks"]["redis"] == "ok" and body["checks"]["postgres"].startswith("postgres: ")
    assert http(ip, "GET", "/notes/count")[0] == 503
    assert compose(ip, key, host_public, "start", "postgres").exit_status == 0
    wait_health(ip, 200)

    # down + up: containers are new, the data is on the volume.
    assert compose(ip, key, host_public, "down").exit_status == 0
    assert _refused(ip, 80)
    assert compose(ip, key, host_public, "up", "-d").exit_status == 0
    wait_health(ip, 200)
    assert http(ip, "GET", "/notes/count") == (200, {"rows": 2, "written": 2, "last": "second note"})

    # A reboot (a new PID 1, every container killed) keeps the notes too.
    before = ssh(ip, BOOT_ID, key, host_public).stdout.strip()
    sb.client.servers.reboot(server).wait_until_finished()
    wait_restarted(ip, key, host_public, before)
    wait_boot_finished(ip, key, host_public)
    assert ssh(ip, f"cd /srv/app && {' '.join(START)}", key, host_public, timeout=180).exit_status == 0
    wait_health(ip, 200)
    assert http(ip, "GET", "/notes/count") == (200, {"rows": 2, "written": 2, "last": "second note"})
    files = sorted(p.name for p in (sb.dir / "machines" / "volumes" / str(volume.id)).iterdir())
    assert {"postgres", "redis"} <= set(files)

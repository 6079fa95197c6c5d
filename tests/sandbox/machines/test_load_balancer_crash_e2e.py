"""kill -9 of an emulator with machines leaves its load balancer's HAProxy
running in an orphaned namespace; the next `up` sweeps it (by recorded PID,
checked by command line) and builds the load balancer again; `down` leaves
nothing."""
from __future__ import annotations

import http.client
import os
import signal
import time
from pathlib import Path

import hcloud
import pytest
from hcloud.load_balancer_types import LoadBalancerType
from hcloud.load_balancers.domain import LoadBalancerHealthCheck, LoadBalancerService
from hcloud.locations import Location

from sandbox import manager
from sandbox.machines import sweep
from tests.sandbox.machines.machinekit import TEST_RANGE

pytestmark = pytest.mark.e2e


def _status(ip: str) -> int:
    conn = http.client.HTTPConnection(ip, 80, timeout=3)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status
    finally:
        conn.close()


def _wait_status(ip: str, want: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if _status(ip) == want:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{ip}:80 did not answer {want} within {timeout}s")


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_a_killed_emulator_leaves_an_lb_the_next_up_rebuilds(tmp_path, monkeypatch):
    monkeypatch.setenv("HETZNER_DEPLOY_MACHINE_RANGE", TEST_RANGE)
    d = tmp_path / "sb"
    info = manager.up(d, machines=True)
    try:
        client = hcloud.Client(token=info.token, api_endpoint=info.endpoint, poll_interval=0.05)
        service = LoadBalancerService(protocol="http", listen_port=80, destination_port=8080,
                                      health_check=LoadBalancerHealthCheck(protocol="tcp", port=8080, interval=15,
                                                                           timeout=10, retries=3))
        lb = client.load_balancers.create(name="lb", load_balancer_type=LoadBalancerType(name="lb11"),
                                          location=Location(name="fsn1"), services=[service]).load_balancer
        ip = lb.public_net.ipv4.ip
        _wait_status(ip, 503)   # HAProxy answers: no target behind it yet
        pidfile = d / "machines" / "lbs" / str(lb.id) / "pid"
        first = int(pidfile.read_text())

        os.kill(info.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _alive(info.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _alive(first)    # what a crash leaves: the proxy outlives its emulator

        info = manager.up(d, machines=True)
        assert not _alive(first)
        _wait_status(ip, 503)
        assert int(pidfile.read_text()) != first
    finally:
        manager.down(d)
    left = sweep.leftovers(d / "machines")
    assert not any(left.values()), left

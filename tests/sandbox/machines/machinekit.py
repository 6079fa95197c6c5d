"""Fixtures for sandbox machines: an emulator with the machine controller on
a test range, the official hcloud client bound to it, SSH keys, and SSH
helpers (asyncssh with a pinned host key). Every fixture that boots machines
tears them down in its finalizer and then checks that nothing is left."""
from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import hcloud
import pytest

from sandbox.emulator import make_server
from sandbox.machines import sweep
from sandbox.machines.controller import Controller

# A range of its own (RFC 2544 benchmark space, free on these hosts), so tests
# never collide with a developer's sandbox on the default 198.51.100.0/24.
# HD_TEST_MACHINE_RANGE: another free range, for two test runs on one host at once.
TEST_RANGE = os.environ.get("HD_TEST_MACHINE_RANGE", "198.18.77.0/24")
TOKEN = "machines-test-token"
REPO = Path(__file__).resolve().parents[3]


def keypair(directory: Path, name: str) -> tuple[str, str]:
    key = asyncssh.generate_private_key("ssh-ed25519")
    private = key.export_private_key().decode()
    public = key.export_public_key().decode().strip()
    (directory / name).write_text(private)
    (directory / name).chmod(0o600)
    return private, public


@dataclass
class Sandbox:
    client: hcloud.Client
    controller: Controller
    dir: Path
    client_key: str          # private key text for root's login
    client_pub: str

    def ssh_key(self):
        found = self.client.ssh_keys.get_by_name("test")
        return found or self.client.ssh_keys.create(name="test", public_key=self.client_pub)


@pytest.fixture
def machines_sandbox(tmp_path):
    server = make_server(tmp_path / "state", token=TOKEN, ip_range=TEST_RANGE)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    images = tmp_path / "images"
    controller = Controller(server.store, tmp_path / "machines", TEST_RANGE, images)
    private, public = keypair(tmp_path, "client")
    try:
        controller.start()
        yield Sandbox(hcloud.Client(token=TOKEN, api_endpoint=server.url, poll_interval=0.05), controller,
                      tmp_path, private, public)
    finally:
        try:
            controller.close()
        finally:
            sweep.sweep(tmp_path / "machines")
            server.shutdown()
            server.server_close()
    left = sweep.leftovers(tmp_path / "machines")
    assert not any(left.values()), left


def wait_port(ip: str, port: int, timeout: float = 30.0) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            with socket.create_connection((ip, port), timeout=0.5):
                return time.monotonic() - t0
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{ip}:{port} did not open within {timeout}s")


def wait_closed(ip: str, port: int, timeout: float = 30.0) -> None:
    """Until a connection to ip:port fails (a machine going down)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((ip, port), timeout=0.5).close()
        except OSError:
            return
        time.sleep(0.05)
    raise AssertionError(f"{ip}:{port} still open after {timeout}s")


def known_hosts(ip: str, host_public: str):
    return asyncssh.import_known_hosts(f"{ip} {host_public}\n")


async def _ssh(ip: str, argv_or_script: str, client_key: str, host_public: str, input: str | None, timeout: float):
    key = asyncssh.import_private_key(client_key)
    async with asyncssh.connect(ip, username="root", client_keys=[key], known_hosts=known_hosts(ip, host_public),
                                connect_timeout=10) as conn:
        return await asyncio.wait_for(conn.run(argv_or_script, input=input, check=False), timeout)


def ssh(ip: str, command: str, client_key: str, host_public: str, input: str | None = None,
        timeout: float = 120.0) -> asyncssh.SSHCompletedProcess:
    return asyncio.run(_ssh(ip, command, client_key, host_public, input, timeout))


def wait_boot_finished(ip: str, client_key: str, host_public: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    wait_port(ip, 22, timeout)
    while time.monotonic() < deadline:
        if ssh(ip, "test -e /var/lib/cloud/instance/boot-finished", client_key, host_public).exit_status == 0:
            return
        time.sleep(0.2)
    raise AssertionError(f"{ip}: cloud-init stand-in did not finish within {timeout}s")


def cloud_config(host_private: str, extra: str = "") -> str:
    key = "".join(f"    {line}\n" for line in host_private.strip().splitlines())
    return f"#cloud-config\nssh_keys:\n  ed25519_private: |\n{key}{extra}"


BOOT_ID = "cut -d' ' -f22 /proc/1/stat"   # PID 1's start time: new on every machine start


def wait_restarted(ip: str, client_key: str, host_public: str, before: str, timeout: float = 30.0) -> str:
    """Until the machine answers with a PID 1 other than `before` (the restart
    happens on the controller's thread, shortly after the API call)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            now = ssh(ip, BOOT_ID, client_key, host_public, timeout=5).stdout.strip()
        except (OSError, asyncssh.Error, asyncio.TimeoutError):
            now = before
        if now and now != before:
            return now
        time.sleep(0.1)
    raise AssertionError(f"{ip}: the machine did not restart within {timeout}s")

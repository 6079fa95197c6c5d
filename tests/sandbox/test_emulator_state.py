"""Persistence: a restart loses nothing, and a writer killed mid-save never
leaves a state file that fails to load."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sandbox.emulator.store import STATE_FILE, Store

from .conftest import TOKEN, RunningEmulator, start_emulator

REPO = Path(__file__).resolve().parents[2]


def _server(name):
    return {"name": name, "server_type": "cpx12", "image": "debian-12", "location": "hel1"}


def test_restart_keeps_resources_and_counters(tmp_path):
    first = start_emulator(tmp_path / "state")
    try:
        sid = first.api("POST", "/servers", _server("keep"))[1]["server"]["id"]
        first.api("POST", "/volumes", {"name": "data", "size": 20, "server": sid})
        first.admin("POST", "/_sandbox/availability", {"server_type": "cpx22", "location": "hel1", "available": False})
    finally:
        first.server.close()
    second = start_emulator(tmp_path / "state")
    try:
        servers = second.api("GET", "/servers")[1]["servers"]
        assert [s["name"] for s in servers] == ["keep"]
        assert servers[0]["volumes"] and servers[0]["public_net"]["ipv4"]["ip"]
        new = second.api("POST", "/servers", _server("new"))[1]["server"]
        assert new["id"] > sid  # ids are never reused after a restart
        assert new["public_net"]["ipv4"]["ip"] != servers[0]["public_net"]["ipv4"]["ip"]
        assert second.admin("GET", "/_sandbox/state")["unavailable"] == [["cpx22", "hel1"]]
    finally:
        second.server.close()


def test_leftover_temp_file_is_ignored(tmp_path):
    state = tmp_path / "state"
    store = Store(state)
    with store.lock:
        store.put("ssh_keys", {"id": store.new_id(), "name": "k", "labels": {}})
        store.save()
    (state / ".state.abc123.tmp").write_text('{"version": 1, "resources": {"ssh_ke')  # a killed writer's half file
    again = Store(state)
    assert [k["name"] for k in again.all("ssh_keys")] == ["k"]
    assert not list(state.glob(".state.*.tmp"))  # cleaned up on load


@pytest.mark.e2e  # five child processes, each killed after 0.4 s
def test_saves_are_atomic_under_kill(tmp_path):
    """A child saves a growing state in a loop and is SIGKILLed; whatever
    instant it dies at, state.json parses and loads."""
    state = tmp_path / "state"
    script = (
        "import sys\n"
        "from sandbox.emulator.store import Store\n"
        "s = Store(sys.argv[1])\n"
        "i = 0\n"
        "while True:\n"
        "    i += 1\n"
        "    s.put('ssh_keys', {'id': s.new_id(), 'name': f'k{i}', 'labels': {}, 'pad': 'x' * 20000})\n"
        "    s.save()\n")
    for _ in range(5):
        child = subprocess.Popen([sys.executable, "-c", script, str(state)], cwd=REPO)
        # Kill it mid-loop: once its first save is on disk (start-up time varies
        # with load), plus a little so that later saves are in flight.
        deadline = time.monotonic() + 30
        while not (state / STATE_FILE).exists() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)
        time.sleep(0.2)
        child.send_signal(signal.SIGKILL)
        child.wait()
        loaded = json.loads((state / STATE_FILE).read_text())
        assert len(loaded["resources"]["ssh_keys"]) >= 1
        Store(state)  # loads without error


@pytest.mark.e2e
def test_acknowledged_writes_survive_kill_9(tmp_path):
    """Every create the emulator answered 201 is on disk when it is killed."""
    state, port_file = tmp_path / "state", tmp_path / "port"
    argv = [sys.executable, "-m", "sandbox.emulator", "--state-dir", str(state), "--port", "0",
            "--port-file", str(port_file)]
    proc = subprocess.Popen(argv, cwd=REPO, env=dict(os.environ, HCLOUD_SANDBOX_TOKEN=TOKEN),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        port = int(port_file.read_text())
        running = RunningEmulator(f"http://127.0.0.1:{port}/v1", TOKEN, state, server=None)
        acked, stop = [], threading.Event()

        def writer():
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    status, body, _ = running.api("POST", "/ssh_keys", {"name": f"k{i}", "public_key": _key(i)})
                except OSError:
                    return
                if status == 201:
                    acked.append(body["ssh_key"]["id"])

        thread = threading.Thread(target=writer)
        thread.start()
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stop.set()
        thread.join(5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert len(acked) > 5
    saved = {k["id"] for k in Store(state).all("ssh_keys")}
    assert set(acked) <= saved


def _key(i: int) -> str:
    import base64
    blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + i.to_bytes(32, "big")
    return "ssh-ed25519 " + base64.b64encode(blob).decode()

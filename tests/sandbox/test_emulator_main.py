"""`python -m sandbox.emulator`: bad arguments and unreadable state are one
clear line and exit 2, never a traceback; SIGTERM stops it cleanly."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(args, env=None):
    return subprocess.run([sys.executable, "-m", "sandbox.emulator", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=20, env=dict(os.environ, **(env or {})))


@pytest.mark.parametrize("args,needle", [
    (["--state-dir", "{d}"], "--token"),
    (["--state-dir", "{d}", "--token", "t", "--host", "0.0.0.0"], "loopback"),
    (["--state-dir", "{d}", "--token", "t", "--ip-range", "not-a-range"], "cannot start"),
    (["--state-dir", "{d}", "--token", "t", "--ip-range", "2001:db8::/64"], "IPv4"),
    (["--state-dir", "{d}", "--token", "t", "--port", "nope"], "invalid int"),
    (["--state-dir", "{d}", "--token", "t", "--action-seconds", "-1"], "action_seconds"),
    (["--state-dir", "{d}", "--token", "t", "--rate-limit", "0"], "rate_limit"),
    (["--state-dir", "{d}", "--token", "t", "ENV:HCLOUD_SANDBOX_ACTION_SECONDS=later"],
     "HCLOUD_SANDBOX_ACTION_SECONDS must be a number"),
    (["--state-dir", "{d}", "--token", "t", "ENV:HCLOUD_SANDBOX_RATE_LIMIT=0"],
     "HCLOUD_SANDBOX_RATE_LIMIT must be at least 1"),
])
def test_bad_arguments_are_one_line(tmp_path, args, needle):
    env = {"HCLOUD_SANDBOX_TOKEN": "", "HCLOUD_SANDBOX_ACTION_SECONDS": "", "HCLOUD_SANDBOX_RATE_LIMIT": ""}
    env.update(a[4:].split("=", 1) for a in args if a.startswith("ENV:"))
    args = [a for a in args if not a.startswith("ENV:")]
    done = _run([a.format(d=tmp_path / "s") for a in args], env=env)
    assert done.returncode == 2
    assert needle in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("content", ["{ not json", "[1, 2]", '{"resources": 3}'])
def test_corrupt_state_file_is_reported(tmp_path, content):
    state = tmp_path / "s"
    state.mkdir()
    (state / "state.json").write_text(content)
    done = _run(["--state-dir", str(state), "--token", "t"])
    assert done.returncode == 2 and "cannot start the emulator" in done.stderr
    assert "Traceback" not in done.stderr


def test_sigterm_stops_it_and_the_token_stays_off_the_command_line(tmp_path):
    port_file = tmp_path / "port"
    proc = subprocess.Popen([sys.executable, "-m", "sandbox.emulator", "--state-dir", str(tmp_path / "s"),
                             "--port-file", str(port_file)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, HCLOUD_SANDBOX_TOKEN="secret-token-123"))
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert port_file.exists(), proc.stderr.read() if proc.poll() is not None else "no port file"
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert b"secret-token-123" not in cmdline
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "listening on http://127.0.0.1:" in out and "secret-token-123" not in out + err

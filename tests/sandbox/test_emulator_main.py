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
])
def test_bad_arguments_are_one_line(tmp_path, args, needle):
    done = _run([a.format(d=tmp_path / "s") for a in args], env={"HCLOUD_SANDBOX_TOKEN": ""})
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

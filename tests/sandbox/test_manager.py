"""sandbox.manager and `hetzner-deploy sandbox ...`: a detached emulator that
is started once, found again, stopped, and keeps its state."""
from __future__ import annotations

import json
import os
import signal
import socket
import stat

import psutil
import pytest
from click.testing import CliRunner

from cli import cli
from errors import SandboxError
from sandbox import manager

REPO = manager.REPO_ROOT


@pytest.fixture
def sandbox_dir(tmp_path, monkeypatch):
    d = tmp_path / "sbx"
    monkeypatch.setenv(manager.DIR_ENV, str(d))
    try:
        yield d
    finally:
        manager.down(d)  # no test leaves an emulator running


def _post(info, path, body):
    import urllib.request
    req = urllib.request.Request(info.endpoint + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {info.token}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return resp.status, json.loads(resp.read())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.e2e
def test_up_is_idempotent_and_down_keeps_state(sandbox_dir):
    info = manager.up(sandbox_dir)
    assert info.running and info.pid and info.endpoint == f"http://127.0.0.1:{info.port}/v1"
    assert stat.S_IMODE((sandbox_dir / "token").stat().st_mode) == 0o600
    assert info.token not in repr(info)
    assert info.mirror_dir.is_dir() and info.cli_config_file.is_file()
    assert (sandbox_dir / "emulator.pid").read_text().strip() == str(info.pid)
    assert manager.up(sandbox_dir).pid == info.pid  # already running: same process

    status, _ = _post(info, "/servers", {"name": "keep", "server_type": "cpx12", "image": "debian-12"})
    assert status == 201
    assert manager.status(sandbox_dir).counts["servers"] == 1

    stopped = manager.down(sandbox_dir)
    assert not stopped.running and not (sandbox_dir / "emulator.pid").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(info.pid, 0)
    assert manager.down(sandbox_dir).running is False  # stopping twice is fine

    again = manager.up(sandbox_dir)
    assert again.pid != info.pid and again.token == info.token
    assert again.counts["servers"] == 1  # state survived the restart


@pytest.mark.e2e
def test_up_on_a_chosen_port_and_shell_env(sandbox_dir):
    port = _free_port()
    info = manager.up(sandbox_dir, port=port)
    assert info.port == port
    env = manager.shell_env(info)
    assert env == {"HCLOUD_ENDPOINT": f"http://127.0.0.1:{port}/v1", "HCLOUD_TOKEN": info.token,
                   "TF_CLI_CONFIG_FILE": str(info.cli_config_file),
                   "HETZNER_DEPLOY_SANDBOX": str(info.directory)}
    with pytest.raises(SandboxError, match="already runs on port"):
        manager.up(sandbox_dir, port=port + 1 if port < 65535 else port - 1)


@pytest.mark.e2e
def test_a_busy_port_is_a_clear_error(sandbox_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(SandboxError, match="exited at start"):
            manager.up(sandbox_dir, port=taken.getsockname()[1])
    assert not manager.status(sandbox_dir).running


@pytest.mark.e2e
def test_stale_pidfile_of_another_process_is_not_trusted_or_killed(sandbox_dir):
    sandbox_dir.mkdir(parents=True)
    (sandbox_dir / "emulator.pid").write_text(f"{os.getpid()}\n")  # this very test process
    (sandbox_dir / "emulator.port").write_text("1\n")
    assert not manager.status(sandbox_dir).running
    info = manager.up(sandbox_dir)
    assert info.running and info.pid != os.getpid()
    manager.down(sandbox_dir)
    os.kill(os.getpid(), 0)  # still alive


def test_status_trusts_no_foreign_pid_and_reaps_a_dead_emulator(sandbox_dir):
    import subprocess
    import sys
    sandbox_dir.mkdir(parents=True)
    (sandbox_dir / "emulator.port").write_text("1\n")
    (sandbox_dir / "token").write_text("t\n")
    # A live process that is not the emulator (this test) is not taken for it.
    (sandbox_dir / "emulator.pid").write_text(f"{os.getpid()}\n")
    assert not manager.status(sandbox_dir).running
    # An "emulator" child that exited and was not waited for yet: a zombie.
    child = subprocess.Popen([sys.executable, "-c", "pass", "sandbox.emulator"])
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)   # exited, left unreaped
    assert psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE
    (sandbox_dir / "emulator.pid").write_text(f"{child.pid}\n")
    assert not manager.status(sandbox_dir).running
    assert not psutil.pid_exists(child.pid)   # reaped by the liveness check
    child.wait()


def test_shell_env_needs_a_running_sandbox(tmp_path):
    with pytest.raises(SandboxError, match="not running"):
        manager.shell_env(manager.status(tmp_path / "never"))


def test_invalid_port_is_refused(tmp_path):
    with pytest.raises(SandboxError, match="invalid port"):
        manager.up(tmp_path / "x", port=70000)


@pytest.mark.e2e
def test_cli_up_status_env_down(sandbox_dir):
    runner = CliRunner()
    result = runner.invoke(cli, ["sandbox", "status"])
    assert result.exit_code == 0 and "not running" in result.output

    result = runner.invoke(cli, ["sandbox", "env"])
    assert result.exit_code == SandboxError.exit_code and "not running" in result.output

    result = runner.invoke(cli, ["sandbox", "up"])
    assert result.exit_code == 0, result.output
    assert str(sandbox_dir / "mirror") in result.output and "terraform.rc" in result.output
    token = (sandbox_dir / "token").read_text().strip()
    assert token not in result.output

    result = runner.invoke(cli, ["sandbox", "status", "--json"])
    data = json.loads(result.output)
    assert data["running"] is True and data["counts"]["servers"] == 0 and token not in result.output

    result = runner.invoke(cli, ["sandbox", "env"])
    lines = dict(line.removeprefix("export ").split("=", 1) for line in result.output.splitlines())
    assert lines["HCLOUD_TOKEN"] == token and lines["HCLOUD_ENDPOINT"] == data["endpoint"]
    assert lines["TF_CLI_CONFIG_FILE"] == data["cli_config_file"]

    result = runner.invoke(cli, ["sandbox", "up", "--port", "0"])
    assert result.exit_code == 2  # click rejects it: one line, no traceback

    result = runner.invoke(cli, ["sandbox", "down"])
    assert result.exit_code == 0 and "stopped" in result.output
    assert not manager.status(sandbox_dir).running


def test_down_falls_back_to_sigkill(sandbox_dir, monkeypatch):
    import subprocess
    import sys
    # A stand-in that ignores SIGTERM; "sandbox.emulator" in its argv makes it look like ours.
    script = ("import signal, sys, time\n"
              "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
              "print('ready', flush=True)\n"
              "time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", script, "sandbox.emulator"], stdout=subprocess.PIPE, text=True)
    sent = []
    send_signal = psutil.Process.send_signal

    def record(self, sig):
        sent.append(sig)
        return send_signal(self, sig)
    monkeypatch.setattr(psutil.Process, "send_signal", record)
    try:
        assert proc.stdout.readline().strip() == "ready"
        sandbox_dir.mkdir(parents=True)
        (sandbox_dir / "emulator.pid").write_text(f"{proc.pid}\n")
        monkeypatch.setattr(manager, "STOP_TIMEOUT", 0.3)
        manager.down(sandbox_dir)
        assert sent == [signal.SIGTERM, signal.SIGKILL]   # TERM ignored, so KILL
        # down() reaped its status already: the pid is gone.
        assert not psutil.pid_exists(proc.pid)
        assert not (sandbox_dir / "emulator.pid").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.e2e
def test_an_emulator_that_no_longer_answers_is_replaced(sandbox_dir):
    first = manager.up(sandbox_dir)
    (sandbox_dir / "token").unlink()  # its token is gone: it can no longer be reached
    second = manager.up(sandbox_dir)
    assert second.running and second.pid != first.pid and second.token != first.token
    with pytest.raises(ProcessLookupError):
        os.kill(first.pid, 0)


@pytest.mark.e2e
def test_a_real_token_is_not_handed_to_the_emulator(sandbox_dir, monkeypatch):
    monkeypatch.setenv("HCLOUD_TOKEN", "real-token-must-not-leak")
    info = manager.up(sandbox_dir)
    environ = psutil.Process(info.pid).environ()
    assert "real-token-must-not-leak" not in "\n".join(f"{k}={v}" for k, v in environ.items())
    _post(info, "/ssh_keys", {"name": "k", "public_key": (REPO / "examples" / "example_ed25519.pub").read_text()})
    log = (sandbox_dir / "emulator.log").read_bytes()
    assert b"POST /v1/ssh_keys" in log  # requests are logged ...
    assert b"real-token-must-not-leak" not in log and info.token.encode() not in log  # ... tokens are not

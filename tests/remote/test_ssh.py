"""The SSH layer against a real sshd: pinning, quoting, deadlines, atomic uploads, clean stop."""
from __future__ import annotations

import os
import signal
import stat
import threading

import pytest

from errors import InterruptedRun, RemoteError
from remote import hostkeys
from remote.ssh import command_line, connect, run_sync
from tests.remote.sshd_kit import sshd  # noqa: F401 - fixture


def go(target, steps):
    async def main():
        async with connect(target) as conn:
            return await steps(conn)
    return run_sync(main())


def test_argv_is_quoted_never_interpolated(sshd):
    hostile = ["a b", "$(id)", "'q'", "x;rm -rf /tmp/nothing", "*", "\\n"]
    result = go(sshd.target(), lambda c: c.run(["printf", "%s\\n", *hostile]))
    assert result.stdout.splitlines() == hostile
    assert result.argv == ("printf", "%s\\n", *hostile)


def test_command_line_is_shlex_join_and_refuses_strings():
    assert command_line(["mkdir", "-p", "/opt/a b"]) == "mkdir -p '/opt/a b'"
    with pytest.raises(TypeError):
        command_line("rm -rf /")
    with pytest.raises(TypeError):
        command_line([])


def test_a_different_host_key_is_refused_with_one_line(sshd, tmp_path):
    other, _ = hostkeys.ensure("test", "other", tmp_path / "otherkeys")
    with pytest.raises(RemoteError) as info:
        go(sshd.target(other.public), lambda c: c.run(["true"]))
    message = str(info.value)
    assert "host key does not match the pinned key " + other.fingerprint in message
    assert "\n" not in message


def test_no_pinned_key_is_refused(sshd):
    from dataclasses import replace
    with pytest.raises(RemoteError, match="no pinned host key"):
        go(replace(sshd.target(), host_public=""), lambda c: c.run(["true"]))


def test_nonzero_exit_is_an_error_unless_unchecked(sshd):
    with pytest.raises(RemoteError, match=r"`sh -c 'echo boom >&2; exit 3'` exited 3: boom"):
        go(sshd.target(), lambda c: c.run(["sh", "-c", "echo boom >&2; exit 3"]))
    result = go(sshd.target(), lambda c: c.run(["sh", "-c", "exit 3"], check=False))
    assert result.exit_status == 3


def test_every_command_has_a_deadline(sshd):
    with pytest.raises(RemoteError, match="did not finish within 0.3 s"):
        go(sshd.target(), lambda c: c.run(["sleep", "30"], timeout=0.3))


def test_upload_is_atomic_with_its_mode(sshd, tmp_path):
    path = tmp_path / "dir" / ".env"
    path.parent.mkdir()
    path.write_text("OLD=1\n")
    os.chmod(path, 0o644)

    async def steps(conn):
        await conn.upload(str(path), b"SECRET=1\n", 0o600)
    go(sshd.target(), steps)
    assert path.read_bytes() == b"SECRET=1\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == [".env"]   # no temp file left


def test_a_local_file_uploads_in_chunks_with_its_mode(sshd, tmp_path, monkeypatch):
    import remote.ssh
    monkeypatch.setattr(remote.ssh, "CHUNK", 1000)     # many chunks, one odd-sized tail
    source = tmp_path / "dump.bin"
    source.write_bytes(os.urandom(25_123))
    path = tmp_path / "up" / "dump.bin"
    path.parent.mkdir()

    async def steps(conn):
        await conn.upload(str(path), source, 0o600)
    go(sshd.target(), steps)
    assert path.read_bytes() == source.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_upload_refuses_relative_paths(sshd):
    async def steps(conn):
        await conn.upload("relative/.env", b"x", 0o600)
    with pytest.raises(RemoteError, match="must be absolute"):
        go(sshd.target(), steps)


def test_sigterm_stops_a_step_cleanly(sshd):
    before = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        with pytest.raises(InterruptedRun, match="stopped by SIGTERM") as info:
            go(sshd.target(), lambda c: c.run(["sleep", "30"]))
    finally:
        timer.cancel()
    assert info.value.exit_code == 130
    # Our handler is gone again: a later SIGTERM is not swallowed.
    assert signal.getsignal(signal.SIGTERM) == before


def test_fetch_host_key_reads_what_the_server_presents(sshd):
    from remote.ssh import fetch_host_key
    seen = run_sync(fetch_host_key("127.0.0.1", sshd.port))
    assert seen == sshd.host_key.public
    assert hostkeys.fingerprint(seen) == sshd.host_key.fingerprint


def test_the_callers_signal_handler_comes_back(sshd):
    seen = []
    before = signal.signal(signal.SIGTERM, lambda *a: seen.append(a))
    try:
        go(sshd.target(), lambda c: c.run(["true"]))
        os.kill(os.getpid(), signal.SIGTERM)
        assert len(seen) == 1
    finally:
        signal.signal(signal.SIGTERM, before)


def test_importing_the_ssh_layer_runs_no_compiler_and_leaves_find_library_alone():
    """asyncssh's liboqs lookup reads the loader cache only while it imports (no gcc, no ld)."""
    import subprocess
    import sys
    from pathlib import Path
    code = ("import ctypes.util as u, sys\n"
            "def spawned(name): raise SystemExit('find_library ran ' + name)\n"
            "u._findLib_gcc = u._findLib_ld = spawned\n"
            "original = u.find_library\n"
            "import remote.ssh, asyncssh.crypto.pq as pq\n"
            "print(u.find_library is original, pq.mlkem_available)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]

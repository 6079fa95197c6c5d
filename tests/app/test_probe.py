"""The no-op check's one round trip: the probe script run by a real sshd, read by parse_state.

The script is run over SSH exactly as the app phase runs it (remote/commands.py's
PROBE_SCRIPT with its paths as parameters), only with paths in a temporary folder
instead of /opt and /var/lib/cloud; the hashes are checked against hashlib.
"""
from __future__ import annotations

import hashlib
import os

from app.releases import AppSpec, ServerState, parse_state
from remote import commands as c
from remote.ssh import connect, run_sync
from tests.remote.sshd_kit import sshd  # noqa: F401 - fixture

COMPOSE = b"services:\n  web:\n    image: sandbox/busybox\n"
ENV = b"API_KEY=probe-secret\n"


def spec(env: bytes = ENV) -> AppSpec:
    return AppSpec("shop", COMPOSE, env)


def layout(root, *, booted=True, locked=False, release: str | None = None):
    """A server's files under `root` (a space in it: parameters are never re-split)."""
    base = root / "srv x"
    (base / "releases").mkdir(parents=True)
    if booted:
        (base / "boot-finished").write_text("")
    if locked:
        (base / ".deploy-lock").mkdir()
    if release:
        folder = base / "releases" / release
        folder.mkdir()
        (folder / c.COMPOSE_NAME).write_bytes(COMPOSE)
        (folder / c.ENV_NAME).write_bytes(ENV)
        os.symlink(f"releases/{release}", base / "current")
    return base


def probe_argv(base, running: tuple[str, ...]) -> list[str]:
    current = base / "current"
    # `printf` stands in for `docker ps --quiet`: one container id per line.
    return ["sh", "-c", c.PROBE_SCRIPT, "probe", str(base / "boot-finished"),
            str(base / ".deploy-lock"), str(current), str(current / c.COMPOSE_NAME),
            str(current / c.ENV_NAME), "printf", "%s\\n", *running]


def ask(server, argv) -> ServerState:
    async def main():
        async with connect(server.target()) as conn:
            done = await conn.run(argv)
            return parse_state(done.stdout)
    return run_sync(main())


def test_a_deployed_release_reads_back_as_unchanged(sshd, tmp_path):
    release = spec().release
    state = ask(sshd, probe_argv(layout(tmp_path, release=release), ("abc123", "def456")))
    assert state == ServerState(booted=True, locked=False, current=release,
                                compose_sha=hashlib.sha256(COMPOSE).hexdigest(),
                                env_sha=hashlib.sha256(ENV).hexdigest(),
                                running=("abc123", "def456"), complete=True)
    assert state.unchanged_for(spec())


def test_a_file_changed_on_the_server_is_a_change(sshd, tmp_path):
    release = spec().release
    base = layout(tmp_path, release=release)
    (base / "releases" / release / c.ENV_NAME).write_bytes(b"API_KEY=edited-by-hand\n")
    state = ask(sshd, probe_argv(base, ("abc123",)))
    assert state.current == release and state.env_sha == hashlib.sha256(b"API_KEY=edited-by-hand\n").hexdigest()
    assert not state.unchanged_for(spec())


def test_nothing_running_or_another_deploy_under_way_is_not_a_noop(sshd, tmp_path):
    release = spec().release
    stopped = ask(sshd, probe_argv(layout(tmp_path / "a", release=release), ()))
    assert stopped.running == () and not stopped.unchanged_for(spec())
    locked = ask(sshd, probe_argv(layout(tmp_path / "b", release=release, locked=True), ("abc",)))
    assert locked.locked and not locked.unchanged_for(spec())
    # Under our own lock the same answer is a no-op.
    assert locked.unchanged_for(spec(), lock_is_ours=True)


def test_a_fresh_server_still_booting(sshd, tmp_path):
    state = ask(sshd, probe_argv(layout(tmp_path, booted=False), ()))
    assert state == ServerState(booted=False, complete=True)
    assert not state.unchanged_for(spec())


def test_a_cut_off_or_odd_answer_is_never_a_noop():
    release = spec().release
    full = (f"boot yes\nlock no\ncurrent releases/{release}\n"
            f"compose {hashlib.sha256(COMPOSE).hexdigest()}\nenv {hashlib.sha256(ENV).hexdigest()}\n"
            f"running abc\n")
    assert parse_state(full + "end\n").unchanged_for(spec())
    assert not parse_state(full).unchanged_for(spec())                        # no "end" line
    assert not parse_state(full.replace("lock no\n", "") + "end\n").unchanged_for(spec())
    assert parse_state(f"boot yes\ncurrent releases/../../etc\nend\n").current is None
    assert parse_state("compose nothex\nend\n").compose_sha is None

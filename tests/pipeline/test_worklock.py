"""One run per work directory, with real processes; a kill -9 leaves nothing that blocks."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner.worklock import WorkdirBusy, lock_path, workdir_lock
from tests.runner.conftest import SECRET, write_full_stack

REPO = Path(__file__).resolve().parents[2]
ENV = "production"

HOLDER = """
import sys, time
from runner.worklock import workdir_lock
with workdir_lock(sys.argv[1], "holder-test"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _holder(workdir: Path, seconds: float = 60) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(workdir), str(seconds)],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_second_holder_in_another_process_fails_naming_the_pid(tmp_path):
    proc = _holder(tmp_path)
    try:
        with pytest.raises(WorkdirBusy) as info:
            with workdir_lock(tmp_path, "plan"):
                pass
        assert f"pid {proc.pid} holder-test" in str(info.value)
        assert "HETZNER_DEPLOY_WAIT" in str(info.value)
    finally:
        _stop(proc)
    with workdir_lock(tmp_path, "plan"):                   # released by the kernel
        assert f"pid {os.getpid()} plan" in lock_path(tmp_path).read_text()


def test_reentrant_in_one_process_and_released_after(tmp_path):
    with workdir_lock(tmp_path, "deploy"):
        with workdir_lock(tmp_path, "plan"):
            pass
        proc = subprocess.run([sys.executable, "-c", HOLDER, str(tmp_path), "0"], cwd=REPO,
                              capture_output=True, text=True)
        assert proc.returncode == 1 and "WorkdirBusy" in proc.stderr   # still held by us
    proc = subprocess.run([sys.executable, "-c", HOLDER, str(tmp_path), "0"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0


def test_wait_option_waits_for_the_holder(tmp_path):
    proc = _holder(tmp_path, seconds=1.0)
    try:
        with workdir_lock(tmp_path, "plan", wait=30):   # no WorkdirBusy: it waited
            assert f"pid {os.getpid()} plan" in lock_path(tmp_path).read_text()
        assert proc.wait(timeout=30) == 0                 # the holder finished normally
    finally:
        _stop(proc)


def test_kill_9_leaves_no_stale_lock_and_tmp_files_are_cleaned(tmp_path):
    proc = _holder(tmp_path)
    stale = [tmp_path / ".work" / ".checkpoint.json.4242.tmp", tmp_path / ".main.tf.tmp",
             tmp_path / ".work" / "checkpoint.tmp",
             tmp_path / "zz_destroy_volume_override.tf"]   # would lift prevent_destroy
    for path in stale:
        path.write_text("half")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert "holder-test" in lock_path(tmp_path).read_text()   # content left, and ignored
    with workdir_lock(tmp_path, "deploy"):
        assert not any(p.exists() for p in stale)


@pytest.fixture
def cli_env(tmp_path, make_config, monkeypatch):
    stacks = tmp_path / "stacks"
    write_full_stack(stacks / ENV)
    config = make_config()
    env = dict(os.environ, TARGET="hetzner", HCLOUD_TOKEN=SECRET,
               HCLOUD_ENDPOINT="http://127.0.0.1:9/v1")
    env.pop("HETZNER_DEPLOY_SANDBOX", None)
    args = ("--stacks-dir", str(stacks), "--config", str(config))
    return stacks / ENV, env, args


def _cli(env, *argv, **kw):
    return subprocess.run([sys.executable, "-m", "cli", *argv], cwd=REPO, env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=120, **kw)


def test_cli_plan_while_another_process_holds_the_work_dir(cli_env):
    workdir, env, args = cli_env
    proc = _holder(workdir)
    try:
        busy = _cli(env, "plan", *args)
        assert busy.returncode == 7, busy.stderr
        lines = [l for l in busy.stderr.splitlines() if l.startswith("error:")]
        assert len(lines) == 1 and f"pid {proc.pid}" in lines[0]
        assert "Traceback" not in busy.stderr
        assert not (workdir / ".work" / "plan.tfplan").exists()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    done = _cli(env, "plan", *args)
    assert done.returncode == 0, done.stderr


def _descendants(pid: int) -> list[int]:
    """Child processes by parent id, from /proc (Linux; the e2e suite runs there)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


@pytest.mark.e2e
def test_two_cli_deploys_do_not_interleave(sb):
    first = sb.popen("deploy", "--profile", "ccx33")
    try:
        lock = lock_path(sb.workdir())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and first.poll() is None:
            if lock.is_file() and f"pid {first.pid} deploy" in lock.read_text():
                break
            time.sleep(0.01)
        second = sb.cli("deploy", "--profile", "ccx33")
        out, err = first.communicate(timeout=180)
    finally:
        _stop(first)
    assert first.returncode == 0, err
    assert second.returncode == 7, second.stdout + second.stderr
    assert f"pid {first.pid} deploy" in second.stderr and "Traceback" not in second.stderr
    # Afterwards the lock is free and the state is whole: a rerun is a no-op.
    third = sb.cli("deploy", "--profile", "ccx33")
    assert third.returncode == 0 and "[infra] skipped" in third.stdout, third.stderr


@pytest.mark.e2e
def test_kill_9_during_deploy_then_the_next_run_converges(sb):
    first = sb.popen("deploy", "--profile", "ccx33")
    lock = lock_path(sb.workdir())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and first.poll() is None:
        if (sb.workdir() / ".work" / "plan.json").is_file():
            break
        time.sleep(0.01)
    children = _descendants(first.pid)
    first.kill()
    first.wait()
    for pid in children:              # terraform and the provider we started through the CLI
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert lock.is_file()
    again = sb.cli("deploy", "--profile", "ccx33")
    if again.returncode != 0:
        # Killed between a create call and terraform writing state: the orphan is
        # named with the command that adopts it, and that command works.
        text = again.stdout + again.stderr
        assert "hetzner-deploy adopt --env production" in text, text
        adopted = sb.cli("adopt", "--env", "production", "--stacks-dir", str(sb.stacks),
                         "--config", str(sb.config))
        assert adopted.returncode == 0, adopted.stdout + adopted.stderr
        again = sb.cli("deploy", "--profile", "ccx33")
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(sb.cli("plan", "--json").stdout)["has_changes"] is False

"""runner.process: run and stream, deadlines, signal forwarding, no orphans.

Children are small Python scripts, so each behaviour (ignoring SIGINT,
leaving a grandchild behind, printing garbage) is written out in the test.
"""
from __future__ import annotations

import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

from errors import CommandError, TerraformError
from runner import process


def script(tmp_path: Path, body: str, name: str = "child.py") -> list[str]:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return [sys.executable, str(path)]


def alive(pid: int) -> bool:
    """Running (a zombie or a missing /proc entry counts as gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


def wait_gone(pid: int, seconds: float = 10) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


# --- run -----------------------------------------------------------------------------------

def test_run_captures_output_env_cwd_and_input(tmp_path):
    argv = script(tmp_path, """
        import os, sys
        data = sys.stdin.read()
        print(os.getcwd(), os.environ["HD_TEST"], data.upper())
        print("to stderr", file=sys.stderr)
    """)
    done = process.run(argv, cwd=tmp_path, env={"HD_TEST": "yes"}, input="abc")
    assert done.returncode == 0
    assert done.stdout.split() == [str(tmp_path), "yes", "ABC"]
    assert done.stderr.strip() == "to stderr"


def test_run_failure_is_one_line_with_status_and_tail(tmp_path):
    argv = script(tmp_path, """
        import sys
        print("first\\nthe reason", file=sys.stderr)
        sys.exit(3)
    """)
    with pytest.raises(CommandError) as err:
        process.run(argv)
    e = err.value
    assert str(e).endswith("failed (exit 3): the reason") and "\n" not in str(e)
    assert e.returncode == 3 and e.stderr_tail == "first\nthe reason"
    assert process.run(argv, check=False).returncode == 3


def test_run_uses_the_callers_error_type(tmp_path):
    with pytest.raises(TerraformError, match="command not found"):
        process.run([str(tmp_path / "nope")], error_cls=TerraformError)


def test_not_executable_is_one_line(tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("not a program")
    with pytest.raises(CommandError, match="permission denied"):
        process.run([str(plain)])


def test_garbage_bytes_are_text_not_a_crash(tmp_path):
    argv = script(tmp_path, """
        import sys
        sys.stdout.buffer.write(bytes(range(256)) * 4)
        sys.stderr.buffer.write(b"\\xff\\xfe oops")
    """)
    done = process.run(argv)
    assert "\ufffd" in done.stdout and "oops" in done.stderr


def test_deadline_stops_a_child_that_never_returns_and_its_group(tmp_path):
    # The child ignores SIGINT and leaves a grandchild holding the pipes: only
    # SIGTERM/SIGKILL to the whole group ends them.
    pidfile = tmp_path / "pids"
    argv = script(tmp_path, f"""
        import os, signal, subprocess, sys, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        kid = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        open({str(pidfile)!r}, "w").write(f"{{os.getpid()}} {{kid.pid}}")
        print("started", flush=True)
        time.sleep(600)
    """)
    with pytest.raises(CommandError) as err:
        process.run(argv, timeout=1, grace=0.3)
    assert "no answer within 1s; stopped it" in str(err.value)
    assert "\n" not in str(err.value)
    for pid in map(int, pidfile.read_text().split()):
        assert wait_gone(pid), f"process {pid} outlived the deadline"


def test_run_reaps_what_the_child_left_in_its_group(tmp_path):
    # Like providers left behind by a `kill -9`ed terraform.
    pidfile = tmp_path / "pid"
    argv = script(tmp_path, f"""
        import subprocess, sys
        kid = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        open({str(pidfile)!r}, "w").write(str(kid.pid))
    """)
    process.run(argv)
    assert wait_gone(int(pidfile.read_text()))


def test_run_interrupted_by_a_signal_raises_130_after_the_child_finished(tmp_path):
    marker = tmp_path / "cleaned-up"
    argv = script(tmp_path, f"""
        import signal, sys, time
        def stop(*_):
            open({str(marker)!r}, "w").write("yes")
            sys.exit(1)
        signal.signal(signal.SIGINT, stop)
        print("ready", flush=True)
        time.sleep(30)
    """)
    os_kill_later(signal.SIGTERM, after=0.5)
    with pytest.raises(CommandError) as err:
        process.run(argv, timeout=60)
    assert err.value.exit_code == 130 and "interrupted (SIGTERM)" in str(err.value)
    assert marker.read_text() == "yes"  # it got SIGINT and ran its clean-up


def os_kill_later(sig: int, after: float) -> None:
    import threading
    threading.Timer(after, os.kill, (os.getpid(), sig)).start()


# --- stream --------------------------------------------------------------------------------

def test_stream_hands_over_lines_in_order(tmp_path):
    argv = script(tmp_path, """
        import sys
        for i in range(5):
            print(f"line {i}", flush=True)
        print("err", file=sys.stderr)
        sys.exit(2)
    """)
    lines: list[str] = []
    done = process.stream(argv, lines.append)
    assert lines == [f"line {i}\n" for i in range(5)]
    assert done.returncode == 2 and done.stderr == "err\n" and done.interrupted is None


GRACEFUL = """
    import signal, sys, time
    got = []
    signal.signal(signal.SIGINT, lambda *_: got.append("INT"))
    signal.signal(signal.SIGTERM, lambda *_: got.append("TERM"))
    signal.signal(signal.SIGHUP, lambda *_: got.append("HUP"))
    print("working", flush=True)
    while not got:
        time.sleep(0.02)
    time.sleep(0.5)  # more signals may come; only one should
    print("finishing in-flight work", flush=True)
    print("saved state; got " + ",".join(got), flush=True)
    sys.exit(1)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signals_reach_the_child_once_as_sigint_and_output_is_read_to_the_end(tmp_path, sig):
    argv = script(tmp_path, GRACEFUL)
    before = signal.getsignal(sig)
    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line)
        if line == "working\n":
            os.kill(os.getpid(), sig)
            os.kill(os.getpid(), sig)  # a second one is not passed on
            os.kill(os.getpid(), signal.SIGINT)
    done = process.stream(argv, on_line, timeout=60)
    assert done.interrupted == signal.Signals(sig).name and done.returncode == 1
    assert lines[-2:] == ["finishing in-flight work\n", "saved state; got INT\n"]
    assert signal.getsignal(sig) is before  # our handler is gone again


def test_an_ignored_signal_stays_ignored(tmp_path):
    argv = script(tmp_path, """
        import time
        print("working", flush=True)
        time.sleep(0.5)
        print("done", flush=True)
    """)
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        lines: list[str] = []

        def on_line(line):
            lines.append(line)
            if line == "working\n":
                os.kill(os.getpid(), signal.SIGHUP)
        done = process.stream(argv, on_line)
        assert done.interrupted is None and done.returncode == 0 and lines[-1] == "done\n"
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_failing_consumer_stops_the_child_and_raises(tmp_path):
    pidfile = tmp_path / "pid"
    argv = script(tmp_path, f"""
        import os, time
        open({str(pidfile)!r}, "w").write(str(os.getpid()))
        print("one", flush=True)
        time.sleep(600)
    """)

    class Boom(Exception):
        pass

    def on_line(line):
        raise Boom()
    with pytest.raises(Boom):
        process.stream(argv, on_line)
    assert wait_gone(int(pidfile.read_text()))


def test_stream_deadline(tmp_path):
    argv = script(tmp_path, """
        import time
        print("hello", flush=True)
        time.sleep(600)
    """)
    with pytest.raises(TerraformError, match=r"no answer within 0.5s"):
        process.stream(argv, lambda line: None, timeout=0.5, grace=0.3,
                       error_cls=TerraformError)


def test_command_name():
    assert process.command_name(["/usr/bin/terraform", "plan", "-json"]) == "terraform plan"
    assert process.command_name(["ssh-keygen", "-y"]) == "ssh-keygen"

"""The one place that starts external processes.

Callers build argv lists (never shell strings). Two ways to run one:

* `run(argv)`: to completion, stdout and stderr captured as text;
* `stream(argv, on_line)`: stdout handed over line by line as it arrives.

Both have an overall deadline. A child that outlives it is asked to stop the
way a terminal would (SIGINT), then, after a grace period, its whole process
group gets SIGTERM and finally SIGKILL; the caller gets one CommandError line.

The child runs in its own session, so a terminal's Ctrl-C reaches only us and
the child is not hit twice. While we wait for it, SIGINT, SIGTERM and SIGHUP
sent to us are passed on to it once, as SIGINT (Terraform's graceful stop,
which finishes in-flight work and writes state); we keep reading until it
exits. `stream` reports the interruption in its result, `run` raises an error
with exit code 130. Previous signal handlers are restored afterwards. Whatever
of the child's process group is left when it exits (providers of a killed
terraform) is stopped too, so nothing is orphaned.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from errors import CommandError

STDERR_TAIL_LINES = 15
DEFAULT_TIMEOUT = 600.0     # seconds; every call has a deadline
DEFAULT_GRACE = 20.0        # after SIGINT on a deadline, before SIGTERM/SIGKILL
KILL_WAIT = 3.0             # after SIGTERM, before SIGKILL
MAX_OUTPUT = 256 * 1024 * 1024   # a child printing more than this is stopped
MAX_STDERR = 1024 * 1024         # only the tail of stderr is kept
MAX_LINE = 4 * 1024 * 1024       # longer stdout "lines" are handed over in pieces
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
INTERRUPTED_EXIT = 130


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Streamed:
    argv: tuple[str, ...]
    returncode: int
    stderr: str
    interrupted: str | None = None  # name of the signal we passed on, e.g. "SIGTERM"


def tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def which(program: str) -> str | None:
    return shutil.which(program)


def command_name(argv: Sequence[str]) -> str:
    """`terraform plan` for ['/usr/bin/terraform', 'plan', '-json', ...]."""
    head = os.path.basename(str(argv[0])) if argv else "?"
    if len(argv) > 1 and not str(argv[1]).startswith("-"):
        return f"{head} {argv[1]}"
    return head


def _merged_env(env: Mapping[str, str] | None) -> dict[str, str] | None:
    if env is None:
        return None
    full = dict(os.environ)
    full.update(env)
    return full


class _Child:
    """One started process: deadline, signal forwarding, stopping, group clean-up."""

    def __init__(self, argv: list[str], *, cwd, env, stdin_text: str | None,
                 timeout: float | None, grace: float, forward: bool,
                 error_cls: type[CommandError]):
        self.argv = argv
        self.error_cls = error_cls
        self.grace = grace
        self.interrupted: str | None = None
        self.timed_out = False
        self.overflow = False
        # re-entrant: the signal handler runs on the main thread, which may hold it
        self._lock = threading.RLock()
        self._stopping = False
        try:
            self.proc = subprocess.Popen(
                argv, cwd=cwd, env=_merged_env(env),
                stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                encoding="utf-8", errors="replace",  # a binary printing garbage is no traceback
                start_new_session=True)
        except FileNotFoundError:
            raise error_cls(f"{argv[0]}: command not found (is it installed and on PATH?)",
                            argv=argv) from None
        except PermissionError:
            raise error_cls(f"{argv[0]}: permission denied (not an executable?)",
                            argv=argv) from None
        except OSError as exc:
            raise error_cls(f"{argv[0]}: cannot start: {exc.strerror or exc}",
                            argv=argv) from None
        self.pgid = self.proc.pid  # leader of its own session and group
        self.timeout = timeout
        self._stderr: list[str] = []
        self._threads = [threading.Thread(target=self._drain_stderr, daemon=True)]
        if stdin_text is not None:
            self._threads.append(threading.Thread(target=self._feed, args=(stdin_text,),
                                                  daemon=True))
        for t in self._threads:
            t.start()
        self._timer = None
        if timeout is not None:
            self._timer = threading.Timer(timeout, self._deadline)
            self._timer.daemon = True
            self._timer.start()
        self._previous: dict[int, object] = {}
        if forward and threading.current_thread() is threading.main_thread():
            for sig in FORWARDED:
                current = signal.getsignal(sig)
                if current == signal.SIG_IGN:  # e.g. nohup: the user asked us to ignore it
                    continue
                self._previous[sig] = current
                signal.signal(sig, self._on_signal)

    # -- helpers run from threads / signal handlers --------------------------------------
    def _feed(self, text: str) -> None:
        try:
            self.proc.stdin.write(text)
            self.proc.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def _drain_stderr(self) -> None:
        size = 0
        for chunk in iter(lambda: self.proc.stderr.read(65536), ""):
            self._stderr.append(chunk)
            size += len(chunk)
            while size > MAX_STDERR and len(self._stderr) > 1:
                size -= len(self._stderr.pop(0))

    def _signal(self, sig: int, group: bool) -> None:
        try:
            if group:
                os.killpg(self.pgid, sig)
            elif self.proc.poll() is None:
                self.proc.send_signal(sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _on_signal(self, signum, frame) -> None:  # noqa: ARG002 - handler signature
        with self._lock:
            if self.interrupted is not None:
                return  # once: a second SIGINT would make terraform abandon its work
            self.interrupted = signal.Signals(signum).name
        self._signal(signal.SIGINT, group=False)

    def _deadline(self) -> None:
        with self._lock:
            if self.proc.poll() is not None:
                return
            self.timed_out = True
        self.stop()

    def stop(self) -> None:
        """SIGINT, then after the grace SIGTERM and SIGKILL to the whole group."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
        self._signal(signal.SIGINT, group=False)
        if self._wait(self.grace):
            return
        self._signal(signal.SIGTERM, group=True)
        if self._wait(KILL_WAIT):
            return
        self._signal(signal.SIGKILL, group=True)

    def _wait(self, seconds: float) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return True
            time.sleep(0.05)
        return self.proc.poll() is not None

    # -- the caller's side ------------------------------------------------------------------
    def stderr(self) -> str:
        return "".join(self._stderr)

    def finish(self) -> int:
        """Wait for the child, clean its group up, restore signal handlers."""
        try:
            returncode = self.proc.wait()
        finally:
            if self._timer is not None:
                self._timer.cancel()
            for sig, handler in self._previous.items():
                signal.signal(sig, handler)
            self._previous.clear()
        self._reap_group()
        for t in self._threads:
            t.join(timeout=5)
        return returncode

    def abort(self) -> None:
        """Our side failed (a consumer raised, a second Ctrl-C): stop the child, wait, clean up."""
        if self.proc.poll() is None:
            self.stop()
        try:
            self.finish()
        except BaseException:  # noqa: BLE001 - already failing; the original error wins
            pass

    def _reap_group(self) -> None:
        """Stop what the child left in its group (providers of a killed terraform)."""
        try:
            os.killpg(self.pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        self._signal(signal.SIGTERM, group=True)
        end = time.monotonic() + KILL_WAIT
        while time.monotonic() < end:
            try:
                os.killpg(self.pgid, 0)
            except (ProcessLookupError, PermissionError):
                return
            time.sleep(0.05)
        self._signal(signal.SIGKILL, group=True)

    def check_deadline(self) -> None:
        name = command_name(self.argv)
        if self.timed_out:
            raise self.error_cls(f"{name}: no answer within {self.timeout:g}s; stopped it "
                                 "(is it hanging, or does it need a longer deadline?)",
                                 argv=self.argv, stderr_tail=tail(self.stderr()))
        if self.overflow:
            raise self.error_cls(f"{name}: printed more than {MAX_OUTPUT // 2**20} MB; "
                                 "stopped it", argv=self.argv)


def run(argv: Sequence[str], *, cwd: str | Path | None = None,
        env: Mapping[str, str] | None = None, input: str | None = None,
        check: bool = True, timeout: float | None = DEFAULT_TIMEOUT,
        grace: float = DEFAULT_GRACE, forward_signals: bool = True,
        error_cls: type[CommandError] = CommandError) -> Completed:
    """Run argv to completion, capturing stdout and stderr as text.

    `env` entries are added to the current environment, not substituted for it.
    A non-zero exit raises (unless check=False); a deadline or an interruption
    always raises, the latter with exit code 130.
    """
    argv = [str(a) for a in argv]
    child = _Child(argv, cwd=cwd, env=env, stdin_text=input, timeout=timeout, grace=grace,
                   forward=forward_signals, error_cls=error_cls)
    chunks: list[str] = []
    try:
        size = 0
        for chunk in iter(lambda: child.proc.stdout.read(65536), ""):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_OUTPUT:
                child.overflow = True
                child.stop()
                break
        returncode = child.finish()
    except BaseException:
        child.abort()
        raise
    child.check_deadline()
    stdout, stderr = "".join(chunks), child.stderr()
    if child.interrupted:
        err = error_cls(f"{command_name(argv)} interrupted ({child.interrupted})",
                        argv=argv, returncode=returncode, stderr_tail=tail(stderr))
        err.exit_code = INTERRUPTED_EXIT
        raise err
    if check and returncode != 0:
        last = tail(stderr or stdout, 1) or "no output"
        raise error_cls(f"{command_name(argv)} failed (exit {returncode}): {last}",
                        argv=argv, returncode=returncode, stderr_tail=tail(stderr or stdout))
    return Completed(tuple(argv), returncode, stdout, stderr)


def stream(argv: Sequence[str], on_line: Callable[[str], None], *,
           cwd: str | Path | None = None, env: Mapping[str, str] | None = None,
           timeout: float | None = DEFAULT_TIMEOUT, grace: float = DEFAULT_GRACE,
           forward_signals: bool = True,
           error_cls: type[CommandError] = CommandError) -> Streamed:
    """Run argv, handing each stdout line (with its newline) to on_line as it arrives.

    Never raises for the child's exit status: the caller judges returncode and
    `interrupted`. A deadline raises; so does on_line, after the child stopped.
    """
    argv = [str(a) for a in argv]
    child = _Child(argv, cwd=cwd, env=env, stdin_text=None, timeout=timeout, grace=grace,
                   forward=forward_signals, error_cls=error_cls)
    try:
        for line in iter(lambda: child.proc.stdout.readline(MAX_LINE), ""):
            on_line(line)
        returncode = child.finish()
    except BaseException:
        child.abort()
        raise
    child.check_deadline()
    return Streamed(tuple(argv), returncode, child.stderr(), child.interrupted)

"""The one module that spawns `terraform`.

argv is built by a pure function (`build_argv`) so every command line can be
asserted exactly in a table test. Run-to-completion calls go through
runner.process.run; only the streaming apply uses Popen, here, because it
must forward SIGINT to terraform alone and read events as they arrive.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from errors import TerraformError
from runner import process
from runner.events import Event, error_lines, parse_line, parse_stream

MIN_VERSION = (1, 5, 0)
DEFAULT_BINARY = "terraform"

# Operations build_argv understands, mapped to terraform's subcommand.
_SUBCOMMANDS = {
    "version": "version", "init": "init", "plan": "plan", "plan-destroy": "plan",
    "apply": "apply", "show": "show", "output": "output", "state-pull": "state",
    "validate": "validate", "import": "import",
}


def build_argv(op: str, *, binary: str = DEFAULT_BINARY, planfile: str | None = None,
               detailed_exitcode: bool = False, lock_timeout: str | None = None,
               upgrade: bool = False, reconfigure: bool = False,
               args: Sequence[str] = ()) -> list[str]:
    """Pure: the exact argv for one terraform operation (always machine-readable)."""
    if op not in _SUBCOMMANDS:
        raise ValueError(f"unknown terraform operation {op!r}")
    argv = [binary, _SUBCOMMANDS[op]]
    if op == "version":
        argv.append("-json")
    elif op == "init":
        argv += ["-input=false", "-no-color"]
        if upgrade:
            argv.append("-upgrade")
        if reconfigure:
            argv.append("-reconfigure")
        if lock_timeout:
            argv.append(f"-lock-timeout={lock_timeout}")
    elif op in ("plan", "plan-destroy"):
        if not planfile:
            raise ValueError("plan needs a planfile")
        argv += ["-json", "-input=false"]
        if op == "plan-destroy":
            argv.append("-destroy")
        if detailed_exitcode:
            argv.append("-detailed-exitcode")
        if lock_timeout:
            argv.append(f"-lock-timeout={lock_timeout}")
        argv.append(f"-out={planfile}")
    elif op == "apply":
        if not planfile:
            raise ValueError("apply only takes a saved plan")
        argv += ["-json", "-input=false"]
        if lock_timeout:
            argv.append(f"-lock-timeout={lock_timeout}")
        argv.append(planfile)
    elif op == "show":
        argv.append("-json")
        if planfile:
            argv.append(planfile)
    elif op == "output":
        argv.append("-json")
    elif op == "state-pull":
        argv.append("pull")
    elif op == "validate":
        argv.append("-json")
    elif op == "import":   # args: ADDRESS ID (import has no -json)
        if len(args) != 2:
            raise ValueError("import needs an address and an id")
        argv += ["-input=false", "-no-color"]
        if lock_timeout:
            argv.append(f"-lock-timeout={lock_timeout}")
        argv += ["--", *args]
    return argv


def terraform_env(cli_config_file: str | None = None,
                  extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment additions for every terraform call (pure)."""
    env = {
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
        "TF_INPUT": "0",
        # The machine presets TF_CLI_CONFIG_FILE to a missing file; /dev/null
        # silences terraform's warning when no sandbox config applies.
        "TF_CLI_CONFIG_FILE": cli_config_file or os.devnull,
    }
    env.update(extra or {})
    return env


def parse_version(text: str) -> tuple[int, int, int]:
    raw = json.loads(text)["terraform_version"]
    parts = raw.split("-")[0].split(".")
    return tuple(int(p) for p in (parts + ["0", "0"])[:3])  # type: ignore[return-value]


@dataclass(frozen=True)
class PlanRun:
    has_changes: bool
    planfile: Path
    events: tuple[Event, ...]


@dataclass(frozen=True)
class ApplyRun:
    returncode: int
    interrupted: bool
    events: tuple[Event, ...]


class Terraform:
    """terraform bound to one working directory and environment."""

    def __init__(self, workdir: Path, env: Mapping[str, str] | None = None, *,
                 binary: str | None = None, lock_timeout: str | None = None):
        self.workdir = Path(workdir)
        self.env = dict(env or {})
        self.binary = binary or os.environ.get("TERRAFORM_BIN", DEFAULT_BINARY)
        self.lock_timeout = lock_timeout

    def _argv(self, op: str, **kw) -> list[str]:
        return build_argv(op, binary=self.binary, **kw)

    def _require_binary(self, argv: Sequence[str]) -> None:
        if process.which(self.binary) is None and not os.path.isfile(self.binary):
            raise TerraformError(f"terraform not found: '{self.binary}' is not on PATH "
                                 "(install Terraform >= 1.5 or set TERRAFORM_BIN)",
                                 argv=list(argv))

    def _run(self, argv: Sequence[str], *, in_workdir: bool = True) -> process.Completed:
        self._require_binary(argv)
        return process.run(argv, cwd=self.workdir if in_workdir else None, env=self.env,
                           check=False)

    def _fail(self, what: str, done: process.Completed) -> TerraformError:
        return terraform_error(what, list(done.argv), done.returncode,
                               parse_stream(done.stdout), done.stderr)

    def version(self) -> tuple[int, int, int]:
        done = self._run(self._argv("version"), in_workdir=False)  # before the dir exists
        if done.returncode != 0:
            raise self._fail("version", done)
        try:
            found = parse_version(done.stdout)
        except (ValueError, KeyError):
            raise TerraformError("terraform version -json printed something unexpected",
                                 argv=list(done.argv)) from None
        if found < MIN_VERSION:
            need = ".".join(map(str, MIN_VERSION))
            raise TerraformError(f"terraform {'.'.join(map(str, found))} is too old: "
                                 f"hetzner-deploy needs >= {need}", argv=list(done.argv))
        return found

    def init(self, *, reconfigure: bool = False) -> None:
        done = self._run(self._argv("init", reconfigure=reconfigure,
                                    lock_timeout=self.lock_timeout))
        if done.returncode != 0:
            raise self._fail("init", done)

    def plan(self, planfile: Path, *, destroy: bool = False) -> PlanRun:
        op = "plan-destroy" if destroy else "plan"
        done = self._run(self._argv(op, planfile=str(planfile), detailed_exitcode=True,
                                    lock_timeout=self.lock_timeout))
        if done.returncode not in (0, 2):
            raise self._fail("plan", done)
        return PlanRun(done.returncode == 2, Path(planfile), tuple(parse_stream(done.stdout)))

    def show(self, planfile: Path | None = None) -> dict:
        done = self._run(self._argv("show", planfile=str(planfile) if planfile else None))
        if done.returncode != 0:
            raise self._fail("show", done)
        return json.loads(done.stdout)

    def output(self) -> dict:
        done = self._run(self._argv("output"))
        if done.returncode != 0:
            raise self._fail("output", done)
        return json.loads(done.stdout or "{}")

    def state_pull(self) -> dict:
        done = self._run(self._argv("state-pull"))
        if done.returncode != 0:
            raise self._fail("state pull", done)
        return json.loads(done.stdout) if done.stdout.strip() else {}

    def import_resource(self, address: str, ident: str) -> None:
        done = self._run(self._argv("import", args=(address, ident),
                                    lock_timeout=self.lock_timeout))
        if done.returncode != 0:
            raise self._fail("import", done)

    def apply(self, planfile: Path, on_event: Callable[[Event], None] | None = None,
              on_raw_line: Callable[[str], None] | None = None) -> ApplyRun:
        """Apply a saved plan, streaming events; SIGINT is forwarded to terraform once.

        terraform runs in its own session so a terminal Ctrl-C reaches only us;
        we pass one SIGINT on, then keep reading until terraform has finished
        its graceful shutdown (which writes state) and report it as interrupted.
        """
        argv = self._argv("apply", planfile=str(planfile), lock_timeout=self.lock_timeout)
        self._require_binary(argv)
        env = dict(os.environ)
        env.update(self.env)
        proc = subprocess.Popen(argv, cwd=self.workdir, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        interrupted = threading.Event()

        def forward(signum, frame):  # noqa: ARG001 - signal handler signature
            if not interrupted.is_set():
                interrupted.set()
                try:
                    proc.send_signal(signal.SIGINT)
                except ProcessLookupError:
                    pass

        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, forward) if in_main else None
        stderr_chunks: list[str] = []
        drain = threading.Thread(target=lambda: stderr_chunks.append(proc.stderr.read()),
                                 daemon=True)
        drain.start()
        events: list[Event] = []
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if on_raw_line:
                    on_raw_line(line)
                event = parse_line(line)
                if event is None:
                    continue
                events.append(event)
                if on_event:
                    on_event(event)
            proc.wait()
        except BaseException:
            # Our side failed (a renderer, a second Ctrl-C): stop terraform the
            # graceful way rather than leave it running in its own session.
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                proc.wait()
            raise
        finally:
            if in_main:
                signal.signal(signal.SIGINT, previous)
        drain.join(timeout=5)
        # A Ctrl-C that lands after the last resource changes nothing: exit 0.
        stopped = interrupted.is_set() and proc.returncode != 0
        result = ApplyRun(proc.returncode, stopped, tuple(events))
        if proc.returncode != 0 and not stopped:
            raise terraform_error("apply", argv, proc.returncode, events,
                                  "".join(stderr_chunks))
        return result


def terraform_error(what: str, argv: list[str], returncode: int, events: Sequence[Event],
                    stderr: str) -> TerraformError:
    """A TerraformError whose message leads with terraform's own diagnostic."""
    diags = error_lines(events)
    if not diags:
        diags = [line for line in process.tail(stderr, 5).splitlines() if line.strip()]
    first = diags[0] if diags else "no diagnostics"
    return TerraformError(f"terraform {what} failed (exit {returncode}): {first}",
                          argv=argv, returncode=returncode,
                          stderr_tail=process.tail(stderr), diagnostics=diags)

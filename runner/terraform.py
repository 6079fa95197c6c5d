"""The one module that starts `terraform`, every subcommand (fmt and version too).

argv is built by a pure function (`build_argv`) so every command line can be
asserted exactly in a table test; every call goes through runner.process,
with an overall deadline per operation. The binary is `TERRAFORM_BIN` when
set, else `terraform` on PATH, wherever terraform is started.

A binary that is not Terraform >= 1.5 (garbage, no JSON, too old for -json,
never answering) gives one TerraformError line, never a traceback or a hang.
"""
from __future__ import annotations

import json
import os
import re
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from errors import TerraformError
from runner import process
from runner.events import Event, error_lines, parse_line, parse_stream

MIN_VERSION = (1, 5, 0)
DEFAULT_BINARY = "terraform"
NEED = "Terraform ≥ 1.5 needed"

# Overall deadline per operation, seconds. A real apply can take long (server
# creation, volume attach); version and fmt never should.
TIMEOUTS = {
    "version": 30, "fmt": 60, "validate": 120, "init": 600, "plan": 1800,
    "plan-destroy": 1800, "plan-refresh-only": 1800, "apply": 3600, "show": 300, "output": 120, "state-pull": 300,
    "import": 600,
}
# One number overriding every deadline above (for slow machines, and tests).
TIMEOUT_ENV = "HETZNER_DEPLOY_TERRAFORM_TIMEOUT"

# Operations build_argv understands, mapped to terraform's subcommand.
_SUBCOMMANDS = {
    "version": "version", "init": "init", "plan": "plan", "plan-destroy": "plan",
    "plan-refresh-only": "plan",
    "apply": "apply", "show": "show", "output": "output", "state-pull": "state",
    "validate": "validate", "import": "import", "fmt": "fmt",
}


def binary_path(binary: str | None = None) -> str:
    """The terraform to run: an explicit one, else TERRAFORM_BIN, else `terraform`."""
    return binary or os.environ.get("TERRAFORM_BIN") or DEFAULT_BINARY


def timeout_for(op: str) -> float:
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if raw:
        try:
            value = float(raw)
        except ValueError:
            value = 0.0
        if value > 0:
            return value
    return float(TIMEOUTS.get(op, process.DEFAULT_TIMEOUT))


def build_argv(op: str, *, binary: str = DEFAULT_BINARY, planfile: str | None = None,
               detailed_exitcode: bool = False, lock_timeout: str | None = None,
               upgrade: bool = False, reconfigure: bool = False,
               fmt_check: bool = False, paths: Sequence[str] = (),
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
    elif op in ("plan", "plan-destroy", "plan-refresh-only"):
        if not planfile:
            raise ValueError("plan needs a planfile")
        argv += ["-json", "-input=false"]
        if op == "plan-destroy":
            argv.append("-destroy")
        elif op == "plan-refresh-only":
            # drift: compare the live target with state; proposes no change to
            # the infrastructure, and the saved plan file is never applied.
            argv.append("-refresh-only")
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
    elif op == "fmt":
        # check: list unformatted files, change nothing; else rewrite quietly
        argv += (["-check", "-recursive", "-list=true"] if fmt_check else ["-list=false"])
        argv += ["-no-color", *paths]
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


def _fmt_version(v: Sequence[int]) -> str:
    return ".".join(map(str, v))


def parse_version(text: str) -> tuple[int, int, int]:
    """`terraform version -json` -> (major, minor, patch).

    Terraform before 0.13 ignores -json and prints `Terraform v0.12.31`; that
    is parsed too, so the caller can say which version it found. Anything
    else raises ValueError.
    """
    raw = None
    try:
        doc = json.loads(text)
        if isinstance(doc, dict) and isinstance(doc.get("terraform_version"), str):
            raw = doc["terraform_version"]
    except ValueError:
        m = re.match(r"\s*Terraform v(\d+\.\d+(?:\.\d+)?)", text)
        raw = m.group(1) if m else None
    if raw is None or not re.fullmatch(r"\d+\.\d+(\.\d+)?([-+].*)?", raw):
        raise ValueError("not terraform version output")
    parts = re.split(r"[-+]", raw)[0].split(".")
    return tuple(int(p) for p in (parts + ["0", "0"])[:3])  # type: ignore[return-value]


def _excerpt(text: str, limit: int = 60) -> str:
    shown = " ".join(text.split())
    shown = "".join(ch if ch.isprintable() else "?" for ch in shown)
    return (shown[:limit] + "…") if len(shown) > limit else (shown or "nothing")


def version_of(binary: str | None = None, *, cwd: str | Path | None = None,
               env: Mapping[str, str] | None = None) -> tuple[int, int, int]:
    """The version of a terraform binary, refusing anything below MIN_VERSION.

    Raises TerraformError with one line for a missing binary, one that fails,
    one whose output is not a terraform version, and one that is too old.
    """
    binary = binary_path(binary)
    argv = build_argv("version", binary=binary)
    _require(binary, argv)
    done = process.run(argv, cwd=cwd, env=env if env is not None else terraform_env(),
                       check=False, timeout=timeout_for("version"), error_cls=TerraformError)
    try:
        found = parse_version(done.stdout)
    except ValueError:
        if done.returncode != 0:
            raise terraform_error("version", list(done.argv), done.returncode, [],
                                  done.stderr) from None
        raise TerraformError(f"{binary} does not look like Terraform: `terraform version "
                             f"-json` printed {_excerpt(done.stdout)!r} ({NEED})",
                             argv=list(done.argv)) from None
    if found < MIN_VERSION:
        raise TerraformError(f"{NEED}, found {_fmt_version(found)} ({binary}); "
                             "install a newer one or set TERRAFORM_BIN",
                             argv=list(done.argv))
    return found


def fmt(paths: Sequence[str | Path] = (), *, check: bool = False, cwd: str | Path | None = None,
        binary: str | None = None) -> process.Completed:
    """`terraform fmt`: rewrite `paths` in place, or with check=True list what is unformatted.

    Returns the completed process (exit 3 with check=True means "unformatted");
    the caller judges it. No provider or working directory is needed.
    """
    binary = binary_path(binary)
    argv = build_argv("fmt", binary=binary, fmt_check=check, paths=[str(p) for p in paths])
    _require(binary, argv)
    return process.run(argv, cwd=cwd, env=terraform_env(), check=False,
                       timeout=timeout_for("fmt"), error_cls=TerraformError)


def _require(binary: str, argv: Sequence[str]) -> None:
    if process.which(binary) is None and not os.path.isfile(binary):
        raise TerraformError(f"terraform not found: '{binary}' is not on PATH "
                             "(install Terraform >= 1.5 or set TERRAFORM_BIN)",
                             argv=list(argv))


def _json_doc(what: str, done: process.Completed, *, empty: object = None):
    """stdout as one JSON document, or one line saying it was not one."""
    text = done.stdout.strip()
    if not text and empty is not None:
        return empty
    try:
        return json.loads(text)
    except ValueError:
        raise TerraformError(f"terraform {what} printed no JSON "
                             f"(got {_excerpt(done.stdout)!r}); is {done.argv[0]} "
                             f"Terraform ≥ 1.5?", argv=list(done.argv),
                             returncode=done.returncode,
                             stderr_tail=process.tail(done.stderr)) from None


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
    signal: str | None = None  # the signal we passed on, when interrupted


class Terraform:
    """terraform bound to one working directory and environment."""

    def __init__(self, workdir: Path, env: Mapping[str, str] | None = None, *,
                 binary: str | None = None, lock_timeout: str | None = None):
        self.workdir = Path(workdir)
        self.env = dict(env or {})
        self.binary = binary_path(binary)
        self.lock_timeout = lock_timeout

    def _argv(self, op: str, **kw) -> list[str]:
        return build_argv(op, binary=self.binary, **kw)

    def _require_binary(self, argv: Sequence[str]) -> None:
        _require(self.binary, argv)

    def _run(self, op: str, argv: Sequence[str]) -> process.Completed:
        self._require_binary(argv)
        return process.run(argv, cwd=self.workdir, env=self.env, check=False,
                           timeout=timeout_for(op), error_cls=TerraformError)

    def _fail(self, what: str, done: process.Completed) -> TerraformError:
        return terraform_error(what, list(done.argv), done.returncode,
                               parse_stream(done.stdout), done.stderr)

    def version(self) -> tuple[int, int, int]:
        # not in the workdir: it may not exist yet
        return version_of(self.binary, env=self.env)

    def init(self, *, reconfigure: bool = False) -> None:
        done = self._run("init", self._argv("init", reconfigure=reconfigure,
                                            lock_timeout=self.lock_timeout))
        if done.returncode != 0:
            raise self._fail("init", done)

    def plan(self, planfile: Path, *, destroy: bool = False,
             refresh_only: bool = False) -> PlanRun:
        op = "plan-destroy" if destroy else "plan-refresh-only" if refresh_only else "plan"
        done = self._run(op, self._argv(op, planfile=str(planfile), detailed_exitcode=True,
                                        lock_timeout=self.lock_timeout))
        if done.returncode not in (0, 2):
            raise self._fail("plan", done)
        events = tuple(parse_stream(done.stdout))
        # terraform plan -json always opens with a `version` message; without
        # one this is not terraform >= 1.5 (or it printed something else).
        if not any(e.type != "text" for e in events):
            raise TerraformError(f"terraform plan printed no JSON (got "
                                 f"{_excerpt(done.stdout)!r}); is {self.binary} "
                                 "Terraform ≥ 1.5?", argv=list(done.argv),
                                 returncode=done.returncode,
                                 stderr_tail=process.tail(done.stderr))
        planfile = Path(planfile)
        target = planfile if planfile.is_absolute() else self.workdir / planfile
        if not target.is_file():
            raise TerraformError(f"terraform plan exited {done.returncode} but wrote no "
                                 f"plan file ({planfile.name})", argv=list(done.argv),
                                 returncode=done.returncode)
        return PlanRun(done.returncode == 2, planfile, events)

    def show(self, planfile: Path | None = None) -> dict:
        done = self._run("show", self._argv("show",
                                            planfile=str(planfile) if planfile else None))
        if done.returncode != 0:
            raise self._fail("show", done)
        doc = _json_doc("show", done)
        if not isinstance(doc, dict):
            raise TerraformError("terraform show printed JSON that is not an object",
                                 argv=list(done.argv))
        return doc

    def output(self) -> dict:
        done = self._run("output", self._argv("output"))
        if done.returncode != 0:
            raise self._fail("output", done)
        doc = _json_doc("output", done, empty={})
        if not isinstance(doc, dict):
            raise TerraformError("terraform output printed JSON that is not an object",
                                 argv=list(done.argv))
        return doc

    def state_pull(self) -> dict:
        done = self._run("state-pull", self._argv("state-pull"))
        if done.returncode != 0:
            raise self._fail("state pull", done)
        doc = _json_doc("state pull", done, empty={})
        if not isinstance(doc, dict):
            raise TerraformError("terraform state pull printed JSON that is not an object",
                                 argv=list(done.argv))
        return doc

    def import_resource(self, address: str, ident: str) -> None:
        done = self._run("import", self._argv("import", args=(address, ident),
                                              lock_timeout=self.lock_timeout))
        if done.returncode != 0:
            raise self._fail("import", done)

    def apply(self, planfile: Path, on_event: Callable[[Event], None] | None = None,
              on_raw_line: Callable[[str], None] | None = None) -> ApplyRun:
        """Apply a saved plan, streaming events.

        SIGINT, SIGTERM and SIGHUP sent to us reach terraform once, as SIGINT
        (runner.process.stream); terraform finishes its graceful shutdown,
        which writes state, and the run is reported as interrupted.
        """
        argv = self._argv("apply", planfile=str(planfile), lock_timeout=self.lock_timeout)
        self._require_binary(argv)
        events: list[Event] = []

        def on_line(line: str) -> None:
            if on_raw_line:
                on_raw_line(line)
            event = parse_line(line)
            if event is None:
                return
            events.append(event)
            if on_event:
                on_event(event)

        done = process.stream(argv, on_line, cwd=self.workdir, env=self.env,
                              timeout=timeout_for("apply"), error_cls=TerraformError)
        # A signal that lands after the last resource changes nothing: exit 0.
        stopped = done.interrupted is not None and done.returncode != 0
        if done.returncode != 0 and not stopped:
            raise terraform_error("apply", argv, done.returncode, events, done.stderr)
        if done.returncode == 0 and not any(e.type != "text" for e in events):
            raise TerraformError(f"terraform apply printed no JSON; is {self.binary} "
                                 "Terraform ≥ 1.5?", argv=argv, returncode=0,
                                 stderr_tail=process.tail(done.stderr))
        return ApplyRun(done.returncode, stopped, tuple(events),
                        done.interrupted if stopped else None)


def terraform_error(what: str, argv: list[str], returncode: int, events: Sequence[Event],
                    stderr: str) -> TerraformError:
    """A TerraformError whose message leads with terraform's own diagnostic."""
    diags = error_lines(events)
    if not diags:
        diags = [line for line in process.tail(stderr, 5).splitlines() if line.strip()]
    if not diags:  # e.g. a fake or broken binary that prints text on stdout
        diags = [line.strip() for line in process.tail(
            "\n".join(e.message for e in events if e.type == "text"), 5).splitlines()
            if line.strip()]
    first = diags[0] if diags else "no diagnostics"
    if returncode < 0:  # killed from outside (kill -9, the OOM killer)
        status = f"killed by {_signal_name(-returncode)}"
    else:
        status = f"exit {returncode}"
    return TerraformError(f"terraform {what} failed ({status}): {_excerpt(first, 300)}",
                          argv=argv, returncode=returncode,
                          stderr_tail=process.tail(stderr), diagnostics=diags)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"

"""The pipeline engine: one ordered list of phases, run, skipped and reported alike.

A phase is a small object with a name, the key of its inputs, `run()` and the
checks it adds to `verify --after`. The engine owns everything around it:

- order, and the `--from PHASE` / `--only PHASE` / `--fresh` selections;
- checkpoint skip and record: a phase whose key is the one recorded when it
  last succeeded is skipped (its recorded result is handed back to it); a
  failed or interrupted phase records nothing, so the next run resumes there;
- the one-line report per phase;
- interrupts: SIGINT, SIGTERM and SIGHUP become KeyboardInterrupt between
  child processes (runner.process forwards them to a running child itself),
  the phase is reported "interrupted" and one InterruptedRun error is raised.
"""
from __future__ import annotations

import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol, Sequence

from errors import ConfigError, DeployError, InterruptedRun, RefusedError
from pipeline.progress import PhaseLine


@dataclass(frozen=True)
class PhaseResult:
    detail: str = ""
    # Kept in the checkpoint and handed to `restore()` when the phase is skipped.
    record: dict[str, Any] = field(default_factory=dict)
    # The key to record when running changed the phase's own inputs (apply
    # moves the state serial): what the next run will compute before running.
    record_key: str | None = None
    status: str = "done"


class Phase(Protocol):
    name: str

    def key(self, ctx) -> str | None:
        """Hash of every input; None means "never skip"."""

    def run(self, ctx) -> PhaseResult: ...

    def restore(self, ctx, record: dict[str, Any]) -> str:
        """Re-establish what a skipped run would have produced; returns the line's detail."""

    def after_checks(self, after) -> list:
        """Checks this phase contributes to `verify --after`."""


@dataclass(frozen=True)
class Planned:
    """A phase that is not built yet: `verify --after` lists its checks as not checked."""
    name: str
    checks: tuple[str, ...]


@dataclass(frozen=True)
class AfterContext:
    """What `verify --after` hands every phase's after-checks."""
    client: Any
    outputs: Any                  # runner.outputs.StackOutputs
    state: Any = None             # terraform state or show -json, when readable
    profile: Any = None
    config: Any = None
    target: Any = None            # pipeline.target.Target (the sandbox's registrar, ...)


def gather_after_checks(phases: Sequence[Phase], planned: Sequence[Planned],
                        after: AfterContext) -> list:
    from checks.base import NOT_CHECKED, Check
    checks: list = []
    for phase in phases:
        checks += phase.after_checks(after)
    for phase in planned:
        checks += [Check("after", item, NOT_CHECKED, f"not checked yet ({phase.name} phase)")
                   for item in phase.checks]
    return checks


@dataclass(frozen=True)
class Selection:
    only: str | None = None
    start: str | None = None      # --from
    fresh: bool = False

    def validate(self, names: Sequence[str]) -> None:
        for flag, value in (("--only", self.only), ("--from", self.start)):
            if value is not None and value not in names:
                raise ConfigError(f"{flag}: unknown phase {value!r}; phases: {', '.join(names)}")
        if self.only and self.start:
            raise ConfigError("--only and --from cannot be combined")

    def selected(self, names: Sequence[str]) -> list[str]:
        if self.only:
            return [self.only]
        if self.start:
            return list(names[names.index(self.start):])
        return list(names)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def interrupts_as_keyboard_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP stop a run the way Ctrl-C does, in the main thread only."""
    import threading
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    for sig in saved:
        signal.signal(sig, _raise_interrupt)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _before_wanted(phase, phases, wanted) -> bool:
    names = [p.name for p in phases]
    return any(names.index(phase.name) < names.index(w) for w in wanted)


def _quietly(phase, ctx) -> None:
    """A phase whose result the later ones read (outputs), left out by --only/--from:
    restored from its record, or run when none matches (it only reads)."""
    key = phase.key(ctx)
    recorded = None if key is None else ctx.checkpoint.done(phase.name, key)
    if recorded is not None:
        phase.restore(ctx, recorded)
    else:
        phase.run(ctx)


def run_phases(phases: Sequence[Phase], ctx, selection: Selection = Selection()) -> list[PhaseLine]:
    """Run the selected phases in order; returns the one-line reports."""
    names = [p.name for p in phases]
    selection.validate(names)
    wanted = set(selection.selected(names))
    lines: list[PhaseLine] = []

    started = time.monotonic()

    def report(name: str, status: str, detail: str) -> None:
        line = PhaseLine(name, status, detail, round(time.monotonic() - started, 3))
        lines.append(line)
        ctx.progress.phase(line)

    if selection.fresh:
        ctx.checkpoint.forget()
    with interrupts_as_keyboard_interrupt():
        for phase in phases:
            if phase.name not in wanted:
                if getattr(phase, "read_only_input", False) and _before_wanted(phase, phases, wanted):
                    _quietly(phase, ctx)
                continue
            current = phase.name
            started = time.monotonic()
            try:
                key = phase.key(ctx)
                recorded = None if key is None else ctx.checkpoint.done(phase.name, key)
                if recorded is not None:
                    report(phase.name, "skipped", phase.restore(ctx, recorded))
                    continue
                result = phase.run(ctx)
            except KeyboardInterrupt as exc:
                why = str(exc) or "SIGINT"
                report(current, "interrupted", why)
                raise InterruptedRun(f"interrupted ({why}) during the {current} phase; nothing "
                                     f"was recorded for it: run the same command again to "
                                     f"resume there") from None
            except DeployError as exc:
                status = ("refused" if isinstance(exc, RefusedError) else
                          "interrupted" if isinstance(exc, InterruptedRun) else "failed")
                report(current, status, exc.message.splitlines()[0] if exc.message else "")
                raise
            new_key = result.record_key or key
            if new_key is not None:
                ctx.checkpoint.record(phase.name, new_key, result.record)
            report(phase.name, result.status, result.detail)
    return lines

"""The engine on a fake two-phase pipeline: order, skip, record, resume, selections."""
from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field

import pytest

from errors import CommandError, ConfigError, InterruptedRun
from pipeline.checkpoint import Checkpoint
from pipeline.engine import PhaseResult, Selection, run_phases
from pipeline.progress import RecordingProgress


@dataclass
class FakePhase:
    name: str
    inputs: dict
    fail: list = field(default_factory=list)      # pop() raises while non-empty
    runs: int = 0

    def key(self, ctx):
        return f"{self.name}:{self.inputs[self.name]}"

    def run(self, ctx):
        self.runs += 1
        if self.fail:
            raise self.fail.pop()
        ctx.handed[self.name] = self.runs
        return PhaseResult(f"ran {self.runs}", record={"runs": self.runs})

    def restore(self, ctx, record):
        ctx.handed[self.name] = record["runs"]
        return f"restored {record['runs']}"

    def after_checks(self, after):
        return []


@dataclass
class Ctx:
    checkpoint: Checkpoint
    progress: RecordingProgress = field(default_factory=RecordingProgress)
    handed: dict = field(default_factory=dict)


@pytest.fixture
def world(tmp_path):
    inputs = {"build": 1, "ship": 1}
    phases = [FakePhase("build", inputs), FakePhase("ship", inputs)]
    return inputs, phases, (lambda: Ctx(Checkpoint(tmp_path / "cp.json")))


def statuses(lines):
    return [(l.phase, l.status) for l in lines]


def test_first_run_runs_all_then_a_rerun_skips_and_restores(world):
    inputs, (build, ship), new = world
    assert statuses(run_phases([build, ship], new())) == [("build", "done"), ("ship", "done")]
    ctx = new()
    assert statuses(run_phases([build, ship], ctx)) == [("build", "skipped"), ("ship", "skipped")]
    assert ctx.handed == {"build": 1, "ship": 1} and build.runs == 1 and ship.runs == 1
    inputs["ship"] = 2                                   # only ship's inputs changed
    assert statuses(run_phases([build, ship], new())) == [("build", "skipped"), ("ship", "done")]


def test_a_failing_phase_stops_the_run_records_nothing_and_the_rerun_resumes_there(world):
    _, (build, ship), new = world
    build.fail.append(CommandError("compiler broke"))
    ctx = new()
    with pytest.raises(CommandError, match="compiler broke"):
        run_phases([build, ship], ctx)
    assert statuses(ctx.progress.lines) == [("build", "failed")] and ship.runs == 0
    assert ctx.checkpoint.done("build", "build:1") is None
    ship.fail.append(CommandError("ship sank"))
    with pytest.raises(CommandError):
        run_phases([build, ship], new())
    again = new()
    assert statuses(run_phases([build, ship], again)) == [("build", "skipped"), ("ship", "done")]
    assert build.runs == 2 and ship.runs == 2


def test_from_and_only_select_phases(world):
    _, (build, ship), new = world
    assert statuses(run_phases([build, ship], new(), Selection(start="ship"))) == [("ship", "done")]
    assert build.runs == 0
    assert statuses(run_phases([build, ship], new(), Selection(only="build"))) == [("build", "done")]
    assert statuses(run_phases([build, ship], new(), Selection(fresh=True))) == [
        ("build", "done"), ("ship", "done")]
    assert build.runs == 2 and ship.runs == 2


def test_a_read_only_input_phase_left_out_by_only_is_restored_or_read_again(world):
    """`deploy --only tls` needs the outputs: the outputs phase is restored from its
    record, or run when none matches (it only reads); it reports nothing."""
    inputs, (build, ship), new = world
    build.read_only_input = True
    ctx = new()
    assert statuses(run_phases([build, ship], ctx, Selection(only="ship"))) == [("ship", "done")]
    assert build.runs == 1 and ctx.handed["build"] == 1          # nothing recorded: it ran
    run_phases([build, ship], new())                             # records build (ship skipped)
    ctx = new()
    assert statuses(run_phases([build, ship], ctx, Selection(only="ship"))) == [("ship", "skipped")]
    assert build.runs == 2 and ctx.handed["build"] == 2          # restored, not run again
    # After the selected phase, nothing is pulled in.
    assert statuses(run_phases([ship, build], new(), Selection(only="ship"))) == [("ship", "skipped")]
    assert build.runs == 2


def test_unknown_or_conflicting_selections_are_config_errors(world):
    _, phases, new = world
    with pytest.raises(ConfigError, match="--only: unknown phase 'deploy'; phases: build, ship"):
        run_phases(phases, new(), Selection(only="deploy"))
    with pytest.raises(ConfigError, match="cannot be combined"):
        run_phases(phases, new(), Selection(only="build", start="ship"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_interrupt_like_ctrl_c_and_record_nothing(world, sig):
    _, (build, ship), new = world

    class Signalling(FakePhase):
        def run(self, ctx):
            os.kill(os.getpid(), sig)        # delivered to the engine's handler
            return super().run(ctx)

    slow = Signalling("ship", build.inputs)
    ctx = new()
    before = signal.getsignal(sig)
    with pytest.raises(InterruptedRun, match=f"interrupted \\({sig.name}\\) during the ship"):
        run_phases([build, slow], ctx)
    assert statuses(ctx.progress.lines) == [("build", "done"), ("ship", "interrupted")]
    assert ctx.checkpoint.done("ship", "ship:1") is None
    assert signal.getsignal(sig) is before               # handlers restored

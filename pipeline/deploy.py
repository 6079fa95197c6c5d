"""`deploy`: the phases of pipeline.phases, run by the engine.

A checkpoint in the work directory lets a rerun skip phases whose inputs are
unchanged: a second deploy with nothing changed neither plans nor applies
(use `plan` to look for drift, or `deploy --fresh` to ignore the checkpoint).
"""
from __future__ import annotations

from dataclasses import dataclass

from generator.config import with_environment
from generator.profile_choice import ProfileChoice, resolve_profile
from pipeline.checkpoint import Checkpoint
from pipeline.context import Confirm, Context, DeployOptions
from pipeline.engine import Selection, run_phases
from pipeline.progress import NullProgress, PhaseLine, Progress
from runner.outputs import StackOutputs
from runner.plan import PlanSummary
from runner.workspace import workdir_path

__all__ = ["DeployOptions", "DeployResult", "deploy", "make_context", "run_context"]


@dataclass(frozen=True)
class DeployResult:
    target_kind: str
    env: str
    profile: str
    choice: ProfileChoice
    applied: bool
    summary: PlanSummary | None
    outputs: StackOutputs | None
    lines: tuple[PhaseLine, ...]


def _stacks_dir(options: DeployOptions):
    from generator.config import STACKS
    return options.stacks_dir or STACKS


def make_context(config, options: DeployOptions, target, *, progress: Progress | None = None,
                 confirm: Confirm | None = None) -> Context:
    if config.environment != options.env:
        config = with_environment(config, options.env)   # the same checks as --env
    stacks = _stacks_dir(options)
    choice = resolve_profile(config, options.profile, stacks_dir=stacks, env=options.env)
    workdir = workdir_path(target.kind, options.env, stacks_dir=stacks,
                           sandbox_dir=options.sandbox_dir)
    # Scoped to the project (a hash of kind, endpoint and token): another project's
    # token on the same endpoint never inherits "already deployed".
    checkpoint = Checkpoint(workdir / ".work" / "checkpoint.json", scope=target.fingerprint)
    return Context(config=config, options=options, target=target, choice=choice,
                   progress=progress or NullProgress(), checkpoint=checkpoint,
                   stacks_dir=stacks, workdir=workdir, confirm=confirm)


def deploy(config, options: DeployOptions, target, *, progress: Progress | None = None,
           confirm: Confirm | None = None, generate_stack: bool = True,
           phases=None) -> DeployResult:
    """Run the pipeline. `confirm` asks a human (None: no terminal)."""
    ctx = make_context(config, options, target, progress=progress, confirm=confirm)
    return run_context(ctx, generate_stack=generate_stack, phases=phases)


def run_context(ctx: Context, *, generate_stack: bool = True, phases=None) -> DeployResult:
    """Run the phases holding the work directory's lock: one run at a time."""
    from pipeline.phases import PHASES
    from runner.worklock import workdir_lock
    options = ctx.options
    chosen = [p for p in (phases or PHASES)
              if (options.run_preflight or p.name != "preflight")
              and (generate_stack or p.name != "generate")]
    if ctx.checkpoint.note:
        ctx.progress.note(f"note: {ctx.checkpoint.note}")
    with workdir_lock(ctx.workdir, "deploy"):
        lines = run_phases(chosen, ctx, Selection(only=options.only, start=options.start,
                                                  fresh=options.fresh))
    return DeployResult(ctx.target.kind, options.env, ctx.profile.name, ctx.choice,
                        ctx.applied, ctx.summary, ctx.outputs, tuple(lines))

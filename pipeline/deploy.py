"""`deploy`: preflight -> generate -> plan -> review -> apply -> outputs.

Each phase reports one PhaseLine. A checkpoint in the work directory lets a
rerun skip phases whose inputs are unchanged: a second deploy with nothing
changed neither plans nor applies (use `plan` to look for drift, or
`deploy --fresh` to ignore the checkpoint).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from errors import RefusedError, TerraformError
from pipeline.checkpoint import Checkpoint, key_of
from pipeline.progress import NullProgress, PhaseLine, Progress
from pipeline.review import decide
from pipeline.stack import apply_saved, make_plan, open_session, read_outputs
from runner.outputs import StackOutputs
from runner.plan import PlanSummary
from runner.plan_format import counts_line, to_text
from runner.state import state_id
from runner.workspace import stack_hash, workdir_path

Confirm = Callable[[PlanSummary], bool]


@dataclass(frozen=True)
class DeployOptions:
    env: str
    profile: str | None = None
    auto_approve: bool = False
    allow_replace: bool = False
    fresh: bool = False
    stacks_dir: Path | None = None
    sandbox_dir: Path | None = None
    run_preflight: bool = True


@dataclass(frozen=True)
class DeployResult:
    target_kind: str
    env: str
    profile: str
    applied: bool
    summary: PlanSummary | None
    outputs: StackOutputs
    lines: tuple[PhaseLine, ...]


class _Phases:
    """Collects the one-line reports while forwarding them to the caller's Progress."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.lines: list[PhaseLine] = []

    def report(self, phase: str, status: str, detail: str = "") -> None:
        line = PhaseLine(phase, status, detail)
        self.lines.append(line)
        self.progress.phase(line)


def _stacks_dir(options: DeployOptions) -> Path:
    from generator.render import STACKS
    return options.stacks_dir or STACKS


def choose_profile(config, options: DeployOptions) -> str:
    from generator.render import stack_profile
    name = options.profile or config.profile or stack_profile(_stacks_dir(options) / options.env)
    if not name:
        from generator.sizing import recommend
        name = recommend(config.calls_per_month, config.thresholds).profile
    from generator.profiles import get_profile
    return get_profile(name).name


def _preflight(config, profile: str, target, cp: Checkpoint, ph: _Phases, *,
               workdir: Path, stacks_dir: Path) -> None:
    from checks.preflight import run_preflight
    key = key_of("preflight", config.source.read_text() if config.source.is_file() else "",
                 profile, target.kind, target.endpoint)
    if cp.done("preflight", key) is not None:
        ph.report("preflight", "skipped", "passed before with the same config and target")
        return
    from generator.profiles import get_profile
    report = run_preflight(config, get_profile(profile), target, workdir=workdir,
                           stacks_dir=stacks_dir)
    if not report.ready:
        actions = "; ".join(getattr(report, "next_actions", ()) or ()) or "see `hetzner-deploy verify`"
        ph.report("preflight", "failed", actions)
        raise RefusedError(f"preflight found blockers: {actions}")
    cp.record("preflight", key)
    ph.report("preflight", "done", "ready")


def _generator_inputs(config, profile: str, options: DeployOptions) -> str:
    """Everything a render depends on, hashed: config, key, templates, generator code, stack."""
    from generator.render import ROOT
    files = [config.source, Path(config.ssh_public_key)]
    for folder, pattern in ((ROOT / "generator", "*"), (ROOT / "terraform" / "templates", "*"),
                            (ROOT / "cloud-init", "*")):
        files += sorted(p for p in folder.glob(pattern) if p.is_file())
    digest = [(str(p), p.read_bytes().hex() if p.is_file() else None) for p in files]
    stack = _stacks_dir(options) / options.env
    return key_of("generate", profile, options.env, digest,
                  stack_hash(stack) if stack.is_dir() else "")


def _generate(config, profile: str, options: DeployOptions, ph: _Phases,
              cp: Checkpoint) -> None:
    if cp.done("generate", _generator_inputs(config, profile, options)) is not None:
        ph.report("generate", "skipped", f"stack for {profile} is up to date (unchanged inputs)")
        return
    from generator.render import generate, stale_files
    stacks = _stacks_dir(options)
    stale = stale_files(config, options.env, stacks, profile_name=profile)
    if not stale:
        ph.report("generate", "skipped", f"stack for {profile} is up to date")
    else:
        result = generate(config, profile, options.env, stacks_dir=stacks)
        changed = [f.name for f in result.files if f.status != "identical"]
        ph.report("generate", "done", f"{profile}: {', '.join(changed)}")
    cp.record("generate", _generator_inputs(config, profile, options))


def deploy(config, options: DeployOptions, target, **kwargs) -> DeployResult:
    """Run the pipeline holding the work directory's lock (one run at a time)."""
    from runner.worklock import workdir_lock
    workdir = workdir_path(target.kind, options.env, stacks_dir=_stacks_dir(options),
                           sandbox_dir=options.sandbox_dir)
    with workdir_lock(workdir, "deploy"):
        return _deploy(config, options, target, **kwargs)


def _deploy(config, options: DeployOptions, target, *, progress: Progress | None = None,
            confirm: Confirm | None = None, generate_stack: bool = True) -> DeployResult:
    """Run the pipeline. `confirm` asks a human (None: no terminal)."""
    ph = _Phases(progress or NullProgress())
    config = dataclasses.replace(config, environment=options.env)
    profile = choose_profile(config, options)
    workdir = workdir_path(target.kind, options.env, stacks_dir=_stacks_dir(options),
                           sandbox_dir=options.sandbox_dir)
    cp = Checkpoint(workdir / ".work" / "checkpoint.json", scope=target.fingerprint)
    if cp.note:
        ph.progress.note(f"note: {cp.note}")
    if options.fresh:
        cp.forget()
    session = open_session(target, options.env, stacks_dir=options.stacks_dir,
                           sandbox_dir=options.sandbox_dir)
    # Preflight first: it touches nothing, so a blocker stops the run before
    # even the local stack is rewritten. A stale stack is only a warning there.
    if options.run_preflight:
        _preflight(config, profile, target, cp, ph, workdir=session.ws.workdir,
                   stacks_dir=_stacks_dir(options))
    if generate_stack:
        _generate(config, profile, options, ph, cp)

    def infra_key() -> str:
        return key_of("infra", stack_hash(session.ws.stack_dir), target.kind, target.endpoint,
                      dataclasses.astuple(state_id(session.ws, session.tf)))

    summary, applied = None, False
    done = cp.done("infra", infra_key())
    if done is not None:
        ph.report("plan", "skipped", "stack and state unchanged since the last deploy")
        ph.report("review", "skipped", "nothing to review")
        ph.report("apply", "skipped", "nothing to apply")
    else:
        plan = make_plan(session, config)
        summary = plan.summary
        init = f"init ({plan.init.reason}), " if plan.init.ran else "init skipped, "
        ph.report("plan", "done", init + (counts_line(summary) if summary.has_changes
                                          else "no changes"))
        decision = decide(summary, target_kind=target.kind, auto_approve=options.auto_approve,
                          interactive=confirm is not None, allow_replace=options.allow_replace)
        if decision.action == "nothing":
            ph.report("review", "skipped", "no changes")
            ph.report("apply", "skipped", "nothing to apply")
        else:
            if decision.action == "ask":
                if not confirm(summary):
                    ph.report("review", "refused", "not confirmed")
                    raise RefusedError("not applied: the plan was not confirmed")
                ph.report("review", "done", "confirmed")
            else:
                ph.progress.note(to_text(summary))
                ph.report("review", "done", decision.reason)
            started = time.monotonic()
            result = apply_saved(session, config, allow_replace=options.allow_replace,
                                 progress=ph.progress)
            if result.interrupted:
                ph.report("apply", "failed", f"interrupted after {len(result.completed)} "
                          "resource(s); state saved")
                err = TerraformError(
                    f"apply interrupted: terraform stopped cleanly after "
                    f"{len(result.completed)} resource(s) and saved its state; run "
                    f"`hetzner-deploy deploy --env {options.env}` again to converge "
                    f"(log: {result.log_path})", returncode=result.returncode)
                err.exit_code = 130
                raise err
            applied = True
            ph.report("apply", "done", f"{len(result.completed)} resource(s) in "
                      f"{time.monotonic() - started:.1f}s; log {result.log_path.name}")
        cp.record("infra", infra_key())
    key = infra_key()
    cached = cp.done("outputs", key)
    if cached:
        outputs = StackOutputs.from_dict(cached)
        source = "unchanged since the last deploy"
    else:
        outputs = read_outputs(session)
        cp.record("outputs", key, outputs.as_dict())
        source = "read from terraform"
    ph.report("outputs", "done", f"{outputs.server_name} {outputs.server_ipv4} ({source})")
    return DeployResult(target.kind, options.env, profile, applied, summary, outputs,
                        tuple(ph.lines))

"""Preflight: the `verify` checks, before anything is written or created.

It touches nothing, so it runs first: a blocker stops the run before even
the local stack is rewritten. A stale stack is only a warning there, since
the generate phase comes next.
"""
from __future__ import annotations

from pipeline.checkpoint import key_of
from pipeline.engine import PhaseResult
from errors import RefusedError

name = "preflight"


def key(ctx) -> str:
    source = ctx.config.source
    return key_of(name, source.read_text() if source.is_file() else "", ctx.profile.name,
                  ctx.fingerprint)


def run(ctx) -> PhaseResult:
    from checks.preflight import run_preflight
    report = run_preflight(ctx.config, ctx.profile, ctx.target,
                           workdir=ctx.session.ws.workdir, stacks_dir=ctx.stacks_dir)
    if not report.ready:
        actions = "; ".join(report.next_actions) or "see `hetzner-deploy verify`"
        raise RefusedError(f"preflight found blockers: {actions}")
    return PhaseResult("ready")


def restore(ctx, record) -> str:
    return "passed before with the same config and target"


def after_checks(after) -> list:
    return []   # `verify` itself is the before-check

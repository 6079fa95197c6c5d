"""Infra: plan, review, apply — the stack's resources in the cloud.

Skipped when the stack files, the target and the state identity are what
they were after the last successful run: a no-op deploy neither plans nor
applies (`deploy --fresh` or `plan` look for drift).
"""
from __future__ import annotations

import time

from errors import InterruptedRun, RefusedError
from pipeline.checkpoint import key_of
from pipeline.engine import PhaseResult
from runner.workspace import stack_hash

name = "infra"


def key(ctx) -> str:
    from pipeline.tier_switch import terraform_vars
    # A tier switch's stage changes what terraform is asked for without changing the stack.
    stage = sorted(terraform_vars(ctx.session.ws.workdir).items())
    return key_of(name, stack_hash(ctx.session.ws.stack_dir), ctx.fingerprint,
                  ctx.state_identity(), *([stage] if stage else []))


def _review(ctx, summary) -> str | None:
    """None when there is nothing to apply, else how the plan was approved."""
    from pipeline.review import decide
    from runner.plan_format import to_text
    decision = decide(summary, target_kind=ctx.target.kind,
                      auto_approve=ctx.options.auto_approve,
                      interactive=ctx.confirm is not None,
                      allow_replace=ctx.options.allow_replace,
                      accept_data_loss=ctx.options.accept_data_loss)
    if decision.action == "nothing":
        return None
    if decision.action == "ask":
        if not ctx.confirm(summary):
            raise RefusedError("not applied: the plan was not confirmed")
        return "confirmed"
    ctx.progress.note(to_text(summary))
    return decision.reason


def run(ctx) -> PhaseResult:
    from pipeline.stack import apply_saved, make_plan
    from runner.plan_format import counts_line
    plan = make_plan(ctx.session, ctx.config)
    ctx.summary = summary = plan.summary
    init = f"init ({plan.init.reason}), " if plan.init.ran else ""
    planned = init + (counts_line(summary) if summary.has_changes else "no changes")
    approval = _review(ctx, summary)
    if approval is None:
        return PhaseResult(f"plan: {planned}; nothing to apply")
    drained = _drain(ctx, summary)
    started = time.monotonic()
    result = apply_saved(ctx.session, ctx.config, allow_replace=ctx.options.allow_replace,
                         accept_data_loss=ctx.options.accept_data_loss, progress=ctx.progress)
    ctx.state_changed()
    if result.interrupted:
        raise InterruptedRun(
            f"apply interrupted: terraform stopped cleanly after {len(result.completed)} "
            f"resource(s) and saved its state; run `hetzner-deploy deploy --env {ctx.env}` "
            f"again to converge (log: {result.log_path})")
    ctx.applied = True
    return PhaseResult(f"plan: {planned}; review: {approval}; {drained}applied "
                       f"{len(result.completed)} resource(s) in "
                       f"{time.monotonic() - started:.1f}s (log {result.log_path.name})",
                       record_key=key(ctx))


def _drain(ctx, summary) -> str:
    """Servers leaving the load balancer go out of it (and DRAIN_S passes) before the
    apply destroys them: Terraform alone deletes a target and its server back to back."""
    if not any(c.type == "hcloud_load_balancer_target" and c.action in ("delete", "replace")
               for c in summary.changes):
        return ""
    from app.lb import doomed_targets, drain
    from checks import hetzner_api
    from runner.state import load_state
    doomed = doomed_targets(summary, load_state(ctx.session.ws, ctx.session.tf))
    if not doomed:
        return ""
    # Every API failure is one ApiError line (LoadBalancerGate.guarded); nothing is applied.
    client = hetzner_api.open_client(ctx.target.endpoint, ctx.target.token)
    names = drain(client, doomed, ctx.target.endpoint)
    return f"took {', '.join(names)} out of the load balancer before the apply; " if names else ""


def restore(ctx, record) -> str:
    return "stack and state unchanged since the last deploy: nothing to plan"


def after_checks(after) -> list:
    from checks.after import after_checks as infra_checks
    backup_roles = None
    if after.profile is not None:
        backup_roles = frozenset(r.name for r in after.profile.server_roles if r.backups)
    return list(infra_checks(after.client, after.outputs, after.state,
                             backup_roles=backup_roles))

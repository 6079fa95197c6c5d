"""The review rule: what may be applied without a human, and what never may.

Two levels of protection, checked here and nowhere else (decide() for the
pipeline and apply_saved() for `apply` both come through check_safety):

- A plan that replaces or deletes a server, volume or DNS zone is refused
  unless the caller passed allow_replace.
- A plan that replaces or deletes what holds the data (the volume, or the
  server the volume is attached to: all-in-one or db; runner.plan.data_holders)
  is refused even with allow_replace, unless the caller passed
  accept_data_loss, a flag that names the risk. A tier switch, a deploy and
  `apply` all meet the same rule. `destroy` has its own confirmation (the
  environment's name, and --destroy-volume for the volume), so a destroy plan
  is not judged here.

Otherwise the sandbox applies safe plans unattended (CI has no TTY); the
real target needs a typed `yes` or an explicit --auto-approve.
"""
from __future__ import annotations

from dataclasses import dataclass

from errors import RefusedError
from runner.plan import PROTECTED_TYPES, PlanSummary, ResourceChange


@dataclass(frozen=True)
class Decision:
    action: str   # "apply" | "ask" | "nothing"
    reason: str


def _why(c: ResourceChange) -> str:
    return f" because {', '.join(c.replace_paths)} changed" if c.replace_paths else ""


def data_loss(summary: PlanSummary) -> list[tuple[ResourceChange, str]]:
    """Destructive changes of what holds the data, with the reason it holds it.

    A summary without attributes (the plan -json stream alone) cannot tell which
    server carries the volume: every replaced or deleted server counts then.
    """
    holders = dict(summary.data_holders)
    hits = []
    for c in summary.destructive_on(PROTECTED_TYPES):
        if c.address in holders:
            hits.append((c, holders[c.address]))
        elif c.type == "hcloud_volume":
            hits.append((c, "it is a volume"))
        elif c.type == "hcloud_server" and not summary.detailed:
            hits.append((c, "the plan's attributes were not read, so it may hold the data"))
    return hits


def data_loss_message(summary: PlanSummary) -> str | None:
    hits = data_loss(summary)
    if not hits:
        return None
    parts = [f"{c.address} would be {c.action}d{_why(c)} ({reason})" for c, reason in hits]
    return ("refusing a plan that can lose the data: " + "; ".join(parts)
            + " (--allow-replace is not enough: rerun with --accept-data-loss only if losing "
              "that data is really intended, after a backup)")


def check_safety(summary: PlanSummary, allow_replace: bool,
                 accept_data_loss: bool = False) -> None:
    if summary.destroy:
        return   # `destroy` confirms by the environment's name and --destroy-volume
    loss = data_loss_message(summary)
    if loss and not accept_data_loss:
        raise RefusedError(loss)
    holders = {c.address for c, _ in data_loss(summary)}
    others = [c for c in summary.destructive_on(PROTECTED_TYPES) if c.address not in holders]
    if others and not allow_replace:
        parts = [f"{c.address} would be {c.action}d{_why(c)}" for c in others]
        raise RefusedError("refusing a plan that loses a server, volume or DNS zone: "
                           + "; ".join(parts)
                           + " (rerun with --allow-replace if that is really intended)")


def decide(summary: PlanSummary, *, target_kind: str, auto_approve: bool,
           interactive: bool, allow_replace: bool, accept_data_loss: bool = False) -> Decision:
    if not summary.has_changes:
        return Decision("nothing", "no changes")
    check_safety(summary, allow_replace, accept_data_loss)
    if auto_approve:
        return Decision("apply", "--auto-approve")
    if interactive:
        return Decision("ask", "confirmation")
    if target_kind == "sandbox":
        return Decision("apply", "sandbox target, no destructive change")
    raise RefusedError("the plan changes real infrastructure and there is no terminal to "
                       "confirm it: rerun with --auto-approve after reviewing `hetzner-deploy plan`")

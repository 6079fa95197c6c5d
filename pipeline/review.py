"""The review rule: what may be applied without a human, and what never may.

A plan that replaces or deletes a server or volume is refused unless the
caller passed allow_replace, whatever the approval mode. Otherwise the
sandbox applies safe plans unattended (CI has no TTY); the real target
needs a typed `yes` or an explicit --auto-approve.
"""
from __future__ import annotations

from dataclasses import dataclass

from errors import RefusedError
from runner.plan import PROTECTED_TYPES, PlanSummary


@dataclass(frozen=True)
class Decision:
    action: str   # "apply" | "ask" | "nothing"
    reason: str


def destructive_message(summary: PlanSummary) -> str | None:
    hits = summary.destructive_on(PROTECTED_TYPES)
    if not hits:
        return None
    parts = []
    for c in hits:
        why = f" because {', '.join(c.replace_paths)} changed" if c.replace_paths else ""
        parts.append(f"{c.address} would be {c.action}d{why}")
    return ("refusing a plan that loses a server, volume or DNS zone: " + "; ".join(parts)
            + " (rerun with --allow-replace if that is really intended)")


def check_safety(summary: PlanSummary, allow_replace: bool) -> None:
    message = destructive_message(summary)
    if message and not (allow_replace or summary.destroy):
        raise RefusedError(message)


def decide(summary: PlanSummary, *, target_kind: str, auto_approve: bool,
           interactive: bool, allow_replace: bool) -> Decision:
    if not summary.has_changes:
        return Decision("nothing", "no changes")
    check_safety(summary, allow_replace)
    if auto_approve:
        return Decision("apply", "--auto-approve")
    if interactive:
        return Decision("ask", "confirmation")
    if target_kind == "sandbox":
        return Decision("apply", "sandbox target, no destructive change")
    raise RefusedError("the plan changes real infrastructure and there is no terminal to "
                       "confirm it: rerun with --auto-approve after reviewing `hetzner-deploy plan`")

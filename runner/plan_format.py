"""Render a PlanSummary as plain text, pull-request markdown or a JSON-able dict.

Pure string building: the CLI decides where it goes. Values were already
masked by runner.plan; these functions never see a sensitive value.
"""
from __future__ import annotations

from decimal import Decimal

from runner.plan import PlanSummary

_SYMBOL = {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "read": "<="}
_LABEL = {"create": "create", "update": "update in place", "replace": "replace",
          "delete": "delete", "read": "read"}


def _eur(value: Decimal | None, signed: bool = False) -> str:
    if value is None:
        return "unknown"
    text = f"{value:+.2f}" if signed else f"{value:.2f}"
    return f"€{text}" if not signed else f"{text[0]}€{text[1:]}"


def counts_line(s: PlanSummary) -> str:
    c = s.counts
    return (f"{c.get('create', 0)} to create, {c.get('update', 0)} to update in place, "
            f"{c.get('replace', 0)} to replace, {c.get('delete', 0)} to delete")


def cost_line(s: PlanSummary) -> str | None:
    if s.cost is None:
        return None
    line = (f"monthly cost: {_eur(s.cost.before_eur)} -> {_eur(s.cost.after_eur)} "
            f"({_eur(s.cost.delta_eur, signed=True)}/month)")
    return f"{line}; {s.cost.note}" if s.cost.note else line


def to_text(s: PlanSummary) -> str:
    if not s.has_changes:
        lines = ["No changes: the infrastructure matches the stack."]
    else:
        lines = []
        for ch in s.changes:
            lines.append(f"{_SYMBOL[ch.action]} {ch.address}: {_LABEL[ch.action]}")
            for a in ch.attributes:
                mark = "  # forces replacement" if a.forces_replacement else ""
                if a.before is None:
                    lines.append(f"    {a.name} = {a.after}{mark}")
                else:
                    lines.append(f"    {a.name}: {a.before} -> {a.after}{mark}")
        if s.output_changes:
            lines.append(f"outputs changing: {', '.join(s.output_changes)}")
        lines.append(f"Plan: {counts_line(s)}.")
    cost = cost_line(s)
    if cost:
        lines.append(cost)
    lines += [f"warning: {w}" for w in s.warnings]
    return "\n".join(lines)


def _md_cell(text: str | None) -> str:
    return "" if text is None else "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def to_markdown(s: PlanSummary, title: str = "Terraform plan") -> str:
    lines = [f"### {title}", ""]
    if not s.has_changes:
        lines.append("**No changes.** The infrastructure matches the stack.")
    else:
        lines.append(f"**{counts_line(s)}**")
        lines += ["", "| action | resource | changes |", "|---|---|---|"]
        for ch in s.changes:
            attrs = "<br>".join(
                f"{a.name}: {_md_cell(a.before)} → {_md_cell(a.after)}"
                + (" (forces replacement)" if a.forces_replacement else "")
                if a.before is not None else f"{a.name} = {_md_cell(a.after)}"
                for a in ch.attributes if ch.action != "create")
            if ch.action == "create":
                attrs = f"{len(ch.attributes)} attributes"
            lines.append(f"| {_LABEL[ch.action]} | `{ch.address}` | {attrs} |")
    cost = cost_line(s)
    if cost:
        lines += ["", f"💶 {cost}"]
    if s.warnings:
        lines += ["", "> [!WARNING]"] + [f"> {w}" for w in s.warnings]
    return "\n".join(lines) + "\n"


def to_dict(s: PlanSummary) -> dict:
    return {
        "has_changes": s.has_changes,
        "destroy": s.destroy,
        "counts": dict(s.counts),
        "changes": [{
            "address": c.address, "type": c.type, "action": c.action,
            "replace_paths": list(c.replace_paths),
            "attributes": [{"name": a.name, "before": a.before, "after": a.after,
                            "forces_replacement": a.forces_replacement}
                           for a in c.attributes],
        } for c in s.changes],
        "output_changes": list(s.output_changes),
        "warnings": list(s.warnings),
        "cost": None if s.cost is None else {
            "before_eur": None if s.cost.before_eur is None else str(s.cost.before_eur),
            "after_eur": None if s.cost.after_eur is None else str(s.cost.after_eur),
            "delta_eur": None if s.cost.delta_eur is None else str(s.cost.delta_eur),
            "note": s.cost.note,
        },
    }

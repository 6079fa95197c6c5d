"""Drift: what the live target says that the committed stack's state does not.

Two sources, both read-only:
  1. `terraform plan -refresh-only -json -out=…` then `show -json` of that
     file: its `resource_drift` lists every resource whose live attributes
     differ from state (or that is gone). The plan file is never applied, so
     state (and its serial) stays as it was; the file is deleted afterwards.
  2. The API listing (checks.inventory): resources carrying our labels
     (managed-by=hetzner-deploy, project, environment) whose id is in no state
     resource -- orphans, e.g. a server cloned by hand or left by a lost state.

Each drifted resource is classified into the kinds a reviewer acts on
differently: labels edited, server rebuilt with another image, firewall rules
changed, deleted; anything else is reported by attribute name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from checks.inventory import Inventory, labelled_ours, state_ids

# Exit status of `drift` when it found something (cron/CI read it). Errors use
# other codes: the CLI maps its usage/config code 2 to 64 for this command.
DRIFT_EXIT = 2

# Attributes that change on the live side without anyone editing anything
# (server status, volume attachment bookkeeping): never reported as drift.
_NOISE = {"status", "rebuild_protection", "backup_window", "ipv4_address", "ipv6_address",
          "ipv6_network", "datacenter", "primary_disk_size"}
# Back-references another resource of the same stack sets (the attachment sets
# the volume's server, servers join the placement group after it is created):
# Hetzner reports them on the referenced resource, so every refresh sees them.
_BACKREFS = {"hcloud_placement_group": {"servers"}, "hcloud_volume": {"server_id"},
             "hcloud_firewall": {"apply_to"}, "hcloud_network": {"subnets"}}


@dataclass(frozen=True)
class Finding:
    address: str          # terraform address, or family/id for an orphan
    kind: str             # labels | image | firewall_rules | deleted | attributes | orphan
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"address": self.address, "kind": self.kind, "detail": self.detail}


@dataclass(frozen=True)
class DriftReport:
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def has_drift(self) -> bool:
        return bool(self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {"drift": self.has_drift, "findings": [f.as_dict() for f in self.findings]}


def _label_diff(before: Mapping[str, str], after: Mapping[str, str]) -> str:
    parts = []
    for key in sorted(set(before) | set(after)):
        if key not in after:
            parts.append(f"-{key}")
        elif key not in before:
            parts.append(f"+{key}={after[key]}")
        elif before[key] != after[key]:
            parts.append(f"{key}: {before[key]} -> {after[key]}")
    return ", ".join(parts)


def _rule(rule: Mapping[str, Any]) -> str:
    ips = ",".join(sorted(rule.get("source_ips") or rule.get("destination_ips") or []))
    port = rule.get("port") or "any"
    return f"{rule.get('direction', '?')} {rule.get('protocol', '?')}/{port} {ips}".strip()


def _rules_diff(before: Iterable[Mapping], after: Iterable[Mapping]) -> str:
    old = {_rule(r) for r in before or []}
    new = {_rule(r) for r in after or []}
    parts = [f"+ {r}" for r in sorted(new - old)] + [f"- {r}" for r in sorted(old - new)]
    return "; ".join(parts)


def classify(entry: Mapping[str, Any]) -> list[Finding]:
    """Findings for one `resource_drift` entry of `terraform show -json`."""
    address = str(entry.get("address", "?"))
    change = entry.get("change") or {}
    actions = change.get("actions") or []
    before = change.get("before") or {}
    after = change.get("after")
    if "delete" in actions or after is None:
        return [Finding(address, "deleted", "no longer exists at the provider")]
    found: list[Finding] = []
    if (before.get("labels") or {}) != (after.get("labels") or {}):
        found.append(Finding(address, "labels",
                             _label_diff(before.get("labels") or {}, after.get("labels") or {})))
    if entry.get("type") == "hcloud_server" and before.get("image") != after.get("image"):
        found.append(Finding(address, "image",
                             f"rebuilt: image {before.get('image')} -> {after.get('image')}"))
    if entry.get("type") == "hcloud_firewall" and before.get("rule") != after.get("rule"):
        found.append(Finding(address, "firewall_rules",
                             _rules_diff(before.get("rule"), after.get("rule"))))
    handled = {"labels", "image", "rule"} | _BACKREFS.get(str(entry.get("type")), set())
    others = sorted(k for k in set(before) | set(after)
                    if k not in handled and k not in _NOISE and before.get(k) != after.get(k))
    if others:
        found.append(Finding(address, "attributes", "changed: " + ", ".join(others)))
    return found


def from_plan(show_json: Mapping[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    for entry in show_json.get("resource_drift") or []:
        if entry.get("mode", "managed") == "managed":
            findings.extend(classify(entry))
    return findings


def orphans(inventory: Inventory, state: Mapping[str, Any], *, project: str,
            environment: str) -> list[Finding]:
    """Resources labelled ours whose id no state resource holds."""
    known = state_ids(state)
    found = []
    for family in inventory.families:
        for resource in family.resources:
            if labelled_ours(resource, project, environment) \
                    and resource.id not in known.get(family.family, set()):
                found.append(Finding(f"{family.family}/{resource.id}", "orphan",
                                     f"{resource.name!r} carries our labels but is not in state"))
    return found


def detect(tf, planfile: Path, inventory: Inventory | None, *, project: str,
           environment: str) -> DriftReport:
    """Refresh-only plan into `planfile` (removed afterwards), plus orphans.

    `tf` is a runner.terraform.Terraform already initialised in the stack's
    working directory; `inventory` is None when the API cannot be listed
    (then orphans are not looked for, and the caller says so).
    """
    planfile = Path(planfile)
    try:
        tf.plan(planfile, refresh_only=True)
        shown = tf.show(planfile)
    finally:
        target = planfile if planfile.is_absolute() else Path(tf.workdir) / planfile
        target.unlink(missing_ok=True)   # a drift plan is never applied
    findings = from_plan(shown)
    if inventory is not None:
        findings += orphans(inventory, shown.get("prior_state") or {}, project=project,
                            environment=environment)
    return DriftReport(tuple(findings))


def to_text(report: DriftReport) -> str:
    if not report.has_drift:
        return "no drift: the live target matches the state\n"
    lines = [f"drift: {len(report.findings)} finding(s)"]
    lines += [f"  {f.address}  {f.kind}  {f.detail}" for f in report.findings]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: DriftReport) -> str:
    if not report.has_drift:
        return "### Drift\n\nNone: the live target matches the state.\n"
    rows = [f"| `{_cell(f.address)}` | {f.kind} | {_cell(f.detail)} |" for f in report.findings]
    return ("### Drift\n\n| resource | kind | what differs |\n|---|---|---|\n"
            + "\n".join(rows) + "\n")

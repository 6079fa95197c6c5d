"""Summarise a plan into a frozen PlanSummary.

Two sources. `summarize` reads `terraform show -json <planfile>`: every
attribute, masked here, at the source, using the plan's own
before_sensitive/after_sensitive markers, so no renderer can leak them.
`summarize_events` reads only the `plan -json` stream (each resource's
action, drift, counts): no attributes, but no extra `show` either, which
costs a start of every provider. Callers that need only actions and counts
use the second; a terminal or markdown summary, or a refusal that must name
the attribute forcing a replacement, needs the first (`detailed`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable

from runner.redact import Redactor, sensitive_values

SENSITIVE = "(sensitive)"
UNKNOWN = "(known after apply)"
MAX_VALUE_CHARS = 80

# Resource types whose loss destroys customer data or the running service.
PROTECTED_TYPES = ("hcloud_server", "hcloud_volume", "hcloud_zone")   # a zone takes every record with it


@dataclass(frozen=True)
class AttrChange:
    name: str
    before: str | None
    after: str | None
    forces_replacement: bool = False


@dataclass(frozen=True)
class ResourceChange:
    address: str
    type: str
    action: str  # create | update | replace | delete | read
    attributes: tuple[AttrChange, ...] = ()
    replace_paths: tuple[str, ...] = ()
    action_reason: str = ""

    @property
    def destructive(self) -> bool:
        return self.action in ("replace", "delete")


@dataclass(frozen=True)
class CostDelta:
    before_eur: Decimal | None
    after_eur: Decimal | None
    note: str = ""

    @property
    def delta_eur(self) -> Decimal | None:
        if self.after_eur is None:
            return None
        return self.after_eur - (self.before_eur or Decimal("0"))


@dataclass(frozen=True)
class PlanSummary:
    changes: tuple[ResourceChange, ...]
    output_changes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    destroy: bool = False
    cost: CostDelta | None = None
    counts: dict = field(default_factory=dict, hash=False, compare=False)
    detailed: bool = True  # False: actions and counts only (from the plan -json stream)
    # (address, why) of every resource whose loss loses the data: the volume and the
    # server it is attached to (pipeline/review.py refuses to lose them; see data_holders).
    data_holders: tuple[tuple[str, str], ...] = ()

    @property
    def has_changes(self) -> bool:
        return bool(self.changes) or bool(self.output_changes)

    def destructive_on(self, types: Iterable[str] = PROTECTED_TYPES) -> list[ResourceChange]:
        types = tuple(types)
        return [c for c in self.changes if c.destructive and c.type in types]


def _action(actions: list[str]) -> str | None:
    if actions in (["delete", "create"], ["create", "delete"]):
        return "replace"
    if actions == ["create"]:
        return "create"
    if actions == ["update"]:
        return "update"
    if actions == ["delete"]:
        return "delete"
    if actions == ["read"]:
        return "read"
    return None  # no-op


def _has_true(marker: Any) -> bool:
    if marker is True:
        return True
    if isinstance(marker, dict):
        return any(_has_true(v) for v in marker.values())
    if isinstance(marker, list):
        return any(_has_true(v) for v in marker)
    return False


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 1] + "…"


def _mask(value: Any, sensitive: bool) -> str | None:
    if value is None:
        return None
    return SENSITIVE if sensitive else _show(value)


def _path_str(path: list) -> str:
    return ".".join(str(p) for p in path)


def _attribute_changes(change: dict, action: str, replace_roots: set[str],
                       redact: Redactor) -> list[AttrChange]:
    before = change.get("before") or {}
    after = change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    bs = change.get("before_sensitive") or {}
    as_ = change.get("after_sensitive") or {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return []
    out: list[AttrChange] = []
    for key in sorted(set(before) | set(after) | set(unknown if isinstance(unknown, dict) else {})):
        sensitive = (_has_true(bs.get(key)) or _has_true(as_.get(key))
                     or redact.contains_secret(_show(before.get(key)) + _show(after.get(key))))
        is_unknown = isinstance(unknown, dict) and _has_true(unknown.get(key))
        b, a = before.get(key), after.get(key)
        if action == "delete":
            continue
        if action == "create" and a is None and not is_unknown:
            continue
        if action in ("update", "replace") and b == a and not is_unknown:
            continue
        out.append(AttrChange(key, None if action == "create" else _mask(b, sensitive),
                              # partly unknown values (a list of ids yet to exist) too
                              UNKNOWN if is_unknown else _mask(a, sensitive),
                              key in replace_roots))
    return out


def summarize(show_json: dict, *, destroy: bool = False, warnings: Iterable[str] = (),
              secrets: Iterable[str] = ()) -> PlanSummary:
    """`secrets` are extra values to mask (the API token) on top of the plan's own."""
    redact = Redactor(secrets)
    redact.add(sensitive_values(show_json))
    changes: list[ResourceChange] = []
    for rc in show_json.get("resource_changes") or []:
        if rc.get("mode") == "data":
            continue
        change = rc.get("change") or {}
        action = _action(list(change.get("actions") or []))
        if action is None:
            continue
        paths = tuple(_path_str(p) for p in change.get("replace_paths") or [])
        roots = {p.split(".")[0] for p in paths}
        changes.append(ResourceChange(
            address=rc["address"], type=rc.get("type", ""), action=action,
            attributes=tuple(_attribute_changes(change, action, roots, redact)),
            replace_paths=paths, action_reason=rc.get("action_reason", "") or "",
        ))
    outputs = tuple(sorted(name for name, ch in (show_json.get("output_changes") or {}).items()
                           if _action(list(ch.get("actions") or [])) is not None))
    drift = []
    for d in show_json.get("resource_drift") or []:
        what = _action(list((d.get("change") or {}).get("actions") or [])) or "changed"
        drift.append((str(d.get("address")), what))
    return _assemble(changes, outputs, warnings, drift, destroy=destroy, detailed=True,
                     holders=data_holders(show_json))


def _base(address: str) -> str:
    """`hcloud_server.app["app-1"]` -> `hcloud_server.app` (references name the resource)."""
    return address.split("[", 1)[0]


def _sides(rc: dict) -> tuple[dict, ...]:
    change = rc.get("change") or {}
    return tuple(v for v in (change.get("before"), change.get("after")) if isinstance(v, dict))


def data_holders(show_json: dict) -> tuple[tuple[str, str], ...]:
    """Which resources of a plan hold the data, and why: (address, reason).

    Every hcloud_volume; and every server the volume is attached to, found three
    ways so that no single one has to be right: the attachment's (or the
    volume's) `server_id` before the change, matched by the servers' ids (what
    runs today); the attachment's `server_id` reference in the configuration
    (what the stack attaches, even to a server this plan creates); and a
    `role = "db"` label (the 3-tier database server). The all-in-one server of
    ccx33/ccx43 carries no role label: the attachment names it.
    """
    changes = [rc for rc in show_json.get("resource_changes") or [] if rc.get("mode") != "data"]
    found: dict[str, str] = {}
    by_id: dict[str, str] = {}
    for rc in changes:
        address, kind = str(rc.get("address")), rc.get("type")
        if kind == "hcloud_volume":
            found[address] = "it is the data volume"
        if kind == "hcloud_server":
            for side in _sides(rc):
                if side.get("id") is not None:
                    by_id[str(side["id"])] = address
                if (side.get("labels") or {}).get("role") == "db":
                    found.setdefault(address, "it is the database server, the volume is attached to it")
    for rc in changes:
        if rc.get("type") in ("hcloud_volume_attachment", "hcloud_volume"):
            before = (rc.get("change") or {}).get("before")
            server = by_id.get(str((before or {}).get("server_id")))
            if server:
                found.setdefault(server, "the data volume is attached to it")
    configured = (show_json.get("configuration") or {}).get("root_module") or {}
    for res in configured.get("resources") or []:
        if res.get("type") != "hcloud_volume_attachment":
            continue
        refs = ((res.get("expressions") or {}).get("server_id") or {}).get("references") or []
        for ref in refs:
            parts = str(ref).split(".")
            if parts[0] != "hcloud_server" or len(parts) < 2:
                continue
            named = _base(".".join(parts[:2]))
            for rc in changes:
                if rc.get("type") == "hcloud_server" and _base(str(rc.get("address"))) == named:
                    found.setdefault(str(rc["address"]), "the data volume is attached to it")
    return tuple(sorted(found.items()))


def _assemble(changes: list[ResourceChange], outputs: tuple[str, ...], warnings: Iterable[str],
              drift: list[tuple[str, str]], *, destroy: bool, detailed: bool,
              holders: tuple[tuple[str, str], ...] = ()) -> PlanSummary:
    counts = {"create": 0, "update": 0, "replace": 0, "delete": 0}
    for c in changes:
        if c.action in counts:
            counts[c.action] += 1
    all_warnings = list(warnings)
    for address, what in drift:
        what = "deleted" if what == "delete" else "changed"
        all_warnings.append(f"{address} was {what} outside Terraform")
    for c in changes:
        if c.destructive and c.type in PROTECTED_TYPES:
            why = f" (forced by {', '.join(c.replace_paths)})" if c.replace_paths else ""
            all_warnings.append(f"{c.address} will be {c.action}d{why}")
    return PlanSummary(changes=tuple(changes), output_changes=outputs,
                       warnings=tuple(all_warnings), destroy=destroy, counts=counts,
                       detailed=detailed, data_holders=holders)


# plan -json `planned_change` actions -> ours ("noop", "move", "remove", "import" are not changes)
_STREAM_ACTIONS = {"create": "create", "update": "update", "replace": "replace",
                   "delete": "delete", "read": "read"}


def _type_of(address: str) -> str:
    """`module.x.hcloud_server.main["a"]` -> `hcloud_server`."""
    parts = address.split("[", 1)[0].split(".")
    while parts[:1] == ["module"] and len(parts) > 2:
        parts = parts[2:]
    if parts[:1] == ["data"]:
        parts = parts[1:]
    return parts[0] if len(parts) >= 2 else ""


def summarize_events(events: Iterable, *, destroy: bool = False,
                     warnings: Iterable[str] = ()) -> PlanSummary:
    """A PlanSummary from `plan -json` events alone (runner.events.Event): no attributes.

    Replace and delete are known here, so the safety rule can refuse from it;
    only naming the attribute that forces a replacement needs `summarize`.
    """
    changes: list[ResourceChange] = []
    drift: list[tuple[str, str]] = []
    for e in events:
        if e.type == "planned_change" and e.address and not e.address.startswith("data."):
            action = _STREAM_ACTIONS.get(e.action)
            if action is not None and action != "read":
                changes.append(ResourceChange(
                    address=e.address, type=e.resource_type or _type_of(e.address),
                    action=action, action_reason=e.reason))
        elif e.type == "resource_drift" and e.address:
            drift.append((e.address, e.action))
    # The stream's order follows terraform's walk; show's is by address.
    changes.sort(key=lambda c: c.address)
    # Output-only changes are not in the stream: callers fall back to `summarize`.
    return _assemble(changes, (), warnings, drift, destroy=destroy, detailed=False)

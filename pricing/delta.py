"""Monthly cost before and after a plan, from the profiles the server carries.

The server's `profile` label says which profile built what is running (the
plan's `before`) and which one the stack now asks for (`after`); pricing
prices both. Failing that, the delta is reported as unknown, never guessed.

The same rules as `cost` decide which price row applies to each server: the
plan's `before` says which servers run today and with which type, so a server
kept as it is keeps its price, and a new or rescaled one pays the current
new-order price (pricing/estimate.py).
"""
from __future__ import annotations

from decimal import Decimal

from errors import DeployError
from runner.plan import CostDelta


def _profile_of(values: object) -> str | None:
    if not isinstance(values, dict):
        return None
    labels = values.get("labels")
    if isinstance(labels, dict) and labels.get("profile"):
        return str(labels["profile"])
    return None


def running_servers(show_json: dict, side: str = "before") -> dict[str, str]:
    """Server name -> server type of every server the plan's `before` has. With
    side="after", each is named as the plan's `after` names it: a server renamed in
    place (the one server becoming the 3-tier db server) is still the running one."""
    running = {}
    for rc in show_json.get("resource_changes") or []:
        if rc.get("type") != "hcloud_server" or rc.get("mode") == "data":
            continue
        change = rc.get("change") or {}
        before, after = change.get("before"), change.get("after")
        if isinstance(before, dict) and before.get("name") and before.get("server_type"):
            name = before["name"]
            if side == "after" and isinstance(after, dict) and after.get("name"):
                name = after["name"]
            running[str(name)] = str(before["server_type"])
    return running


def _app_servers(show_json: dict, side: str) -> int | None:
    """How many app servers one side of the plan has (None: no app role there)."""
    count = 0
    for rc in show_json.get("resource_changes") or []:
        values = (rc.get("change") or {}).get(side)
        if rc.get("type") == "hcloud_server" and isinstance(values, dict) \
                and (values.get("labels") or {}).get("role") == "app":
            count += 1
    return count or None


def server_profiles(show_json: dict) -> tuple[str | None, str | None, bool]:
    """(profile before, profile after, whether any server exists before)."""
    before = after = None
    existed = False
    for rc in show_json.get("resource_changes") or []:
        if rc.get("type") != "hcloud_server" or rc.get("mode") == "data":
            continue
        change = rc.get("change") or {}
        if change.get("before") is not None:
            existed = True
        before = before or _profile_of(change.get("before"))
        after = after or _profile_of(change.get("after"))
    return before, after, existed


def cost_delta(show_json: dict, config, *, destroy: bool = False) -> CostDelta | None:
    before, after, existed = server_profiles(show_json)
    if before is None and after is None:
        return None
    try:
        from pricing.estimate import estimate
        from pricing.table import load_price_table
        # [pricing] table when set (the same table `cost` and `switch` read), else the shipped one.
        table = load_price_table(getattr(config, "pricing_table", None))
        running, renamed = running_servers(show_json), running_servers(show_json, "after")
        # Before: what runs today, each server at the price it keeps. After: the
        # same names with the same type keep it; new and rescaled ones pay today's.
        # Each side is priced with the app servers it really has, not [tier]'s figure.
        before_est = (estimate(before, config, table, existing=running,
                               app_servers=_app_servers(show_json, "before")).total_monthly_eur
                      if before else None)
        after_est = (estimate(after, config, table, existing=renamed,
                              app_servers=_app_servers(show_json, "after")).total_monthly_eur
                     if after and not destroy else None)
    except (DeployError, ImportError) as exc:
        return CostDelta(None, None, note=f"cost unknown: {exc}")
    before_eur = before_est if existed else Decimal(0)
    after_eur = Decimal(0) if destroy else after_est
    note = f"{before} -> {after}" if before and after and before != after else ""
    if destroy:
        note = f"{before} removed" if before else ""
    return CostDelta(before_eur, after_eur, note)

"""`hetzner-deploy recommend`: which profile fits a monthly call volume.

The volume defaults to deploy.toml's traffic.calls_per_month and the tiers
to its [sizing] thresholds. The output prices every profile at current prices
(every server as a new order, which is what a deploy or a tier switch pays:
pricing/estimate.py) against the current host, and says plainly when a
profile now costs more than the current host.
"""
from __future__ import annotations

from pathlib import Path

import click

from commands.common import config_option, echo_json, json_option, load
import dataclasses
import datetime as dt
import os

from commands.cost import CHART_OPTION, PRICES_OPTION, _live_table, draw_chart, load_prices, parse_day
from errors import ConfigError
from generator.profiles import PROFILE_NAMES
from pricing.estimate import Estimate, cents, estimate
from generator.sizing import Recommendation, recommend as recommend_profile


def parse_calls(text: str) -> int:
    try:
        calls = int(text)
    except ValueError:
        raise ConfigError(
            f"--calls-per-month: expected a whole number of calls (got {text!r})") from None
    if calls < 0:
        raise ConfigError(f"--calls-per-month: must not be negative (got {calls})")
    return calls


def _profile_json(name: str, est: Estimate | None, error: str | None) -> dict:
    if est is None:
        return {"profile": name, "monthly_cost_eur": None, "cost_error": error}
    return {"profile": name, "monthly_cost_eur": str(cents(est.total_monthly_eur)),
            "current_host_monthly_eur": str(cents(est.current_host_monthly_eur)),
            "difference_eur": str(cents(est.difference_eur)),
            "costs_more_than_current_host": est.difference_eur < 0, "cost_error": None}


def _as_json(rec: Recommendation, est: Estimate | None, cost_error: str | None,
             pinned: str | None, every: dict[str, tuple[Estimate | None, str | None]]) -> dict:
    h = rec.headroom
    return {
        "profile": rec.profile,
        "pinned_profile": pinned,
        "calls_per_month": rec.calls_per_month,
        "thresholds": {"ccx33_max_calls": rec.thresholds.ccx33_max_calls,
                       "ccx43_max_calls": rec.thresholds.ccx43_max_calls},
        "reason": rec.reason,
        "headroom": None if h is None else {
            "next_profile": h.next_profile, "limit": h.limit, "calls": h.calls,
            "percent": str(h.percent), "switch_soon": h.switch_soon},
        "monthly_cost_eur": None if est is None else str(cents(est.total_monthly_eur)),
        "price_table_date": None if est is None else est.table_date.isoformat(),
        "cost_error": cost_error,
        "new_server_table_date": (None if est is None or est.new_server_row_date is None
                                  else est.new_server_row_date.isoformat()),
        "current_host": None if est is None else est.current_host,
        "profiles": [_profile_json(name, *every[name]) for name in every],
    }


def _comparison(every: dict[str, tuple[Estimate | None, str | None]]) -> list[str]:
    priced = [e for e, _ in every.values() if e is not None]
    if not priced:
        return []
    first = priced[0]
    lines = [f"Monthly cost of each profile at current prices, every server a new order "
             f"(prices dated {first.table_date.isoformat()}"
             + (f"; new servers and rescales: {first.new_server_row_date.isoformat()}"
                if first.new_server_row_date else "")
             + f"), against {first.current_host} at {cents(first.current_host_monthly_eur)}:"]
    width = max(len(name) for name in every)
    for name, (est, error) in every.items():
        if est is None:
            lines.append(f"  {name:<{width}}  unknown: {error}")
            continue
        diff = cents(est.difference_eur)
        verdict = f"saves {diff}" if diff >= 0 else f"{-diff} more"
        lines.append(f"  {name:<{width}}  {cents(est.total_monthly_eur):>8}  ({verdict})")
    for name, (est, _) in every.items():
        if est is not None and est.difference_eur < 0:
            lines.append(f"{name} now costs more than {est.current_host}: "
                         f"{cents(est.total_monthly_eur)} against "
                         f"{cents(est.current_host_monthly_eur)} a month, "
                         f"{cents(-est.difference_eur)} more.")
    return lines


def _app_servers(rec: Recommendation, tier) -> dict | None:
    """3-tier has no next tier: its headroom is to the next app server."""
    if rec.profile != "3-tier":
        return None
    count = tier.app_count(rec.calls_per_month)
    pinned = tier.app_servers is not None
    capacity = count * tier.calls_per_app_server
    return {"count": count, "pinned": pinned, "calls_per_app_server": tier.calls_per_app_server,
            "headroom_calls": max(capacity - rec.calls_per_month, 0)}


def _app_line(app: dict | None) -> list[str]:
    if app is None:
        return []
    how = ("pinned by [tier] app_servers" if app["pinned"]
           else f"{app['calls_per_app_server']:,} calls a month each")
    return [f"App servers: {app['count']} ({how}); headroom: {app['headroom_calls']:,} more "
            f"calls a month before another app server is needed"]


def _lines(rec: Recommendation, est: Estimate | None, cost_error: str | None,
           pinned: str | None, every: dict[str, tuple[Estimate | None, str | None]],
           app: dict | None = None) -> list[str]:
    lines = [f"Recommended profile: {rec.profile}", f"Why: {rec.reason}", *_app_line(app)]
    if pinned and pinned != rec.profile:
        lines.append(f"Note: deploy.toml pins profile {pinned}; this volume fits {rec.profile}.")
    h = rec.headroom
    if h is not None:
        lines.append(f"Headroom: {h.calls:,} more calls a month ({h.percent}% of {h.limit:,}) "
                     f"before {h.next_profile}")
        if h.switch_soon:
            lines.append(f"Warning: less than 20% headroom left: plan the switch to {h.next_profile}.")
    if est is not None:
        lines.append(f"Estimated cost: {cents(est.total_monthly_eur)} {est.currency} a month "
                     f"(prices dated {est.table_date.isoformat()}; "
                     f"`hetzner-deploy cost --profile {rec.profile}` shows the line items)")
    else:
        lines.append(f"Estimated cost: unknown: {cost_error}")
    return lines + _comparison(every)


@click.command("recommend")
@click.option("--calls-per-month", "calls_text", default=None, metavar="N",
              help="Calls per month (default: deploy.toml's traffic.calls_per_month).")
@json_option
@click.option("--on", "on_text", default=None, metavar="YYYY-MM-DD",
              help="Use the prices in force on this day (default: today).")
@PRICES_OPTION
@CHART_OPTION
@config_option
def recommend(calls_text: str | None, as_json: bool, on_text: str | None,
              prices_path: Path | None, chart_path: Path | None,
              config_path: Path | None) -> None:
    """Pick ccx33, ccx43 or 3-tier from the monthly call volume."""
    calls = parse_calls(calls_text) if calls_text is not None else None
    on = parse_day(on_text) or dt.date.today()
    config = load(config_path)
    rec = recommend_profile(config.calls_per_month if calls is None else calls, config.thresholds)
    table, live_note = None, ""
    token = os.environ.get("HCLOUD_TOKEN", "").strip()
    if token and prices_path is None and on_text is None:   # live prices preferred, as in cost
        table, live_note = _live_table(config, token)
    if table is None:
        table = load_prices(prices_path, config)   # a broken table file is an error, not a shrug
    # 3-tier's app server count follows the volume asked about, not deploy.toml's.
    config = dataclasses.replace(config, calls_per_month=rec.calls_per_month)
    every: dict[str, tuple[Estimate | None, str | None]] = {}
    for name in PROFILE_NAMES:
        try:
            every[name] = (estimate(name, config, table, on), None)
        except ConfigError as exc:
            # The table may simply not price this profile (3-tier before April 2026).
            every[name] = (None, str(exc))
    est, cost_error = every[rec.profile]
    app = _app_servers(rec, config.tier)
    draw_chart(chart_path, config, table, rec.calls_per_month)
    if as_json:
        echo_json({**_as_json(rec, est, cost_error, config.profile, every), "app_servers": app,
                   "price_source": None if est is None else est.source, "live_note": live_note or None})
    else:
        notes = [f"Note: {live_note}"] if live_note else []
        click.echo("\n".join(_lines(rec, est, cost_error, config.profile, every, app) + notes))

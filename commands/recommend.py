"""`hetzner-deploy recommend`: which profile fits a monthly call volume.

The volume defaults to deploy.toml's traffic.calls_per_month and the tiers
to its [sizing] thresholds; the output includes the profile's monthly cost
from the dated price table when the table prices every part of it.
"""
from __future__ import annotations

from pathlib import Path

import click

from commands.common import config_option, echo_json, json_option, load
from commands.cost import CHART_OPTION, PRICES_OPTION, draw_chart, load_prices
from errors import ConfigError
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


def _as_json(rec: Recommendation, est: Estimate | None, cost_error: str | None,
             pinned: str | None) -> dict:
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
    }


def _lines(rec: Recommendation, est: Estimate | None, cost_error: str | None,
           pinned: str | None) -> list[str]:
    lines = [f"Recommended profile: {rec.profile}", f"Why: {rec.reason}"]
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
    return lines


@click.command("recommend")
@click.option("--calls-per-month", "calls_text", default=None, metavar="N",
              help="Calls per month (default: deploy.toml's traffic.calls_per_month).")
@json_option
@PRICES_OPTION
@CHART_OPTION
@config_option
def recommend(calls_text: str | None, as_json: bool, prices_path: Path | None,
              chart_path: Path | None, config_path: Path | None) -> None:
    """Pick ccx33, ccx43 or 3-tier from the monthly call volume."""
    calls = parse_calls(calls_text) if calls_text is not None else None
    config = load(config_path)
    rec = recommend_profile(config.calls_per_month if calls is None else calls, config.thresholds)
    table = load_prices(prices_path, config)   # a broken table file is an error, not a shrug
    est, cost_error = None, None
    try:
        est = estimate(rec.profile, config, table)
    except ConfigError as exc:
        # The table may simply not price this profile (3-tier in the shipped table).
        cost_error = str(exc)
    draw_chart(chart_path, config, table, rec.calls_per_month)
    if as_json:
        echo_json(_as_json(rec, est, cost_error, config.profile))
    else:
        click.echo("\n".join(_lines(rec, est, cost_error, config.profile)))

"""`hetzner-deploy cost`: what a profile costs a month, line by line.

Prices come from the API's GET /pricing when HCLOUD_TOKEN is set (live
prices are preferred: they are today's new-order prices), else from the dated
table shipped in pricing/prices.toml, or `--prices FILE`. `--prices`, `--on`
and `--running` ask for the table (the API knows neither past days nor the
price a running server keeps). The output always says where the figures are from.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path

import click

from commands.common import (config_option, echo_json, env_option, json_option, load,
                             stacks_dir_option)
from errors import ConfigError
from generator.config import DeployConfig
from pricing.table import PriceTable, load_price_table
from pricing.estimate import Estimate, plain, cents, estimate
from generator.profiles import get_profile
from generator.profile_choice import resolve_profile

CHART_OPTION = click.option(
    "--chart", "chart_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    metavar="FILE.svg", help="Also draw monthly cost against calls per month (FILE.svg and FILE.png).")


def draw_chart(path: Path | None, config, table, calls: int | None = None) -> None:
    if path is None:
        return
    from ops.chart import chart_data, write   # matplotlib only when a chart is asked for
    svg, png = write(chart_data(config, table, calls), path)
    click.echo(f"chart: {svg} and {png}", err=True)


PRICES_OPTION = click.option(
    "--prices", "prices_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Price table file to use instead of the one shipped with the tool.")


def load_prices(path: Path | None, config: DeployConfig) -> PriceTable:
    # A [pricing] table key in deploy.toml, once the config loader has one, is the fallback.
    return load_price_table(path or config.pricing_table)


def _live_table(config: DeployConfig, token: str) -> tuple[PriceTable | None, str]:
    """A one-row table from GET /pricing, or None and why the table is used instead."""
    from checks import hetzner_api
    from errors import ApiError
    from pipeline.target import HETZNER_ENDPOINT
    from pricing.live import LIVE_TABLE, fetch_pricing, live_row
    endpoint = os.environ.get("HCLOUD_ENDPOINT", "").strip() or HETZNER_ENDPOINT
    try:
        client = hetzner_api.open_client(endpoint, token)
        with hetzner_api.api_errors(endpoint, hetzner_api.timeout_of(client), what="live prices"):
            pricing = fetch_pricing(client)
        row = live_row(pricing, config.location, dt.date.today())
    except ApiError as exc:
        return None, f"Live prices not used ({exc.message}): the dated table answers."
    except (ValueError, KeyError, TypeError) as exc:
        return None, f"Live prices not used (unusable answer: {exc}): the dated table answers."
    return PriceTable(LIVE_TABLE, (row,)), ""


def parse_day(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--on: expected a date like 2025-11-18 (got {text!r})") from None


def estimate_lines(e: Estimate) -> list[str]:
    newer = (f" (new servers and rescales: {e.new_server_row_date.isoformat()})"
             if e.new_server_row_date else "")
    lines = [f"Profile {e.profile}: monthly estimate in {e.currency}, "
             f"prices dated {e.table_date.isoformat()}{newer}"]
    width = max(len(i.name) for i in e.items)
    for i in e.items:
        lines.append(f"  {i.name:<{width}}  {i.quantity:>3} x {plain(i.unit_eur):>7}"
                     f"  {cents(i.monthly_eur):>9}")
    lines.append(f"  {'total':<{width}}  {'':>13}  {cents(e.total_monthly_eur):>9}")
    diff = cents(e.difference_eur)
    current = f"{e.current_host} today: {cents(e.current_host_monthly_eur)} a month."
    if diff >= 0:
        pct = e.difference_percent
        share = f", {cents(pct)}%" if pct is not None else ""
        lines.append(f"{current} {e.profile} saves {diff} a month "
                     f"({cents(e.annual_difference_eur)} a year{share}).")
    else:
        lines.append(f"{current} {e.profile} costs {-diff} a month more.")
    lines.append(f"Source: {e.source}")
    lines.extend(f"Note: {n}" for n in e.notes)
    return lines


@click.command("cost")
@click.option("--profile", "profile_name", default=None,
              help="ccx33, ccx43 or 3-tier (default: deploy.toml's profile, else the recommended one).")
@json_option
@click.option("--on", "on_text", default=None, metavar="YYYY-MM-DD",
              help="Use the price row in force on this day (default: today).")
@click.option("--running", is_flag=True, default=False,
              help="Price the profile's servers as already running with these types (they keep "
                   "their price); default: as new orders, what a deploy or switch pays.")
@PRICES_OPTION
@CHART_OPTION
@config_option
@env_option
@stacks_dir_option
def cost(profile_name: str | None, as_json: bool, on_text: str | None, running: bool,
         prices_path: Path | None, chart_path: Path | None, config_path: Path | None, env: str | None,
         stacks_dir: Path) -> None:
    """Monthly cost of a profile, compared with the current host."""
    on = parse_day(on_text)
    if profile_name is not None:
        get_profile(profile_name)  # an unknown name fails before any file is read
    config = load(config_path, env, quiet=as_json)
    choice = resolve_profile(config, profile_name, stacks_dir=stacks_dir, env=env)
    existing = None
    if running:
        from generator.config_tier import sized
        from generator.naming import server_types_by_name
        profile = sized(choice.profile, config.tier, config.calls_per_month)
        existing = server_types_by_name(config, profile)
    live_note = ""
    table = None
    token = os.environ.get("HCLOUD_TOKEN", "").strip()
    if token and prices_path is None and on is None and not running:
        table, live_note = _live_table(config, token)
    if table is None:
        table = load_prices(prices_path, config)
    result = estimate(choice.profile, config, table, on, existing)
    if live_note:
        result = dataclasses.replace(result, notes=(live_note, *result.notes))
    draw_chart(chart_path, config, table)
    if as_json:
        echo_json({**result.as_json(), "profile_source": choice.source,
                   "profile_reason": choice.reason})
    else:
        click.echo("\n".join([choice.line(), *estimate_lines(result)]))

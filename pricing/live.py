"""Cost with live prices when the API answers, the dated offline table otherwise.

Live figures come from GET /pricing (one call: server types, load balancer
types, volumes, backups, primary IPs, per location). They are turned into a
one-row PriceTable so pricing.estimate computes the estimate exactly as it
does offline; only the row's source and date differ. Net prices (excl. VAT)
are used, as Hetzner's price list shows them.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Mapping

from hcloud import Client

from errors import DeployError
from generator.config import DeployConfig
from pricing.table import PriceRow, PriceTable
from pricing.estimate import Estimate, estimate
from generator.profiles import Profile

LIVE_TABLE = Path("api-pricing")


@dataclass(frozen=True)
class CostReport:
    estimate: Estimate | None
    live: bool
    label: str                 # "live prices from the API (2026-11-25, excl. VAT)" / "offline table dated …"
    problem: str = ""          # why live prices were not used, or why no estimate at all


def _net(money: Any) -> Decimal | None:
    if not isinstance(money, Mapping):
        return None
    try:
        return Decimal(str(money.get("net")))
    except (InvalidOperation, TypeError):
        return None


def _per_location(entries: Any, location: str) -> dict[str, Decimal]:
    out = {}
    for entry in entries or ():
        for price in entry.get("prices") or ():
            if price.get("location") == location:
                amount = _net(price.get("price_monthly"))
                if amount is not None:
                    out[entry["name"]] = amount
    return out


def live_row(pricing: Mapping[str, Any], location: str, today: dt.date) -> PriceRow:
    """A PriceRow from a /pricing answer; ValueError when it lacks what an estimate needs."""
    if pricing.get("currency") != "EUR":
        raise ValueError(f"API prices are in {pricing.get('currency')!r}, not EUR")
    volume = _net((pricing.get("volume") or {}).get("price_per_gb_month"))
    try:
        backup = Decimal(str((pricing.get("server_backup") or {}).get("percentage")))
    except InvalidOperation:
        backup = None
    if volume is None or backup is None:
        raise ValueError("API pricing lacks volume or backup prices")
    ipv4 = None
    for entry in pricing.get("primary_ips") or ():
        if entry.get("type") == "ipv4":
            ipv4 = _per_location([{"name": "ipv4", "prices": entry.get("prices")}],
                                 location).get("ipv4")
    return PriceRow(
        date=today, currency="EUR", source="Hetzner Cloud API /pricing (live, excl. VAT)",
        volume_per_gb_month=volume, backup_percent=backup,
        server_types=_per_location(pricing.get("server_types"), location),
        load_balancer_types=_per_location(pricing.get("load_balancer_types"), location),
        primary_ipv4_month=ipv4, location=location,
        notes=(f"Live prices read from the API on {today.isoformat()}, excl. VAT "
               f"({pricing.get('vat_rate', '?')}% VAT not included).",))


def fetch_pricing(client: Client) -> Mapping[str, Any]:
    return client.request("GET", "/pricing")["pricing"]


def cost_report(profile: Profile, config: DeployConfig,
                pricing: Mapping[str, Any] | None, live_error: str = "",
                today: dt.date | None = None) -> CostReport:
    """Live estimate from `pricing` when given and usable, else the offline table."""
    today = today or dt.date.today()
    problem = live_error
    if pricing is not None:
        try:
            # The API lists today's prices, which is what a new or rescaled server pays;
            # a one-row table prices every server that way (it cannot know kept prices).
            row = live_row(pricing, config.location, today)
            est = estimate(profile, config, prices=PriceTable(LIVE_TABLE, (row,)), on=today)
            return CostReport(est, True, f"live prices from the API ({today.isoformat()}, excl. VAT)")
        except (ValueError, KeyError, TypeError, DeployError) as exc:
            problem = f"live prices unusable: {exc}"
    try:
        est = estimate(profile, config, on=today)
    except DeployError as exc:
        return CostReport(None, False, "no estimate", "; ".join(p for p in (problem, str(exc)) if p))
    newer = (f"; new servers and rescales: {est.new_server_row_date.isoformat()}"
             if est.new_server_row_date else "")
    return CostReport(est, False, f"offline table dated {est.table_date.isoformat()}{newer}",
                      problem)

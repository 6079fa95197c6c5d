"""Monthly cost of a profile from the dated price table, against the current host.

Pure: reads a table file, never the network. Amounts stay exact Decimals;
only `cents()` rounds (half-up), for display and JSON.

Backups cost `backup_percent` of a server's price, per server that has them.
In the 3-tier profile only the database server gets backups: the app servers
hold no data and are rebuilt from the image and cloud-init, so backing them
up would pay for copies of nothing. Every server is counted with a primary
IPv4 (Hetzner's default) when the row charges for it.

Which row prices a server (Hetzner's June 2026 change): a server that is
running and keeps its type pays the newest "all" row (it keeps its price); a
new server, or one rescaled to another type, pays the newest row of either
kind, which since 2026-06-15 is the dearer "new-and-rescaled" row. Callers say
what is running with `existing` (server name -> type, from state or a plan);
without it every server counts as new, which is what a first deploy pays.
When both rules give the same price the line item does not say which applied.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from errors import ConfigError
from generator.config import DeployConfig
from collections.abc import Mapping

from generator.config_tier import TierConfig, sized
from generator.naming import base_name
from pricing.table import PriceRow, PriceTable, load_price_table
from generator.profiles import Profile, Role, get_profile

# An offline row older than this gets a warning with every estimate.
STALE_AFTER_DAYS = 180
_CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


def plain(amount: Decimal) -> str:
    """An exact figure, never rounded: at least cents (37.00, 7.40), more only if needed (0.058)."""
    if amount == amount.quantize(_CENT):
        return str(amount.quantize(_CENT))
    return format(amount.normalize(), "f")


def _percent(share: Decimal) -> str:
    return format(share.normalize(), "f")   # 20, 12.5


@dataclass(frozen=True)
class LineItem:
    name: str
    quantity: int
    unit_eur: Decimal
    monthly_eur: Decimal
    basis: str = ""                  # servers: "running" | "new" | "rescaled"
    row_date: dt.date | None = None  # the price row this item's unit price comes from


@dataclass(frozen=True)
class Estimate:
    profile: str
    items: tuple[LineItem, ...]
    total_monthly_eur: Decimal
    current_host: str
    current_host_monthly_eur: Decimal
    difference_eur: Decimal          # current host minus this profile: > 0 is a saving
    table_date: dt.date
    source: str
    currency: str = "EUR"
    notes: tuple[str, ...] = ()
    new_server_row_date: dt.date | None = None   # the row new/rescaled servers pay, if dearer

    @property
    def annual_difference_eur(self) -> Decimal:
        return self.difference_eur * 12

    @property
    def difference_percent(self) -> Decimal | None:
        if self.current_host_monthly_eur == 0:
            return None
        return self.difference_eur / self.current_host_monthly_eur * 100

    def as_json(self) -> dict[str, Any]:
        """Money as strings: unit prices exact, monthly amounts in cents."""
        pct = self.difference_percent
        return {
            "profile": self.profile,
            "currency": self.currency,
            "table_date": self.table_date.isoformat(),
            "new_server_table_date": (self.new_server_row_date.isoformat()
                                      if self.new_server_row_date else None),
            "source": self.source,
            "items": [
                {"name": i.name, "quantity": i.quantity, "unit_eur": plain(i.unit_eur),
                 "monthly_eur": str(cents(i.monthly_eur)), "basis": i.basis or None,
                 "price_row": i.row_date.isoformat() if i.row_date else None}
                for i in self.items
            ],
            "total_monthly_eur": str(cents(self.total_monthly_eur)),
            "current_host": self.current_host,
            "current_host_monthly_eur": str(cents(self.current_host_monthly_eur)),
            "difference_eur": str(cents(self.difference_eur)),
            "annual_difference_eur": str(cents(self.annual_difference_eur)),
            "difference_percent": None if pct is None else str(cents(pct)),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class _Priced:
    """One server's price: which rule, which row."""
    basis: str
    unit: Decimal
    row: PriceRow
    shown: bool        # the basis changes the price, so the line item names it


def _server_price(table: PriceTable, on: dt.date, server_type: str,
                  running_type: str | None) -> _Priced | None:
    kept = table.existing_server_row_on(on, server_type)
    new = table.new_server_row_on(on, server_type)
    if running_type == server_type and kept is not None:
        row, basis = kept, "running"
    elif new is None:
        return None
    elif running_type == server_type:
        # Running, but no "all" row prices its type: the only price known is today's.
        row, basis = new, "running"
    else:
        row, basis = new, ("new" if running_type is None else "rescaled")
    differs = (kept is None or new is None
               or kept.server_types[server_type] != new.server_types[server_type])
    return _Priced(basis, row.server_types[server_type], row, differs)


def _server_prices(profile: Profile, config: DeployConfig, table: PriceTable, on: dt.date,
                   existing: Mapping[str, str]) -> dict[str, list[tuple[str, _Priced | None]]]:
    """role name -> [(server name, its price or None when no row prices its type)]."""
    base = base_name(config)
    return {role.name: [(host, _server_price(table, on, role.server_type, existing.get(host)))
                        for host in role.hostnames(base)]
            for role in profile.server_roles}


def _missing_prices(profile: Profile, row: PriceRow,
                    prices: dict[str, list[tuple[str, _Priced | None]]]) -> list[str]:
    servers = [r.server_type for r in profile.server_roles
               if any(p is None for _, p in prices[r.name])]
    return (list(dict.fromkeys(servers))
            + [t for t in profile.load_balancer_types if t not in row.load_balancer_types])


_BASIS_WORDS = {"running": "running, keeps its price", "new": "new", "rescaled": "rescaled"}


def _server_items(role: Role, priced: list[_Priced], row: PriceRow, config: DeployConfig,
                  only: str) -> tuple[list[LineItem], list[LineItem]]:
    share = row.backup_percent / 100
    servers, backups = [], []
    groups: dict[tuple[str, dt.date, Decimal], int] = {}
    for p in priced:   # one line per (rule, row, price): 2 running + 2 new app servers = 2 lines
        key = (p.basis if p.shown else "", p.row.date, p.unit)
        groups[key] = groups.get(key, 0) + 1
    for (basis, row_date, unit), qty in groups.items():
        word = f"{_BASIS_WORDS[basis]}: {row_date.isoformat()} prices" if basis else ""
        how = f" ({word})" if word else ""
        servers.append(LineItem(f"{role.label} {role.server_type}{how}", qty, unit, unit * qty,
                                basis, row_date))
        if config.backups and role.backups:
            suffix = f"; {word}" if word else ""
            backups.append(LineItem(f"backups ({_percent(row.backup_percent)}% of "
                                    f"{role.server_type}{only}{suffix})", qty, unit * share,
                                    unit * share * qty, basis, row_date))
    return servers, backups


def _items(profile: Profile, config: DeployConfig, row: PriceRow,
           prices: dict[str, list[tuple[str, _Priced | None]]]) -> list[LineItem]:
    def item(name: str, qty: int, unit: Decimal) -> LineItem:
        return LineItem(name, qty, unit, unit * qty, row_date=row.date)

    servers: list[LineItem] = []
    backups: list[LineItem] = []
    balancers: list[LineItem] = []
    backed_up = [r for r in profile.server_roles if r.backups]
    for role in profile.roles:
        if not role.is_server:
            balancers.append(item(f"{role.label} {role.load_balancer_type}", role.count,
                                  row.load_balancer_types[role.load_balancer_type]))
            continue
        # Name the role only when some servers of the profile go without backups.
        only = f", {role.label} only" if len(backed_up) < len(profile.server_roles) else ""
        s, b = _server_items(role, [p for _, p in prices[role.name]], row, config, only)
        servers += s
        backups += b
    items = servers + backups
    items.append(item(f"volume {config.volume_size_gb} GB", config.volume_size_gb,
                      row.volume_per_gb_month))
    if row.primary_ipv4_month is not None:
        items.append(item("primary IPv4", profile.server_count, row.primary_ipv4_month))
    return items + balancers


def _notes(table: PriceTable, row: PriceRow, config: DeployConfig, on: dt.date,
           new_date: dt.date | None) -> tuple[str, ...]:
    notes = list(row.notes)
    if new_date is not None:
        notes += [n for r in table.rows if r.date == new_date for n in r.notes]
    age = (on - row.date).days
    if age > STALE_AFTER_DAYS:
        notes.insert(0, f"These prices are dated {row.date.isoformat()}, {age} days ago: "
                        "check current Hetzner prices before deciding.")
    if row.location and row.location != config.location:
        notes.append(f"The table prices {row.location}; this project deploys to {config.location}.")
    return tuple(notes)


def _pricing_note(table: PriceTable, on: dt.date, row: PriceRow) -> tuple[str, dt.date | None]:
    newer = [r for r in table.rows if row.date < r.date <= on]
    if not newer:
        return "", None
    latest = newer[-1]
    return (f"Servers ordered or rescaled from {latest.date.isoformat()} on pay that row's "
            f"prices (source: {latest.source}); running servers keep the "
            f"{row.date.isoformat()} prices until they are rescaled. Volume, backups share, "
            f"IPv4 and load balancers come from the {row.date.isoformat()} row."), latest.date


def estimate(profile: Profile | str, config: DeployConfig, prices: PriceTable | None = None,
             on: dt.date | None = None, existing: Mapping[str, str] | None = None,
             app_servers: int | None = None) -> Estimate:
    """Monthly cost of `profile` for `config`, from the table rows in force `on` (default today).

    existing: server name -> server type of what is running now (state or plan);
    None: nothing is running, every server is priced as a new order.
    app_servers: how many app servers 3-tier has (a plan's side); default from [tier].
    """
    if isinstance(profile, str):
        profile = get_profile(profile)
    tier = config.tier if app_servers is None else TierConfig(app_servers=app_servers)
    profile = sized(profile, tier, config.calls_per_month)   # N app servers
    table = prices if prices is not None else load_price_table()
    on = on or dt.date.today()
    row = table.row_on(on)
    prices = _server_prices(profile, config, table, on, existing or {})
    missing = _missing_prices(profile, row, prices)
    if missing:
        raise ConfigError(
            f"{table.path.name}: the row dated {row.date.isoformat()} has no price for "
            f"{', '.join(missing)} (needed by profile {profile.name}); "
            "use a price table that prices them (--prices FILE)")
    items = tuple(_items(profile, config, row, prices))
    rule, new_date = _pricing_note(table, on, row)
    total = sum((i.monthly_eur for i in items), Decimal(0))
    current = config.current_host_monthly_eur
    return Estimate(
        profile=profile.name, items=items, total_monthly_eur=total,
        current_host=config.current_host, current_host_monthly_eur=current,
        difference_eur=current - total, table_date=row.date, source=row.source,
        currency=row.currency, new_server_row_date=new_date,
        notes=tuple(n for n in (rule, *_notes(table, row, config, on, new_date)) if n))

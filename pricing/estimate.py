"""Monthly cost of a profile from the dated price table, against the current host.

Pure: reads a table file, never the network. Amounts stay exact Decimals;
only `cents()` rounds (half-up), for display and JSON.

Backups cost `backup_percent` of a server's price, per server that has them.
In the 3-tier profile only the database server gets backups: the app servers
hold no data and are rebuilt from the image and cloud-init, so backing them
up would pay for copies of nothing. Every server is counted with a primary
IPv4 (Hetzner's default) when the row charges for it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from errors import ConfigError
from generator.config import DeployConfig
from pricing.table import PriceRow, PriceTable, load_price_table
from generator.profiles import Profile, get_profile

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
            "source": self.source,
            "items": [
                {"name": i.name, "quantity": i.quantity, "unit_eur": plain(i.unit_eur),
                 "monthly_eur": str(cents(i.monthly_eur))}
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


def _missing_prices(profile: Profile, row: PriceRow) -> list[str]:
    return ([t for t in profile.server_types if t not in row.server_types]
            + [t for t in profile.load_balancer_types if t not in row.load_balancer_types])


def _items(profile: Profile, config: DeployConfig, row: PriceRow) -> list[LineItem]:
    def item(name: str, qty: int, unit: Decimal) -> LineItem:
        return LineItem(name, qty, unit, unit * qty)

    share = row.backup_percent / 100
    servers: list[LineItem] = []
    backups: list[LineItem] = []
    balancers: list[LineItem] = []
    backed_up = [r for r in profile.server_roles if r.backups]
    for role in profile.roles:
        if not role.is_server:
            balancers.append(item(f"{role.label} {role.load_balancer_type}", role.count,
                                  row.load_balancer_types[role.load_balancer_type]))
            continue
        unit = row.server_types[role.server_type]
        servers.append(item(f"{role.label} {role.server_type}", role.count, unit))
        if config.backups and role.backups:
            # Name the role only when some servers of the profile go without backups.
            only = (f", {role.label} only" if len(backed_up) < len(profile.server_roles)
                    else "")
            backups.append(item(f"backups ({_percent(row.backup_percent)}% of "
                                f"{role.server_type}{only})", role.count, unit * share))
    items = servers + backups
    items.append(item(f"volume {config.volume_size_gb} GB", config.volume_size_gb,
                      row.volume_per_gb_month))
    if row.primary_ipv4_month is not None:
        items.append(item("primary IPv4", profile.server_count, row.primary_ipv4_month))
    return items + balancers


def _notes(row: PriceRow, config: DeployConfig, on: dt.date) -> tuple[str, ...]:
    notes = list(row.notes)
    age = (on - row.date).days
    if age > STALE_AFTER_DAYS:
        notes.insert(0, f"These prices are dated {row.date.isoformat()}, {age} days ago: "
                        "check current Hetzner prices before deciding.")
    if row.location and row.location != config.location:
        notes.append(f"The table prices {row.location}; this project deploys to {config.location}.")
    return tuple(notes)


def estimate(profile: Profile | str, config: DeployConfig, prices: PriceTable | None = None,
             on: dt.date | None = None) -> Estimate:
    """Monthly cost of `profile` for `config`, from the table row in force `on` (default today)."""
    if isinstance(profile, str):
        profile = get_profile(profile)
    table = prices if prices is not None else load_price_table()
    on = on or dt.date.today()
    row = table.row_on(on)
    missing = _missing_prices(profile, row)
    if missing:
        raise ConfigError(
            f"{table.path.name}: the row dated {row.date.isoformat()} has no price for "
            f"{', '.join(missing)} (needed by profile {profile.name}); "
            "use a price table that prices them (--prices FILE)")
    items = tuple(_items(profile, config, row))
    total = sum((i.monthly_eur for i in items), Decimal(0))
    current = config.current_host_monthly_eur
    return Estimate(
        profile=profile.name, items=items, total_monthly_eur=total,
        current_host=config.current_host, current_host_monthly_eur=current,
        difference_eur=current - total, table_date=row.date, source=row.source,
        currency=row.currency, notes=_notes(row, config, on))

"""The dated Hetzner price table: loading, validating, picking a row.

Figures are read as exact decimals (never floats) so that 50 GB at 0.058
is 2.900 and not 2.9000000000000004. Every problem in a table file is one
ConfigError naming the file and the key, e.g.
`prices.toml: rows[0].server_types.ccx33: must be an amount >= 0 (got 'x')`.
"""
from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from errors import ConfigError

DEFAULT_TABLE = Path(__file__).resolve().parent / "prices.toml"
CURRENCIES = ("EUR",)

_ROW_KEYS = {
    "date", "currency", "source", "location", "volume_per_gb_month", "backup_percent",
    "primary_ipv4_month", "notes", "server_types", "load_balancer_types",
}
_REQUIRED = ("date", "currency", "source", "volume_per_gb_month", "backup_percent",
             "server_types")


@dataclass(frozen=True)
class PriceRow:
    date: dt.date
    currency: str
    source: str
    volume_per_gb_month: Decimal
    backup_percent: Decimal
    server_types: dict[str, Decimal] = field(default_factory=dict)
    load_balancer_types: dict[str, Decimal] = field(default_factory=dict)
    primary_ipv4_month: Decimal | None = None
    location: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PriceTable:
    path: Path
    rows: tuple[PriceRow, ...]   # oldest first

    def row_on(self, day: dt.date) -> PriceRow:
        """The newest row dated on or before `day`."""
        candidates = [r for r in self.rows if r.date <= day]
        if not candidates:
            raise ConfigError(
                f"{self.path.name}: no price row on or before {day.isoformat()} "
                f"(the oldest is {self.rows[0].date.isoformat()})")
        return candidates[-1]

    @property
    def latest(self) -> PriceRow:
        return self.rows[-1]


class _Bad(Exception):
    pass


def _amount(value: Any) -> Decimal:
    # bool is an int in Python; `true` is never a price.
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise _Bad(f"must be an amount >= 0 (got {value!r})")
    amount = Decimal(value)
    if not amount.is_finite() or amount < 0:
        raise _Bad(f"must be an amount >= 0 (got {value})")
    return amount


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"must be a non-empty string (got {value!r})")
    return value


def _prices(value: Any) -> dict[str, Decimal]:
    if not isinstance(value, dict):
        raise _Bad("must be a table of type = monthly price")
    out = {}
    for name, price in value.items():
        try:
            out[name.lower()] = _amount(price)
        except _Bad as exc:
            raise _Bad(f"{name}: {exc}") from None
    return out


def _row(raw: Any, index: int) -> PriceRow:
    where = f"rows[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a [[rows]] table")
    unknown = sorted(set(raw) - _ROW_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]} (known: {', '.join(sorted(_ROW_KEYS))})")
    for key in _REQUIRED:
        if key not in raw:
            raise ConfigError(f"{where}: missing required key {key}")

    def check(key: str, fn, *args):
        try:
            return fn(raw[key], *args)
        except _Bad as exc:
            raise ConfigError(f"{where}.{key}: {exc}") from None

    date = raw["date"]
    # TOML has local dates; a datetime is also a date subclass, so refuse it explicitly.
    if not isinstance(date, dt.date) or isinstance(date, dt.datetime):
        raise ConfigError(f"{where}.date: must be a TOML date like 2025-11-18 (got {date!r})")
    currency = check("currency", _text)
    if currency not in CURRENCIES:
        raise ConfigError(f"{where}.currency: only {', '.join(CURRENCIES)} is supported (got {currency!r})")
    backup_percent = check("backup_percent", _amount)
    if backup_percent > 100:
        raise ConfigError(f"{where}.backup_percent: must be between 0 and 100 (got {backup_percent})")
    notes = raw.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) and n.strip() for n in notes):
        raise ConfigError(f"{where}.notes: must be a list of non-empty strings")
    server_types = check("server_types", _prices)
    if not server_types:
        raise ConfigError(f"{where}.server_types: must price at least one server type")
    return PriceRow(
        date=date,
        currency=currency,
        source=check("source", _text),
        volume_per_gb_month=check("volume_per_gb_month", _amount),
        backup_percent=backup_percent,
        server_types=server_types,
        load_balancer_types=(check("load_balancer_types", _prices)
                             if "load_balancer_types" in raw else {}),
        primary_ipv4_month=(check("primary_ipv4_month", _amount)
                            if "primary_ipv4_month" in raw else None),
        location=check("location", _text) if "location" in raw else None,
        notes=tuple(notes),
    )


def parse_price_table(text: str, path: Path) -> PriceTable:
    label = path.name
    try:
        raw = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: invalid TOML: {exc}") from None
    unknown = sorted(set(raw) - {"rows"})
    if unknown:
        raise ConfigError(f"{label}: unknown key {unknown[0]} (a price table holds only [[rows]])")
    rows_raw = raw.get("rows")
    if not isinstance(rows_raw, list) or not rows_raw:
        raise ConfigError(f"{label}: no [[rows]]: a price table needs at least one dated row")
    rows = []
    for i, item in enumerate(rows_raw):
        try:
            rows.append(_row(item, i))
        except ConfigError as exc:
            raise ConfigError(f"{label}: {exc}") from None
    rows.sort(key=lambda r: r.date)
    for older, newer in zip(rows, rows[1:]):
        if older.date == newer.date:
            raise ConfigError(f"{label}: two rows dated {newer.date.isoformat()}")
    return PriceTable(path=path, rows=tuple(rows))


def load_price_table(path: Path | None = None) -> PriceTable:
    """Read a table file; without a path, the one shipped with the tool."""
    path = Path(path) if path is not None else DEFAULT_TABLE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: price table not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a price table file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path.name}: not UTF-8 text") from None
    return parse_price_table(text, path)

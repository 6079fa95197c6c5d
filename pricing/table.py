"""The dated Hetzner price table: loading, validating, picking a row.

The file's shape is declared with pydantic (one model for a row, one for the
file, unknown keys forbidden); PriceRow and PriceTable stay plain dataclasses
because pricing/live.py builds rows from the API too.

A row applies to `all` resources, or only to servers `new-and-rescaled`
from its date on (pricing/prices.toml explains both); such a row prices
servers only. pricing/estimate.py decides per server which row applies.

Figures are read as exact decimals (never floats) so that 50 GB at 0.058
is 2.900 and not 2.9000000000000004. Every problem in a table file is one
ConfigError naming the file and the key, e.g.
`prices.toml: rows[0].server_types: ccx33: must be an amount >= 0 (got 'x')`.
"""
from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic import model_validator
from pydantic_core import PydanticCustomError

from errors import ConfigError
from generator.inputs import (FileFault, Wording, bad, bad_table, read_small_file, show, show_key,
                              show_path)

DEFAULT_TABLE = Path(__file__).resolve().parent / "prices.toml"
CURRENCIES = ("EUR",)
# "all": every resource pays the row from its date on. "new-and-rescaled": only
# servers ordered or rescaled from its date on (Hetzner's June 2026 change).
ALL, NEW_AND_RESCALED = "all", "new-and-rescaled"
APPLIES_TO = (ALL, NEW_AND_RESCALED)

MAX_TABLE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class PriceRow:
    date: dt.date
    currency: str
    source: str
    volume_per_gb_month: Decimal | None    # None only in a new-and-rescaled row
    backup_percent: Decimal | None
    server_types: dict[str, Decimal] = field(default_factory=dict)
    load_balancer_types: dict[str, Decimal] = field(default_factory=dict)
    primary_ipv4_month: Decimal | None = None
    location: str | None = None
    notes: tuple[str, ...] = ()
    applies_to: str = ALL


@dataclass(frozen=True)
class PriceTable:
    path: Path
    rows: tuple[PriceRow, ...]   # oldest first

    def row_on(self, day: dt.date) -> PriceRow:
        """The newest "all" row dated on or before `day`: what running servers,
        volumes, backups, IPs and load balancers pay that day."""
        candidates = [r for r in self.rows if r.date <= day and r.applies_to == ALL]
        if not candidates:
            oldest = next((r for r in self.rows if r.applies_to == ALL), None)
            raise ConfigError(
                f"{self.path.name}: no price row on or before {day.isoformat()}"
                + (f" (the oldest is {oldest.date.isoformat()})" if oldest else
                   " (the table has no row that applies to all resources)"))
        return candidates[-1]

    def new_server_row_on(self, day: dt.date, server_type: str) -> PriceRow | None:
        """The newest row on or before `day` that prices `server_type`, of either
        kind: what a server ordered or rescaled that day pays."""
        candidates = [r for r in self.rows if r.date <= day and server_type in r.server_types]
        return candidates[-1] if candidates else None

    def existing_server_row_on(self, day: dt.date, server_type: str) -> PriceRow | None:
        """The newest "all" row on or before `day` that prices `server_type`:
        a server already running keeps this price until it is rescaled."""
        candidates = [r for r in self.rows if r.date <= day and r.applies_to == ALL
                      and server_type in r.server_types]
        return candidates[-1] if candidates else None

    @property
    def latest(self) -> PriceRow:
        return self.rows[-1]


# --- the file's shape, declared with pydantic: one model for a row, one for the file ----

def _amount(value: Any) -> Decimal:
    # bool is an int in Python; `true` is never a price. Floats arrive as Decimal (parse_float).
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise bad(f"must be an amount >= 0 (got {show(value)})")
    amount = Decimal(value)
    if not amount.is_finite() or amount < 0:
        raise bad(f"must be an amount >= 0 (got {value})")
    return amount


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad(f"must be a non-empty string (got {show(value)})")
    return value


def _date(value: Any) -> dt.date:
    # TOML has local dates; a datetime is also a date subclass, so refuse it explicitly.
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise bad(f"must be a TOML date like 2025-11-18 (got {show(value)})")
    return value


def _currency(value: Any) -> str:
    if value not in CURRENCIES:
        raise bad(f"only {', '.join(CURRENCIES)} is supported (got {show(value)})")
    return value


def _percent(value: Decimal) -> Decimal:
    if value > 100:
        raise bad(f"must be between 0 and 100 (got {value})")
    return value


def _prices(value: Any) -> dict[str, Decimal]:
    if not isinstance(value, dict):
        raise bad("must be a table of type = monthly price")
    out = {}
    for name, price in value.items():
        try:
            out[name.lower()] = _amount(price)
        except PydanticCustomError as exc:
            raise bad(f"{show_key(name)}: {exc.message()}") from None
    return out


def _notes(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(n, str) and n.strip() for n in value):
        raise bad("must be a list of non-empty strings")
    return tuple(value)


def _applies_to(value: Any) -> str:
    if value not in APPLIES_TO:
        raise bad(f"must be one of {', '.join(APPLIES_TO)} (got {show(value)})")
    return value


def _some_server_types(value: dict[str, Decimal]) -> dict[str, Decimal]:
    if not value:
        raise bad("must price at least one server type")
    return value


Amount = Annotated[Decimal, BeforeValidator(_amount)]
Text = Annotated[str, BeforeValidator(_text)]
Prices = Annotated[dict[str, Decimal], BeforeValidator(_prices)]


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    date: Annotated[dt.date, BeforeValidator(_date)]
    currency: Annotated[str, BeforeValidator(_currency), BeforeValidator(_text)]
    source: Text
    applies_to: Annotated[str, BeforeValidator(_applies_to)] = ALL
    volume_per_gb_month: Amount = None    # type: ignore[assignment]  # required in "all" rows
    backup_percent: Annotated[Decimal, AfterValidator(_percent),
                              BeforeValidator(_amount)] = None   # type: ignore[assignment]
    server_types: Annotated[Prices, AfterValidator(_some_server_types)]
    load_balancer_types: Prices = {}
    primary_ipv4_month: Amount = None     # type: ignore[assignment]  # unset: not charged
    location: Text = None                 # type: ignore[assignment]
    notes: Annotated[tuple[str, ...], BeforeValidator(_notes)] = ()

    @model_validator(mode="after")
    def _complete(self) -> "_Row":
        if self.applies_to == ALL:
            for key in ("volume_per_gb_month", "backup_percent"):
                if getattr(self, key) is None:
                    raise bad(f"missing required key {key}")
            return self
        # A new-and-rescaled row changes server prices only; anything else it
        # carried would be silently ignored, so it is refused instead.
        extra = [k for k in ("volume_per_gb_month", "backup_percent", "primary_ipv4_month")
                 if getattr(self, k) is not None]
        if self.load_balancer_types:
            extra.append("load_balancer_types")
        if extra:
            raise bad(f"a {NEW_AND_RESCALED} row prices servers only (remove {', '.join(extra)})")
        return self

    def row(self) -> PriceRow:
        return PriceRow(**{name: getattr(self, name) for name in type(self).model_fields})


def _rows(value: Any) -> Any:
    if not isinstance(value, list) or not value:
        raise bad_table("no [[rows]]: a price table needs at least one dated row")
    return value


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    rows: Annotated[list[_Row], BeforeValidator(_rows)] = None   # type: ignore[assignment]

    @model_validator(mode="after")
    def _dated_once(self) -> "_Table":
        if self.rows is None:
            raise bad_table("no [[rows]]: a price table needs at least one dated row")
        dates = sorted(r.date for r in self.rows)
        for older, newer in zip(dates, dates[1:]):
            if older == newer:
                raise bad_table(f"two rows dated {newer.isoformat()}")
        return self


class _TableWording(Wording):
    def unknown(self, loc: tuple) -> str:
        if len(loc) == 1:
            return f"unknown key {show_key(loc[0])} (a price table holds only [[rows]])"
        return (f"{self.where(loc[:-1])}: unknown key {show_key(loc[-1])} "
                f"(known: {', '.join(sorted(_Row.model_fields))})")

    def missing(self, loc: tuple) -> str:
        return f"{self.where(loc[:-1])}: missing required key {loc[-1]}"


def parse_price_table(text: str, path: Path) -> PriceTable:
    label = show_path(path.name)
    try:
        raw = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: invalid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{label}: invalid TOML: nested too deeply") from None
    try:
        table = _Table.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_TableWording().line(exc, label)) from None
    rows = sorted((r.row() for r in table.rows), key=lambda r: r.date)
    return PriceTable(path=path, rows=tuple(rows))


def load_price_table(path: Path | None = None) -> PriceTable:
    """Read a table file; without a path, the one shipped with the tool."""
    path = Path(path) if path is not None else DEFAULT_TABLE
    try:
        data = read_small_file(path, MAX_TABLE_BYTES)
    except FileFault as fault:
        if fault.missing:
            raise ConfigError(f"{show_path(path)}: price table not found") from None
        if fault.problem.startswith("is a directory"):
            raise ConfigError(f"{show_path(path)}: is a directory, not a price table file") from None
        raise ConfigError(f"{show_path(path)}: {fault.problem}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{show_path(path.name)}: not UTF-8 text (byte {exc.start})") from None
    return parse_price_table(text, path)

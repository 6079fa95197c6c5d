"""Calls per month -> the profile to rent, and how close the next tier is.

Thresholds are inclusive upper bounds (deploy.toml [sizing]): with the
defaults, 0-5,000 calls is ccx33, 5,001-20,000 is ccx43, more is 3-tier.
Headroom tells a team how many calls they can grow by before the tier
should change, so a switch is planned rather than discovered under load.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from errors import ConfigError
from generator.config import Thresholds

# Below this share of headroom left, `recommend` says to plan the switch.
SWITCH_SOON_PERCENT = Decimal(20)


@dataclass(frozen=True)
class Headroom:
    next_profile: str
    limit: int            # the most calls the recommended profile is sized for
    calls: int            # calls per month still fitting under `limit`
    percent: Decimal      # `calls` as a share of `limit`, 0-100, rounded to one decimal
    switch_soon: bool     # under SWITCH_SOON_PERCENT left, judged before rounding


@dataclass(frozen=True)
class Recommendation:
    profile: str
    calls_per_month: int
    thresholds: Thresholds
    reason: str
    headroom: Headroom | None   # None for the largest profile: nothing above it


def _check(calls_per_month: object, thresholds: Thresholds) -> int:
    if isinstance(calls_per_month, bool) or not isinstance(calls_per_month, int):
        raise ConfigError(f"calls per month must be a whole number (got {calls_per_month!r})")
    if calls_per_month < 0:
        raise ConfigError(f"calls per month must not be negative (got {calls_per_month})")
    low, high = thresholds.ccx33_max_calls, thresholds.ccx43_max_calls
    if low < 0 or high < 0:
        raise ConfigError("sizing thresholds must not be negative")
    if low >= high:
        raise ConfigError(f"sizing.ccx33_max_calls ({low}) must be below "
                          f"sizing.ccx43_max_calls ({high})")
    return calls_per_month


def _headroom(calls: int, limit: int, next_profile: str) -> Headroom:
    left = limit - calls
    percent = Decimal(0) if limit == 0 else Decimal(left * 100) / limit
    return Headroom(next_profile, limit, left,
                    percent.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP),
                    switch_soon=percent < SWITCH_SOON_PERCENT)


def recommend(calls_per_month: int, thresholds: Thresholds | None = None) -> Recommendation:
    thresholds = thresholds or Thresholds()
    calls = _check(calls_per_month, thresholds)
    low, high = thresholds.ccx33_max_calls, thresholds.ccx43_max_calls
    if calls <= low:
        return Recommendation(
            "ccx33", calls, thresholds,
            f"{calls:,} calls a month is within ccx33's range (0 to {low:,})",
            _headroom(calls, low, "ccx43"))
    if calls <= high:
        return Recommendation(
            "ccx43", calls, thresholds,
            f"{calls:,} calls a month is above ccx33's {low:,} and within ccx43's range "
            f"({low + 1:,} to {high:,})",
            _headroom(calls, high, "3-tier"))
    return Recommendation(
        "3-tier", calls, thresholds,
        f"{calls:,} calls a month is above {high:,}, the most one ccx43 server is sized for: "
        "spread the load over a load balancer, app servers and a database server",
        None)

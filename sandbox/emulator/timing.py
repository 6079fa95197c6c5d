"""Time in the emulator: how long actions take, and the per-token rate limit.

Both read one injectable clock (seconds since the epoch), so tests drive time
by hand instead of sleeping:

    clock = ManualClock(1_800_000_000)
    server = make_server(..., action_seconds=30, clock=clock)
    ...                       # the server is `initializing`, actions `running`
    clock.advance(30)         # now they are finished

Rate limit, as Hetzner documents it (docs.hetzner.cloud, "Rate Limiting"):
`RateLimit-Limit` requests per hour (3600 by default, per project; here per
token), `RateLimit-Remaining` drops by one per request and grows back by one
every 3600/limit seconds, `RateLimit-Reset` is the UNIX time at which the
bucket is full again. With nothing left, the answer is 429
`rate_limit_exceeded`. Every request counts, authenticated or not.
"""
from __future__ import annotations

import hashlib
import math
import os
import threading
import time
from typing import Callable

from .apierrors import ApiFault

Clock = Callable[[], float]
DEFAULT_RATE_LIMIT = 3600            # Hetzner's default per hour
ENV_ACTION_SECONDS = "HCLOUD_SANDBOX_ACTION_SECONDS"
ENV_RATE_LIMIT = "HCLOUD_SANDBOX_RATE_LIMIT"
MAX_BUCKETS = 1000


class ManualClock:
    """A clock that moves only when told to (for tests and benchmarks)."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _number_from_env(name: str, default: float, minimum: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number (got {raw!r})") from None
    if not math.isfinite(value) or value < minimum:
        raise ValueError(f"{name} must be at least {minimum:g} (got {raw!r})")
    return value


def action_seconds_from_env() -> float:
    """0 (the default) finishes every action the first time it is read."""
    return _number_from_env(ENV_ACTION_SECONDS, 0.0, 0.0)


def rate_limit_from_env() -> int:
    return int(_number_from_env(ENV_RATE_LIMIT, DEFAULT_RATE_LIMIT, 1))


class RateLimiter:
    """One bucket per presented token, refilled continuously."""

    def __init__(self, limit: int = DEFAULT_RATE_LIMIT, clock: Clock = time.time):
        if limit < 1:
            raise ValueError("the rate limit must be at least 1 request per hour")
        self.limit = int(limit)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}   # token -> (remaining, at)
        self._lock = threading.Lock()

    def _level(self, token: str, now: float) -> float:
        remaining, at = self._buckets.get(token, (float(self.limit), now))
        return min(float(self.limit), remaining + max(0.0, now - at) * self.limit / 3600)

    def _headers(self, remaining: float, now: float) -> dict:
        refill = (self.limit - remaining) * 3600 / self.limit
        return {"RateLimit-Limit": self.limit, "RateLimit-Remaining": int(remaining),
                "RateLimit-Reset": int(math.ceil(now + refill))}

    def take(self, token: str) -> dict:
        """Count one request; the headers to send, or ApiFault 429 carrying them."""
        token = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()  # never kept in clear
        with self._lock:
            now = self.clock()
            remaining = self._level(token, now)
            if remaining < 1:
                self._buckets[token] = (remaining, now)
                headers = self._headers(remaining, now)
                raise ApiFault(429, "rate_limit_exceeded", "limit of requests per hour reached",
                               headers=headers)
            remaining -= 1
            self._buckets[token] = (remaining, now)
            if len(self._buckets) > MAX_BUCKETS:  # many made-up tokens: forget the full buckets
                self._buckets = {t: b for t, b in self._buckets.items()
                                 if t == token or self._level(t, now) < self.limit}
            return self._headers(remaining, now)

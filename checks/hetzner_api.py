"""A read-only Hetzner Cloud client that retries politely and fails in one line.

Why not the hcloud library's own retry: in hcloud 2.27 it is fixed inside
the client (5 retries, jittered exponential backoff capped at 60 s, no public
option to change it), it ignores `Retry-After`, it does not retry 500 or 503,
and it has no overall time limit — a verify could hang for minutes. So the
library's retry is switched off and the HTTP session gets a urllib3 `Retry`
that honours `Retry-After`, backs off on 429/5xx, and gives up once a
deadline for the whole command has passed.

Only GET requests are retried (verify never writes), and no message built
here ever contains the token: messages name the endpoint's host only.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator
from urllib.parse import urlsplit

import requests
from hcloud import APIException, Client
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from errors import ApiError

RETRY_STATUSES = (429, 500, 502, 503, 504)
DEFAULT_DEADLINE_S = 30.0
DEFAULT_TIMEOUT_S = (5.0, 15.0)  # connect, read


@dataclass(frozen=True)
class Clock:
    """Where the retry and deadline logic reads the time and waits.

    Injected so tests can drive the deadline and count the waits without
    sleeping; `SYSTEM_CLOCK` is read at call time, so a test may also swap it
    for code that opens its client deeper down (preflight, verify).
    """
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


SYSTEM_CLOCK = Clock()


class RetryBudgetExceeded(Exception):
    """Waiting for the next retry would pass the command's deadline."""

    def __init__(self, status: int | None, wait_s: float, budget_s: float):
        super().__init__(f"status {status}, next wait {wait_s:.1f}s")
        self.status = status
        self.wait_s = wait_s
        self.budget_s = budget_s


class DeadlineRetry(Retry):
    """urllib3 Retry whose sleeps never run past a wall-clock deadline."""

    def __init__(self, *args, deadline: float | None = None,
                 budget_s: float = DEFAULT_DEADLINE_S, clock: Clock | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.deadline = deadline
        self.budget_s = budget_s
        self.clock = clock or SYSTEM_CLOCK

    def new(self, **kw) -> "DeadlineRetry":
        fresh = super().new(**kw)
        fresh.deadline = self.deadline
        fresh.budget_s = self.budget_s
        fresh.clock = self.clock
        return fresh

    def sleep(self, response=None) -> None:
        wait = None
        if self.respect_retry_after_header and response is not None:
            wait = self.get_retry_after(response)
        if wait is None:
            wait = self.get_backoff_time()
        if self.deadline is not None and self.clock.monotonic() + wait > self.deadline:
            status = getattr(response, "status", None)
            raise RetryBudgetExceeded(status, wait, self.budget_s)
        if wait > 0:
            self.clock.sleep(wait)


class DeadlineAdapter(HTTPAdapter):
    """Shortens each request's timeouts to what is left before the deadline."""

    def __init__(self, retry: DeadlineRetry):
        super().__init__(max_retries=retry)
        self.deadline = retry.deadline
        self.budget_s = retry.budget_s
        self.clock = retry.clock

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        left = self.deadline - self.clock.monotonic()
        if left <= 0:
            raise RetryBudgetExceeded(None, 0.0, self.budget_s)
        if timeout is None:
            timeout = (left, left)
        elif isinstance(timeout, (int, float)):
            timeout = min(timeout, left)
        else:
            timeout = tuple(min(t, left) if t is not None else left for t in timeout)
        return super().send(request, stream=stream, timeout=timeout, verify=verify,
                            cert=cert, proxies=proxies)


def make_retry(deadline_s: float = DEFAULT_DEADLINE_S, clock: Clock | None = None) -> DeadlineRetry:
    clock = clock or SYSTEM_CLOCK
    return DeadlineRetry(
        total=10, connect=2, read=1, status=8, redirect=0,
        status_forcelist=RETRY_STATUSES, allowed_methods=frozenset({"GET"}),
        backoff_factor=0.5, backoff_max=8.0, respect_retry_after_header=True,
        raise_on_status=False,  # hand the last answer to hcloud: it becomes an APIException
        retry_after_max=3600,  # the deadline, not this cap, decides when to give up
        deadline=clock.monotonic() + deadline_s, budget_s=deadline_s, clock=clock,
    )


def open_client(endpoint: str, token: str, *, deadline_s: float = DEFAULT_DEADLINE_S,
                timeout: float | tuple[float, float] = DEFAULT_TIMEOUT_S,
                clock: Clock | None = None) -> Client:
    """An hcloud Client for `endpoint` with the retry policy described above."""
    if not token:
        raise ApiError("no API token configured (set HCLOUD_TOKEN)")
    client = Client(token=token, api_endpoint=endpoint.rstrip("/"),
                    application_name="hetzner-deploy", timeout=timeout)
    base = getattr(client, "_client", None)
    session = getattr(base, "_session", None)
    if base is None or not isinstance(session, requests.Session) \
            or not hasattr(base, "_retry_max_retries"):
        # hcloud changed its internals: refuse rather than retry twice over.
        raise ApiError("unsupported hcloud library version: cannot configure retries")
    base._retry_max_retries = 0
    client.hd_timeout = timeout  # read back by api_errors() for its message
    adapter = DeadlineAdapter(make_retry(deadline_s, clock))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return client


def host_of(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return parts.netloc or endpoint


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen = set()
    stack = [exc]
    while stack:
        cur = stack.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        stack.extend([cur.__cause__, cur.__context__, *[a for a in getattr(cur, "args", ())
                                                        if isinstance(a, BaseException)]])
        reason = getattr(cur, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)


def describe_api_exception(exc: APIException, host: str) -> str:
    code = exc.code
    if code in (401, "unauthorized"):
        return f"API at {host} rejected the token (401 unauthorized): check HCLOUD_TOKEN"
    if code in (403, "forbidden"):
        return (f"API at {host} refused the request (403 forbidden): "
                "the token lacks permission for this project")
    if code in (429, "rate_limit_exceeded"):
        return f"API at {host} kept rate-limiting requests (429) after retries"
    if isinstance(code, int) and code >= 500:
        return f"API at {host} failed with HTTP {code} after retries"
    return f"API at {host} returned an error: {exc.message} ({code})"


def describe_transport_error(exc: BaseException, host: str, timeout) -> str:
    names = {type(e).__name__ for e in _chain(exc)}
    text = " ".join(str(e) for e in _chain(exc)).lower()
    if "NameResolutionError" in names or "gaierror" in names \
            or "name or service not known" in text or "failed to resolve" in text:
        return f"cannot resolve the API host {host.split(':')[0]} (DNS failure)"
    if isinstance(exc, requests.exceptions.Timeout) or "timeout" in text:
        connect, read = (timeout, timeout) if isinstance(timeout, (int, float)) else timeout
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return f"API at {host} did not accept a connection within {connect:g}s (timeout)"
        return f"API at {host} did not answer within {read:g}s (timeout)"
    if "ConnectionRefusedError" in names or "refused" in text:
        return f"connection refused by {host}: is the API (or the sandbox) running?"
    return f"cannot reach the API at {host}: {type(exc).__name__}"


def timeout_of(client: Client) -> float | tuple[float, float]:
    return getattr(client, "hd_timeout", DEFAULT_TIMEOUT_S)


@contextmanager
def api_errors(endpoint: str, timeout=DEFAULT_TIMEOUT_S, what: str = "") -> Iterator[None]:
    """Turn every failure of an API call inside the block into one ApiError line."""
    host = host_of(endpoint)
    prefix = f"{what}: " if what else ""
    try:
        yield
    except APIException as exc:
        raise ApiError(prefix + describe_api_exception(exc, host)) from None
    except RetryBudgetExceeded as exc:
        if exc.status is None and exc.wait_s == 0:
            raise ApiError(f"{prefix}API at {host}: the {exc.budget_s:g}s time limit "
                           "ran out before all answers came") from None
        why = f"HTTP {exc.status}" if exc.status else "errors"
        raise ApiError(f"{prefix}API at {host} kept answering {why}; the next retry "
                       f"(in {exc.wait_s:.0f}s) would pass the {exc.budget_s:g}s time "
                       "limit") from None
    except requests.exceptions.RequestException as exc:
        raise ApiError(prefix + describe_transport_error(exc, host, timeout)) from None
    except (ValueError, KeyError, TypeError) as exc:
        # A non-JSON answer, or one the hcloud library cannot map (API and
        # library out of step): still one line, naming what broke.
        raise ApiError(f"{prefix}API at {host} sent an answer this tool cannot read "
                       f"({type(exc).__name__}: {str(exc)[:120]})") from None


@dataclass(frozen=True)
class Probe:
    endpoint_host: str
    status: int
    latency_ms: float


def probe(client: Client, endpoint: str) -> Probe:
    """One cheap authenticated request: proves the token works and times the API."""
    started = time.perf_counter()
    with api_errors(endpoint, timeout_of(client), what="API check"):
        client.request("GET", "/locations", params={"per_page": 1})
    return Probe(host_of(endpoint), 200, round((time.perf_counter() - started) * 1000, 1))

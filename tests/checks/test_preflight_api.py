"""The API client wrapper: retries with Retry-After within a time limit, one-line errors."""
from __future__ import annotations

import socket

import pytest
import requests
import requests.adapters
import responses
from urllib3.exceptions import MaxRetryError, NameResolutionError

from errors import ApiError
from checks import hetzner_api
from tests.checks.preflight_support import TOKEN, closed_port, scripted_api

LOCATIONS = {"locations": [], "meta": {"pagination": {"page": 1, "per_page": 1,
             "previous_page": None, "next_page": None, "last_page": 1, "total_entries": 0}}}
RATE = {"error": {"code": "rate_limit_exceeded", "message": "limit reached", "details": {}}}
UNAVAILABLE = {"error": {"code": "unavailable", "message": "maintenance", "details": {}}}


def _client(url: str, **kw):
    return hetzner_api.open_client(url, TOKEN, **kw)


@pytest.fixture(autouse=True)
def clock(fake_clock):
    return fake_clock


def test_429_with_retry_after_then_success_waits_as_told(clock):
    with scripted_api() as api:
        api.queue("/locations", 429, RATE, {"Retry-After": "1"})
        api.answer("/locations", 200, LOCATIONS)
        probe = hetzner_api.probe(_client(api.url, deadline_s=10), api.url)
        assert probe.status == 200
        assert api.hits == ["/locations", "/locations"]
        assert clock.sleeps == [1.0]          # honoured Retry-After: 1


def test_503_twice_then_success_with_backoff(clock):
    with scripted_api() as api:
        api.queue("/locations", 503, UNAVAILABLE)
        api.queue("/locations", 503, UNAVAILABLE)
        api.answer("/locations", 200, LOCATIONS)
        hetzner_api.probe(_client(api.url, deadline_s=10), api.url)
        assert len(api.hits) == 3
        # urllib3's backoff: the first retry at once, then 0.5 s * 2**(errors - 1).
        assert clock.sleeps == [1.0]


def test_retry_after_beyond_the_time_limit_gives_up_at_once(clock):
    with scripted_api() as api:
        api.answer("/locations", 429, RATE, {"Retry-After": "120"})
        client = _client(api.url, deadline_s=3)
        with pytest.raises(ApiError) as err:
            hetzner_api.probe(client, api.url)
        assert str(err.value) == (f"API check: API at {hetzner_api.host_of(api.url)} kept "
                                  "answering HTTP 429; the next retry (in 120s) would pass "
                                  "the 3s time limit")
        assert clock.sleeps == []      # gave up without waiting
        assert len(api.hits) == 1      # hcloud's own retry is off: no second layer


def test_persistent_500_stops_within_the_time_limit(clock):
    with scripted_api() as api:
        api.answer("/locations", 500, {"error": {"code": "server_error", "message": "boom",
                                                 "details": {}}})
        started = clock.now
        with pytest.raises(ApiError) as err:
            hetzner_api.probe(_client(api.url, deadline_s=4), api.url)
        # Waits of 0, 1 and 2 s fit in 4 s; the next one (4 s) would not.
        assert clock.sleeps == [1.0, 2.0]
        assert clock.now - started == 3.0
        assert len(api.hits) == 4
        assert "kept answering HTTP 500" in str(err.value)
        assert "(in 4s) would pass the 4s time limit" in str(err.value)


def test_refused_connection_is_one_line(clock):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    with pytest.raises(ApiError) as err:
        hetzner_api.probe(_client(url, deadline_s=5), url)
    msg = str(err.value)
    assert "connection refused" in msg and "\n" not in msg and TOKEN not in msg
    assert clock.sleeps == [1.0]       # connect=2: three attempts, one real wait


@pytest.mark.parametrize("status,code,expect", [
    (401, "unauthorized", "401 unauthorized"),
    (403, "forbidden", "403 forbidden"),
])
@responses.activate
def test_auth_failures(status, code, expect):
    url = "http://api.test/v1"
    responses.get(f"{url}/locations", status=status,
                  json={"error": {"code": code, "message": "nope", "details": {}}})
    with pytest.raises(ApiError) as err:
        hetzner_api.probe(_client(url), url)
    assert expect in str(err.value)
    assert TOKEN not in str(err.value)
    assert len(responses.calls) == 1   # never retried


@responses.activate
def test_timeout_is_one_line():
    url = "http://api.test/v1"
    responses.get(f"{url}/locations", body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(ApiError) as err:
        hetzner_api.probe(_client(url, timeout=(2, 7)), url)
    assert "did not answer within 7s" in str(err.value)


@responses.activate
def test_dns_failure_is_one_line():
    url = "http://api.hetzner-deploy.invalid/v1"
    cause = NameResolutionError("api.hetzner-deploy.invalid", None,
                                OSError("[Errno -2] Name or service not known"))
    responses.get(f"{url}/locations", body=requests.exceptions.ConnectionError(
        MaxRetryError(None, f"{url}/locations", cause)))
    with pytest.raises(ApiError) as err:
        hetzner_api.probe(_client(url), url)
    assert str(err.value) == "API check: cannot resolve the API host api.hetzner-deploy.invalid (DNS failure)"


@responses.activate
def test_non_json_answer_is_one_line():
    url = "http://api.test/v1"
    responses.get(f"{url}/locations", status=502, body="<html>bad gateway</html>")
    with pytest.raises(ApiError) as err:
        hetzner_api.probe(_client(url, deadline_s=5), url)
    assert "502" in str(err.value)


def test_no_token_refused_before_any_request():
    with pytest.raises(ApiError, match="no API token"):
        hetzner_api.open_client("http://127.0.0.1:9/v1", "")


def test_token_sent_only_as_bearer_header():
    with scripted_api() as api:
        api.answer("/locations", 200, LOCATIONS)
        hetzner_api.probe(_client(api.url), api.url)
        assert api.auth_headers == [f"Bearer {TOKEN}"]


def test_slow_answers_are_cut_at_the_deadline(clock, monkeypatch):
    # A server that accepts and then never answers: only the deadline ends the wait.
    sent_timeouts = []
    send = requests.adapters.HTTPAdapter.send

    def spy(self, request, **kw):
        sent_timeouts.append(kw["timeout"])
        return send(self, request, **kw)
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", spy)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    try:
        client = _client(url, deadline_s=2, timeout=(5, 60))
        clock.now += 1.9    # 0.1 s of the 2 s budget left
        with pytest.raises(ApiError) as err:
            hetzner_api.probe(client, url)
        # Both timeouts are cut from (5, 60) to what is left of the budget.
        assert sent_timeouts == [(pytest.approx(0.1), pytest.approx(0.1))]
        assert str(err.value) == (f"API check: API at {hetzner_api.host_of(url)} "
                                  "did not answer within 60s (timeout)")
        assert _accepted(listener) == 2    # the first try and one read retry
        # Once the budget is spent, the next call fails without connecting at all.
        clock.now += 0.1
        with pytest.raises(ApiError, match="time limit ran out"):
            hetzner_api.probe(client, url)
        assert _accepted(listener) == 0
        assert clock.sleeps == []
    finally:
        listener.close()


def _accepted(listener: socket.socket) -> int:
    """How many connections wait in the listener's queue (taken and closed)."""
    listener.setblocking(False)
    count = 0
    while True:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1

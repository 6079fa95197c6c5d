"""Time in the emulator, driven by a hand-moved clock (never by sleeping):
actions take `action_seconds`, a new server is `initializing` until its
create action is done, a resource with a running action is `locked`, and the
per-token rate limit counts down to `rate_limit_exceeded`."""
from __future__ import annotations

import pytest
from hcloud import APIException

from sandbox.emulator import make_server
from sandbox.emulator.timing import ManualClock, action_seconds_from_env, rate_limit_from_env

from .conftest import start_emulator

START = 1_800_000_000.0


@pytest.fixture
def clock():
    return ManualClock(START)


@pytest.fixture
def slow(tmp_path, clock):
    """Actions take 30 s on `clock`."""
    running = start_emulator(tmp_path / "slow", action_seconds=30, clock=clock)
    try:
        yield running
    finally:
        running.server.close()


def create(emu, name="web", **extra):
    body = dict({"name": name, "server_type": "cpx22", "image": "debian-12", "location": "nbg1"}, **extra)
    status, payload, _ = emu.api("POST", "/servers", body)
    assert status == 201, payload
    return payload


def test_a_server_initializes_for_the_action_time(slow, clock):
    made = create(slow)
    sid, aid = made["server"]["id"], made["action"]["id"]
    assert made["server"]["status"] == "initializing" and made["action"]["status"] == "running"
    clock.advance(29)
    assert slow.api("GET", f"/servers/{sid}")[1]["server"]["status"] == "initializing"
    action = slow.api("GET", f"/actions/{aid}")[1]["action"]
    assert action["status"] == "running" and 0 < action["progress"] < 100
    clock.advance(1)
    assert slow.api("GET", f"/servers/{sid}")[1]["server"]["status"] == "running"
    action = slow.api("GET", f"/actions/{aid}")[1]["action"]
    assert action["status"] == "success" and action["progress"] == 100
    assert action["finished"] == "2027-01-15T08:00:30+00:00"  # START + 30 s


@pytest.mark.parametrize("path,body,during,after", [
    ("poweroff", None, "stopping", "off"),
    ("shutdown", None, "stopping", "off"),
    ("rebuild", {"image": "ubuntu-24.04"}, "rebuilding", "running"),
    ("reboot", None, "running", "running"),
])
def test_transitional_states_while_an_action_runs(slow, clock, path, body, during, after):
    sid = create(slow)["server"]["id"]
    clock.advance(30)
    assert slow.api("POST", f"/servers/{sid}/actions/{path}", body)[0] == 201
    assert slow.api("GET", f"/servers/{sid}")[1]["server"]["status"] == during
    clock.advance(30)
    assert slow.api("GET", f"/servers/{sid}")[1]["server"]["status"] == after


def test_start_and_rescale_states(slow, clock):
    sid = create(slow, start_after_create=False)["server"]["id"]
    clock.advance(30)
    assert slow.api("POST", f"/servers/{sid}/actions/change_type",
                    {"server_type": "cpx32", "upgrade_disk": False})[0] == 201
    assert slow.api("GET", f"/servers/{sid}")[1]["server"]["status"] == "migrating"
    clock.advance(30)
    assert slow.api("POST", f"/servers/{sid}/actions/poweron")[0] == 201
    assert slow.api("GET", f"/servers/{sid}")[1]["server"]["status"] == "starting"
    clock.advance(30)
    assert slow.api("GET", f"/servers/{sid}")[1]["server"]["status"] == "running"


def test_stopped_after_create_when_asked(slow, clock):
    sid = create(slow, start_after_create=False)["server"]["id"]
    clock.advance(30)
    assert slow.api("GET", f"/servers/{sid}")[1]["server"]["status"] == "off"


def test_a_second_action_on_a_busy_resource_is_locked(slow, clock):
    vid = slow.api("POST", "/volumes", {"name": "v", "size": 10, "location": "nbg1"})[1]["volume"]["id"]
    clock.advance(30)  # the volume is ready
    sid = create(slow)["server"]["id"]
    for method, path, body in (("POST", f"/servers/{sid}/actions/poweroff", None),
                               ("POST", f"/servers/{sid}/actions/change_protection",
                                {"delete": True, "rebuild": True}),
                               ("DELETE", f"/servers/{sid}", None)):
        status, err, _ = slow.api(method, path, body)
        assert (status, err["error"]["code"]) == (423, "locked"), path
    # Attaching a free volume to the busy server is locked too, and undone.
    status, err, _ = slow.api("POST", f"/volumes/{vid}/actions/attach", {"server": sid})
    assert (status, err["error"]["code"]) == (423, "locked")
    assert slow.api("GET", f"/volumes/{vid}")[1]["volume"]["server"] is None
    clock.advance(30)
    assert slow.api("POST", f"/servers/{sid}/actions/poweroff")[0] == 201
    assert slow.api("POST", f"/servers/{sid}/actions/poweron")[0] == 423  # the poweroff still runs
    clock.advance(30)
    assert slow.api("POST", f"/servers/{sid}/actions/poweron")[0] == 201


def test_reads_and_renames_are_not_locked(slow):
    sid = create(slow)["server"]["id"]
    assert slow.api("GET", f"/servers/{sid}")[0] == 200
    assert slow.api("PUT", f"/servers/{sid}", {"name": "renamed"})[0] == 200


def test_the_official_client_waits_for_timed_actions(tmp_path):
    """hcloud-python polls until the action is done; with a real (short) time
    the create → power-off sequence works through it."""
    emu = start_emulator(tmp_path / "short", action_seconds=0.05)
    try:
        from hcloud.images import Image
        from hcloud.server_types import ServerType
        client = emu.client(poll_interval=0.02)
        made = client.servers.create(name="w", server_type=ServerType(name="cpx22"), image=Image(name="debian-12"))
        made.action.wait_until_finished()
        assert client.servers.get_by_id(made.server.id).status == "running"
        client.servers.power_off(made.server).wait_until_finished()
        assert client.servers.get_by_id(made.server.id).status == "off"
    finally:
        emu.server.close()


def test_with_zero_time_actions_finish_when_first_read(emulator):
    made = create(emulator)
    assert made["server"]["status"] == "initializing" and made["action"]["status"] == "running"
    assert emulator.api("GET", f"/actions/{made['action']['id']}")[1]["action"]["status"] == "success"
    assert emulator.api("POST", f"/servers/{made['server']['id']}/actions/poweroff")[0] == 201


# -- rate limit --------------------------------------------------------------
def test_rate_limit_counts_down_per_token_and_refills(tmp_path, clock):
    emu = start_emulator(tmp_path / "rl", rate_limit=3, clock=clock)
    try:
        seen = []
        for _ in range(3):
            status, _, headers = emu.api("GET", "/servers")
            assert status == 200
            seen.append((headers["RateLimit-Limit"], headers["RateLimit-Remaining"], headers["RateLimit-Reset"]))
        # 3 an hour: one request back every 1200 s; full again 3600 s after three were used.
        assert seen == [("3", "2", str(int(START) + 1200)), ("3", "1", str(int(START) + 2400)),
                        ("3", "0", str(int(START) + 3600))]
        status, err, headers = emu.api("GET", "/servers")
        assert (status, err["error"]["code"], headers["RateLimit-Remaining"]) == (429, "rate_limit_exceeded", "0")
        # Another token has its own full bucket (and is refused: it is not the project's).
        status, _, headers = emu.request("GET", "/v1/servers", token="other")
        assert (status, headers["RateLimit-Remaining"]) == (401, "2")
        clock.advance(1200)
        status, _, headers = emu.api("GET", "/servers")
        assert (status, headers["RateLimit-Remaining"]) == (200, "0")
        assert emu.api("GET", "/servers")[0] == 429
        # The admin side is not rate limited.
        assert emu.request("GET", "/_sandbox/state")[0] == 200
    finally:
        emu.server.close()


def test_the_official_client_sees_rate_limit_exceeded(tmp_path, clock):
    emu = start_emulator(tmp_path / "rl", rate_limit=1, clock=clock)
    try:
        client = emu.client()
        client._client._retry_max_retries = 0  # the library would otherwise back off and retry
        client.locations.get_all()
        with pytest.raises(APIException) as caught:
            client.locations.get_all()
        assert caught.value.code == "rate_limit_exceeded"
    finally:
        emu.server.close()


def test_default_limit_is_hetzners_3600_an_hour(emulator):
    _, _, headers = emulator.api("GET", "/locations")
    assert headers["RateLimit-Limit"] == "3600" and headers["RateLimit-Remaining"] == "3599"


# -- settings ----------------------------------------------------------------
@pytest.mark.parametrize("env,seconds,limit", [({}, 0.0, 3600),
                                               ({"HCLOUD_SANDBOX_ACTION_SECONDS": "2.5",
                                                 "HCLOUD_SANDBOX_RATE_LIMIT": "100"}, 2.5, 100)])
def test_settings_from_the_environment(monkeypatch, env, seconds, limit):
    for key in ("HCLOUD_SANDBOX_ACTION_SECONDS", "HCLOUD_SANDBOX_RATE_LIMIT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert (action_seconds_from_env(), rate_limit_from_env()) == (seconds, limit)


@pytest.mark.parametrize("key,value", [("HCLOUD_SANDBOX_ACTION_SECONDS", "-1"),
                                       ("HCLOUD_SANDBOX_ACTION_SECONDS", "soon"),
                                       ("HCLOUD_SANDBOX_ACTION_SECONDS", "nan"),
                                       ("HCLOUD_SANDBOX_RATE_LIMIT", "0")])
def test_bad_settings_are_one_clear_error(monkeypatch, key, value):
    monkeypatch.setenv(key, value)
    with pytest.raises(ValueError, match=key):
        action_seconds_from_env() if "ACTION" in key else rate_limit_from_env()


def test_make_server_refuses_nonsense(tmp_path):
    with pytest.raises(ValueError, match="action_seconds"):
        make_server(tmp_path, action_seconds=-1)
    with pytest.raises(ValueError, match="rate_limit"):
        make_server(tmp_path, rate_limit=0)


def test_made_up_tokens_do_not_pile_up(clock):
    from sandbox.emulator.timing import MAX_BUCKETS, RateLimiter
    limiter = RateLimiter(3600, clock)
    assert limiter.take("real")["RateLimit-Remaining"] == 3599
    for i in range(MAX_BUCKETS + 50):
        limiter.take(f"made-up-{i}")
        clock.advance(1.0)  # one second refills one request: the made-up buckets are full again
    assert len(limiter._buckets) <= MAX_BUCKETS
    assert limiter.take("real")["RateLimit-Remaining"] == 3599  # full again after 1050 s, pruned or not

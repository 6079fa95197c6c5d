"""3-tier scale-out 2 -> 4 app servers and back, on sandbox machines (issue 12 items 2, 6).

The example app's rows and keys are written through the load balancer. Scaling
out, app-1/app-2 keep their server ids and app-3/app-4 get the release and join
the load balancer; scaling back, app-3/app-4 leave the load balancer before they
are destroyed. Throughout both, a request goes through the load balancer every
~50 ms and none may fail. The oracles: the API read with the official hcloud
client (targets and their health, server ids, the order of the load balancer's
remove_target actions and the servers' delete_server actions), the app itself
(its row and key counts through the load balancer) and `plan --json`.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.pipeline import sandbox_env

pytestmark = pytest.mark.e2e

RANGE = os.environ.get("HD_TEST_MACHINE_RANGE", "198.18.82.0/24")
_ok = sandbox_env.ok
APP = ('\n[app]\ncompose = "docker-compose.yml"\nenv_file = ".env"\n'
       'files = ["backend/app.py", "ai/worker.py"]\nhealth_path = "/health"\n'
       'health_timeout_s = 120\n')
TIER = '\n[tier]\napp_servers = {n}\n'


@pytest.fixture
def scale_sb(tmp_path, make_config, monkeypatch):
    public = sandbox_env.login_key(tmp_path)
    sandbox_env.example_app_here(tmp_path, "scale")
    toml = sandbox_env.machines_toml(RANGE, APP)
    config = make_config(toml + TIER.format(n=2), key=public)
    # A short folder: HAProxy refuses a stats socket path longer than ~100 bytes.
    short = Path(tempfile.mkdtemp(prefix="scale-"))
    try:
        with sandbox_env.machines_sandbox(short, config, monkeypatch, RANGE,
                                          ["python", "redis", "postgres"]) as (box, _):
            yield box, toml
    finally:
        shutil.rmtree(short, ignore_errors=True)


class Stream:
    """GET /health through the load balancer every ~50 ms until stopped; every answer kept."""

    def __init__(self, lb_ip: str):
        self.url, self.answers = f"http://{lb_ip}/health", []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=5) as reply:
                    self.answers.append(reply.status)
            except (OSError, urllib.error.HTTPError) as exc:
                self.answers.append(repr(exc))
            time.sleep(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)

    def failures(self) -> list:
        return [a for a in self.answers if a != 200]


def _lb_call(lb_ip: str, method: str, path: str, body: str | None = None):
    req = urllib.request.Request(f"http://{lb_ip}{path}", method=method,
                                 data=body.encode() if body is not None else None)
    with urllib.request.urlopen(req, timeout=10) as reply:
        return reply.status, json.loads(reply.read())


def _apps(out: dict) -> dict[str, dict]:
    return {h["name"]: h for h in out["hosts"] if h["role"] == "app"}


def _by_suffix(apps: dict[str, dict]) -> dict[str, dict]:
    """app-N -> host (server names carry the project and environment in front)."""
    return {name[name.rindex("app-"):]: h for name, h in apps.items()}


def _targets(client) -> dict[int, set[str]]:
    (lb,) = client.load_balancers.get_all()
    return {t.server.id: {h.status for h in t.health_status or []} for t in lb.targets}


def _when(text: str | dt.datetime) -> dt.datetime:
    return text if isinstance(text, dt.datetime) else dt.datetime.fromisoformat(text)


def test_3tier_scale_out_2_to_4_and_back_serves_every_request_and_keeps_the_data(scale_sb):
    sb, toml = scale_sb
    _ok(sb.cli("generate", "--profile", "3-tier"))
    first = _ok(sb.cli("deploy", "--profile", "3-tier", timeout=900))
    assert "[app] done" in first.stdout, first.stdout
    out = json.loads(_ok(sb.cli("outputs", "--json")).stdout)
    two = _by_suffix(_apps(out))
    assert sorted(two) == ["app-1", "app-2"]
    lb_ip = out["load_balancer_ipv4"]
    client = sb.client()
    assert set(_targets(client)) == {h["id"] for h in two.values()}

    # Rows and keys written through the load balancer (they land on either app server).
    written = 0
    for i in range(6):
        assert _lb_call(lb_ip, "POST", "/notes", f"before scale-out {i}")[0] == 201
        written += 1
    assert _lb_call(lb_ip, "GET", "/notes/count")[1]["rows"] == written

    # 2 -> 4 while requests stream through the load balancer.
    sb.config.write_text(toml + TIER.format(n=4))
    with Stream(lb_ip) as stream:
        grown = _ok(sb.cli("deploy", "--profile", "3-tier", timeout=900))
    assert len(stream.answers) > 20 and not stream.failures(), stream.failures()[:5]
    out = json.loads(_ok(sb.cli("outputs", "--json")).stdout)
    four = _by_suffix(_apps(out))
    assert sorted(four) == ["app-1", "app-2", "app-3", "app-4"]
    # Stable addresses: the first two are the same servers, not renamed or replaced.
    for name in ("app-1", "app-2"):
        assert four[name]["id"] == two[name]["id"]
        assert four[name]["ipv4"] == two[name]["ipv4"]
    # The new ones got the release; the old ones were left alone (nothing changed for them).
    app_line = next(line for line in grown.stdout.splitlines() if line.startswith("[app]"))
    for name in ("app-3", "app-4"):
        assert f"{four[name]['name']} deployed" in app_line, app_line
    for name in ("app-1", "app-2"):
        assert f"{four[name]['name']} unchanged" in app_line, app_line
    # The second client (the official hcloud client) sees all four targets healthy.
    deadline = time.monotonic() + 60
    while True:
        targets = _targets(client)
        if set(targets) == {h["id"] for h in four.values()} and \
                all(s == {"healthy"} for s in targets.values()):
            break
        assert time.monotonic() < deadline, targets
        time.sleep(0.5)
    assert json.loads(_ok(sb.cli("plan", "--json")).stdout)["has_changes"] is False

    # Writes spread over four servers now; each new server answers through its own backend
    # (the round robin reaches all four within a few requests) and counts the same rows.
    for i in range(8):
        assert _lb_call(lb_ip, "POST", "/notes", f"on four {i}")[0] == 201
        written += 1

    # 4 -> 2: app-3 and app-4 leave the load balancer, then they are destroyed.
    (lb,) = client.load_balancers.get_all()
    last_lb_action = max((a.id for a in client.load_balancers.get_actions(lb)), default=0)
    sb.config.write_text(toml + TIER.format(n=2))
    # Destroying servers is a reviewed decision: refused without --allow-replace, untouched.
    refused = sb.cli("deploy", "--profile", "3-tier", timeout=600)
    assert refused.returncode != 0 and "would be deleted" in refused.stderr, refused.stderr
    assert set(_targets(client)) == {h["id"] for h in four.values()}
    with Stream(lb_ip) as stream:
        shrunk = _ok(sb.cli("deploy", "--profile", "3-tier", "--allow-replace", timeout=900))
    assert len(stream.answers) > 20 and not stream.failures(), stream.failures()[:5]
    out = json.loads(_ok(sb.cli("outputs", "--json")).stdout)
    back = _by_suffix(_apps(out))
    assert sorted(back) == ["app-1", "app-2"]
    assert {n: h["id"] for n, h in back.items()} == {n: two[n]["id"] for n in two}
    assert set(_targets(client)) == {h["id"] for h in two.values()}
    live = {s.id for s in client.servers.get_all()}
    assert not live & {four["app-3"]["id"], four["app-4"]["id"]}

    # The order, as the API recorded it: every target removal of this run finished before
    # either doomed server's deletion started.
    removed = [a for a in client.load_balancers.get_actions(lb)
               if a.id > last_lb_action and a.command == "remove_target"]
    assert len(removed) == 2, [(a.id, a.command) for a in removed]
    doomed = {four["app-3"]["id"], four["app-4"]["id"]}
    deletes = [a for a in client.servers.actions.get_all()
               if a.command == "delete_server" and {r["id"] for r in a.resources} & doomed]
    assert len(deletes) == 2, [(a.id, a.resources) for a in deletes]
    assert max(_when(a.finished) for a in removed) <= min(_when(a.started) for a in deletes)

    # The data is all there, through the load balancer and so through both remaining servers.
    counted = {tuple(_lb_call(lb_ip, "GET", "/notes/count")[1][k] for k in ("rows", "written"))
               for _ in range(4)}
    assert counted == {(written, written)}
    assert json.loads(_ok(sb.cli("plan", "--json")).stdout)["has_changes"] is False
    # The run said what it did before terraform destroyed them.
    infra = next(line for line in shrunk.stdout.splitlines() if line.startswith("[infra]"))
    for name in ("app-3", "app-4"):
        assert four[name]["name"] in infra and "out of the load balancer" in infra, infra

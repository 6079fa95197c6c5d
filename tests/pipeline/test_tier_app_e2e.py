"""The example app on the 3-tier profile, on sandbox machines (issue 12 item 3).

`deploy --profile 3-tier` puts PostgreSQL and Redis on the db server, published
only on its private IP, and the backend on both app servers with the db's
private IP in their .env. The oracles: the app itself (a note written through
app-1 is counted through app-2: one database, over the private network), what
the db machine's kernel reports listening (`ss`), a TCP connect made from an app
machine, the API's load balancer targets, and `plan --json` (Terraform's state
still matches after the rolling release took targets out and put them back).
"""
from __future__ import annotations

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

from remote import hostkeys
from tests.pipeline import sandbox_env
from tests.sandbox.machines.machinekit import ssh

pytestmark = pytest.mark.e2e

RANGE = os.environ.get("HD_TEST_MACHINE_RANGE", "198.18.83.0/24")
_ok = sandbox_env.ok
APP = ('\n[app]\ncompose = "docker-compose.yml"\nenv_file = ".env"\n'
       'files = ["backend/app.py", "ai/worker.py"]\nhealth_path = "{health}"\n'
       'health_timeout_s = {timeout}\n')


@pytest.fixture
def tier_sb(tmp_path, make_config, monkeypatch):
    public = sandbox_env.login_key(tmp_path)
    sandbox_env.example_app_here(tmp_path, "tiers")
    toml = sandbox_env.machines_toml(RANGE, APP.format(health="/health", timeout=120)
                                     + '\n[backup]\nschedule = "*-*-* 03:15:00"\n')
    config = make_config(toml, key=public)
    # The sandbox under a short folder: HAProxy's stats socket lives there, and a Unix
    # socket path longer than ~100 bytes makes HAProxy refuse its config (pytest's
    # tmp_path with this test's name is too long for it).
    short = Path(tempfile.mkdtemp(prefix="tier-"))
    try:
        with sandbox_env.machines_sandbox(short, config, monkeypatch, RANGE,
                                          ["python", "redis", "postgres"]) as (box, _):
            yield box, tmp_path, toml
    finally:
        shutil.rmtree(short, ignore_errors=True)


def _run_on(host: dict, home, command: str):
    key = (home / "id_test").read_text()
    return ssh(host["ipv4"], command, key, hostkeys.load_public("production", host["name"]))


# The app servers' public port 80 answers the load balancer only (their firewall), so the
# test asks each server's own port 80 from the server itself: "through app-1" is app-1's
# backend, nobody else's.
HTTP = ("python3 -c 'import sys, urllib.request, urllib.error\n"
        "r = urllib.request.Request(\"http://127.0.0.1:80\" + sys.argv[2], method=sys.argv[1],"
        " data=sys.argv[3].encode() if len(sys.argv) > 3 else None)\n"
        "try:\n    a = urllib.request.urlopen(r, timeout=5)\n"
        "except urllib.error.HTTPError as e:\n    a = e\n"
        "print(a.status); print(a.read().decode())' ")


def _http_on(host, home, method: str, path: str, body: str | None = None):
    import shlex
    argv = [method, path] + ([body] if body is not None else [])
    done = _run_on(host, home, HTTP + " ".join(shlex.quote(a) for a in argv))
    assert done.exit_status == 0, done.stderr
    status, text = done.stdout.split("\n", 1)
    return int(status), json.loads(text)


def _current(host, home) -> str:
    return _run_on(host, home, "readlink /opt/autoscale-ai/current").stdout.strip()


def test_3tier_split_rolling_release_noop_and_a_broken_release_rolled_back(tier_sb):
    sb, home, toml = tier_sb
    _ok(sb.cli("generate", "--profile", "3-tier"))
    first = _ok(sb.cli("deploy", "--profile", "3-tier", timeout=900))
    assert "[app] done" in first.stdout, first.stdout
    secrets = [line.split("=", 1)[1] for line in (home / ".env").read_text().splitlines()
               if line.endswith(tuple("0123456789abcdef")) and "PASSWORD=" in line]
    assert len(secrets) == 2
    assert not any(v in first.stdout + first.stderr for v in secrets)
    out = json.loads(_ok(sb.cli("outputs", "--json")).stdout)
    db = next(h for h in out["hosts"] if h["role"] == "db")
    app1, app2 = sorted((h for h in out["hosts"] if h["role"] == "app"), key=lambda h: h["name"])
    # The db server first, then the app servers one at a time.
    said = first.stdout[first.stdout.index("[app] done"):]
    assert said.index(db["name"]) < said.index(app1["name"]) < said.index(app2["name"])

    for h in (app1, app2):
        status, body = _http_on(h, home, "GET", "/health")
        assert (status, body["checks"]) == (200, {"postgres": "ok", "redis": "ok"})
    assert _http_on(app1, home, "POST", "/notes", "through app-1")[0] == 201
    assert _http_on(app2, home, "GET", "/notes/count") == \
        (200, {"rows": 1, "written": 1, "last": "through app-1"})

    # Backups go where the data services run: the db server.
    assert f"{db['name']} backup units written" in first.stdout, first.stdout
    assert f"{app1['name']} backup" not in first.stdout
    where = ["--stacks-dir", str(sb.stacks), "--config", str(sb.config)]
    _ok(sb.cli("backup", "now", *where, timeout=300))
    listed = json.loads(_ok(sb.cli("backup", "list", "--json", *where)).stdout)
    assert list(listed) == [db["name"]] and len(listed[db["name"]]["local"]) == 1
    from remote.backup_commands import DATA as backup_data
    manifest = _run_on(db, home, f"cat {backup_data}/*/manifest.json").stdout
    assert json.loads(manifest)["postgres"]["counts"] == {"public.notes": 1}

    # PostgreSQL and Redis listen on the db's private IP only, and an app machine reaches them.
    listening = _run_on(db, home, "ss -ltnH").stdout
    for port in (5432, 6379):
        local = {line.split()[3] for line in listening.splitlines()
                 if line.split()[3].endswith(f":{port}")}
        assert local == {f"{db['private_ip']}:{port}"}, listening
    probe = ("python3 -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])),"
             " 3).close()' ")
    for port in (5432, 6379):
        assert _run_on(app1, home, probe + f"{db['private_ip']} {port}").exit_status == 0
        assert _run_on(app1, home, probe + f"{db['ipv4']} {port}").exit_status != 0
    # The app servers run no database of their own.
    ps = _run_on(app1, home, "docker ps --format '{{.Names}}'").stdout
    assert "postgres" not in ps and "redis" not in ps and "backend" in ps

    # verify --after checks every role's host, the db's public 5432/6379 above all.
    verified = sb.cli("verify", "--after", "--json", "--config", str(sb.config),
                      "--profile", "3-tier")
    checks = json.loads(verified.stdout)["checks"]
    rows = {c["name"]: c["status"] for c in checks if c["section"] == "after"}
    for h in (db, app1, app2):
        for name in (f"{h['name']}: containers running", f"{h['name']}: port 5432 closed "
                     "from outside", f"{h['name']}: .env mode 0600 root"):
            assert rows.get(name) == "ok", (name, rows)

    # A second deploy changes nothing anywhere, and Terraform's state still matches the API.
    releases = {h["name"]: _current(h, home) for h in (db, app1, app2)}
    initial = dict(releases)
    second = _ok(sb.cli("deploy", "--profile", "3-tier", timeout=600))
    app_line = next(line for line in second.stdout.splitlines() if line.startswith("[app]"))
    assert app_line.count(" unchanged ") == 3 and "deployed" not in app_line, second.stdout
    assert {h["name"]: _current(h, home) for h in (db, app1, app2)} == releases
    assert json.loads(_ok(sb.cli("plan", "--json")).stdout)["has_changes"] is False
    (lb,) = sb.client().load_balancers.get_all()
    assert {t.server.id for t in lb.targets} == {app1["id"], app2["id"]}

    # A run cut off while app-1 was out of the load balancer (its target removed through the
    # API, as the rollout does): the next deploy puts it back and Terraform sees no change.
    from hcloud.load_balancers.domain import LoadBalancerTarget
    from hcloud.servers.domain import Server
    client = sb.client()
    client.load_balancers.remove_target(lb, LoadBalancerTarget(
        type="server", server=Server(id=app1["id"]), use_private_ip=True)).wait_until_finished()
    assert json.loads(_ok(sb.cli("plan", "--json")).stdout)["has_changes"] is True
    _ok(sb.cli("deploy", "--profile", "3-tier", timeout=600))
    (lb,) = client.load_balancers.get_all()
    assert {t.server.id for t in lb.targets} == {app1["id"], app2["id"]}
    assert json.loads(_ok(sb.cli("plan", "--json")).stdout)["has_changes"] is False

    # A rolling release of new app code: the load balancer keeps answering a request every
    # ~50 ms throughout, and the db server is not touched (its release does not change).
    lb_ip = out["load_balancer_ipv4"]
    answers, stop = [], threading.Event()

    def poll():
        while not stop.is_set():
            try:
                with urllib.request.urlopen(f"http://{lb_ip}/health", timeout=5) as reply:
                    answers.append(reply.status)
            except (OSError, urllib.error.HTTPError) as exc:
                answers.append(repr(exc))
            time.sleep(0.05)
    before = {h["name"]: _current(h, home) for h in (db, app1, app2)}
    code = home / "backend" / "app.py"
    code.write_text(code.read_text() + "# a new release\n")
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        rolled = _ok(sb.cli("deploy", "--profile", "3-tier", timeout=600))
    finally:
        stop.set()
        poller.join(10)
    assert rolled.stdout.count(" deployed ") == 2, rolled.stdout
    assert len(answers) > 20 and set(answers) == {200}, [a for a in answers if a != 200][:5]
    releases = {h["name"]: _current(h, home) for h in (db, app1, app2)}
    assert releases[db["name"]] == before[db["name"]]
    assert releases[app1["name"]] != before[app1["name"]]

    # A broken release: a new .env and a health path that answers 404. app-1 fails its gate
    # and goes back to its release; app-2 is never touched; the db keeps its release.
    with open(home / ".env", "a") as fh:
        fh.write("BROKEN=1\n")
    sb.config.write_text(toml.replace(APP.format(health="/health", timeout=120),
                                      APP.format(health="/missing", timeout=10)))
    broken = sb.cli("deploy", "--profile", "3-tier", timeout=600)
    assert broken.returncode == 8, broken.stdout + broken.stderr
    assert app1["name"] in broken.stderr and "rolling release stopped" in broken.stderr
    assert f"not updated: {app2['name']}" in broken.stderr
    assert not any(v in broken.stdout + broken.stderr for v in secrets)
    # The db server's .env changed too, so it got (and keeps) a release of its own first.
    now = {h["name"]: _current(h, home) for h in (db, app1, app2)}
    assert now[app1["name"]] == releases[app1["name"]]
    assert now[app2["name"]] == releases[app2["name"]]
    assert now[db["name"]] != releases[db["name"]]
    assert _http_on(app1, home, "GET", "/health")[0] == 200
    (lb,) = sb.client().load_balancers.get_all()
    assert {t.server.id for t in lb.targets} == {app1["id"], app2["id"]}
    assert json.loads(_ok(sb.cli("plan", "--json")).stdout)["has_changes"] is False

    # `app rollback` on 3-tier: each app server, out of the load balancer while it restarts,
    # back to the release before (the first one); the targets end as Terraform has them.
    sb.config.write_text(toml)
    back = _ok(sb.cli("app", "rollback", "--config", str(sb.config), "--stacks-dir",
                      str(sb.stacks), timeout=600))
    assert back.stdout.count("rolled back to") == 2, back.stdout
    for h in (app1, app2):
        assert _current(h, home) == initial[h["name"]]
        assert _http_on(h, home, "GET", "/notes/count")[1]["rows"] == 1
    (lb,) = sb.client().load_balancers.get_all()
    assert {t.server.id for t in lb.targets} == {app1["id"], app2["id"]}
    assert json.loads(_ok(sb.cli("plan", "--json")).stdout)["has_changes"] is False

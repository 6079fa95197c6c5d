"""The migration off the old host, end to end on the sandbox, as the README tells a user to run it.

The "old host" is a second sandbox machine (made through the API, booted by
its cloud-init) running the example app with PostgreSQL and Redis published,
as Railway publishes them, and with data written through the app. Then:
`migrate ttl`, `deploy` (the names stay on the old host), `migrate import`
(every row and key on the new server), one more write on the old host,
`migrate cutover` (final sync, DNS moved, HTTPS checked), and `migrate rollback`
(the zone exactly as before the cut-over, the CNAME included). Oracles: the
registrar's own listing, the sandbox's authoritative DNS server, the app's
answers on each machine."""
from __future__ import annotations

import json
import os
import textwrap

import pytest
import yaml

from sandbox.registrar import team_zone
from tests.examples.appkit import http, wait_health
from tests.pipeline import sandbox_env
from tests.pipeline.test_dns_phase_e2e import _admin, _ask, _records

pytestmark = pytest.mark.e2e

RANGE = os.environ.get("HD_TEST_MACHINE_RANGE", "198.18.79.0/24")
ZONE = "example.com"
OLD_PG, OLD_REDIS = "old-pg-Secret-41c2", "old-redis-Secret-77d0"
NEW_PG, NEW_REDIS = "new-pg-Secret-0b9e", "new-redis-Secret-5a13"
APP_DIR = sandbox_env.REPO / "examples" / "app"
_ok = sandbox_env.ok


def _env(pg: str, redis: str, project: str = "old") -> str:
    return (f"PROJECT={project}\nPOSTGRES_USER=app\nPOSTGRES_DB=app\nPOSTGRES_PASSWORD={pg}\n"
            f"REDIS_PASSWORD={redis}\n")


def _old_host_user_data() -> str:
    """cloud-init for the old host: the example app, with its databases published the way a
    PaaS publishes them (a port and a password), started by runcmd."""
    override = {"version": "2.4", "services": {
        "postgres": {"ports": ["5432:5432"], "networks": ["data", "web"]},
        "redis": {"ports": ["6379:6379"], "networks": ["data", "web"]}}}
    files = [("docker-compose.yml", (APP_DIR / "docker-compose.yml").read_text(), "0644"),
             ("published.yml", yaml.safe_dump(override), "0644"),
             ("backend/app.py", (APP_DIR / "backend" / "app.py").read_text(), "0644"),
             ("ai/worker.py", (APP_DIR / "ai" / "worker.py").read_text(), "0644"),
             (".env", _env(OLD_PG, OLD_REDIS), "0600")]
    doc = {"write_files": [{"path": f"/opt/old/{name}", "content": text, "permissions": mode}
                           for name, text, mode in files],
           "runcmd": [["docker", "compose", "--project-name", "old", "--project-directory",
                       "/opt/old", "-f", "/opt/old/docker-compose.yml", "-f",
                       "/opt/old/published.yml", "--env-file", "/opt/old/.env", "up", "-d"]]}
    return "#cloud-config\n" + yaml.safe_dump(doc)


@pytest.fixture
def mig_sb(tmp_path, make_config, monkeypatch):
    public = sandbox_env.login_key(tmp_path)
    sandbox_env.example_app(tmp_path / "app", _env(NEW_PG, NEW_REDIS, "example"))
    config = make_config(sandbox_env.machines_toml(RANGE, textwrap.dedent('''
        [app]
        compose = "app/docker-compose.yml"
        env_file = "app/.env"
        files = ["backend/app.py", "ai/worker.py"]
        health_timeout_s = 120

        [backup]
        schedule = "*-*-* 03:15:00"

        [dns]
        ipv6 = false

        [tls]
        email = "ops@app.example.com"
        upstream = "backend:8000"
        timeout_s = 120
        ''')), key=public)
    with sandbox_env.machines_sandbox(tmp_path, config, monkeypatch, RANGE,
                                      ["python", "redis", "postgres", "caddy"]) as (box, _):
        yield box, tmp_path


def _new_counts(tmp_path, ip) -> tuple[int, str]:
    """Rows in PostgreSQL and the Redis counter on the new server, read in its containers over
    SSH (behind the proxy, plain HTTP by address answers the health path only)."""
    from remote import backup_commands as b
    from tests.ops.test_backup_e2e import _server
    pg = b.exec_in("autoscale-ai", "postgres", b.PG_WRAPPER)
    redis = b.exec_in("autoscale-ai", "redis", b.REDIS_WRAPPER)
    rows = _server(tmp_path, ip, [*pg, "psql", "-d", "app", "-At", "-c",
                                  "SELECT count(*) FROM notes"])
    written = _server(tmp_path, ip, [*redis, "redis-cli", "--no-auth-warning", "GET",
                                     "notes:written"])
    return int(rows.stdout.strip() or 0) if rows.exit_status == 0 else -1, written.stdout.strip()


def _old_host(sb) -> str:
    from hcloud.images import Image
    from hcloud.server_types import ServerType
    made = sb.client().servers.create(name="railway-old", server_type=ServerType(name="cpx22"),
                                      image=Image(name="ubuntu-22.04"),
                                      user_data=_old_host_user_data())
    ip = made.server.public_net.ipv4.ip
    wait_health(ip, timeout=180)
    return ip


def test_migrate_off_the_old_host_then_roll_the_dns_back(mig_sb):
    sb, tmp_path = mig_sb
    where = ["--config", str(sb.config), "--stacks-dir", str(sb.stacks)]
    old_ip = _old_host(sb)
    for note in ("one", "two", "three"):
        assert http(old_ip, "POST", "/notes", note)[0] == 201

    seeded = team_zone(ZONE)
    seeded["hosts"] += [{"name": "app", "type": "A", "address": old_ip, "ttl": 1800},
                        {"name": "api.app", "type": "CNAME", "address": "app.example.com.",
                         "ttl": 1800}]
    _admin(sb, seeded)
    outputs = [_ok(sb.cli("migrate", "ttl", *where))]
    lowered = _records(_admin(sb)[ZONE])
    assert ("api.app", "CNAME", "app.example.com.", 300, 10) in lowered

    _ok(sb.cli("generate", "--profile", "ccx33"))
    deployed = _ok(sb.cli("deploy", "--profile", "ccx33", timeout=600))
    outputs.append(deployed)
    assert "[dns] skipped: a migration is in progress" in deployed.stdout
    assert "[tls] skipped" in deployed.stdout
    new_ip = json.loads(_ok(sb.cli("outputs", "--json")).stdout)["hosts"][0]["ipv4"]
    assert _new_counts(tmp_path, new_ip)[0] in (0, -1)   # no notes yet (maybe no table yet)
    assert _ask(sb, "app.example.com", "A") == [old_ip]

    urls = {"OLD_DATABASE_URL": f"postgresql://app:{OLD_PG}@{old_ip}:5432/app?sslmode=disable",
            "OLD_REDIS_URL": f"redis://:{OLD_REDIS}@{old_ip}:6379"}
    unconfirmed = sb.cli("migrate", "import", *where, env=urls)
    assert unconfirmed.returncode == 7 and "--yes-i-mean production" in unconfirmed.stderr
    imported = _ok(sb.cli("migrate", "import", "--yes-i-mean", "production", *where, env=urls,
                          timeout=600))
    outputs.append(imported)
    assert "3 rows in 1 tables, 2 keys in 1 databases" in imported.stdout
    assert "counts match the old host's" in imported.stdout
    assert _new_counts(tmp_path, new_ip) == (3, "3")
    status = _ok(sb.cli("migrate", "status", *where))
    assert "2 import the data  done" in status.stdout
    assert not list((sb.workdir() / ".work" / "migration" / "import").iterdir())  # dump removed

    # The old host keeps serving until the cut-over; its last write must arrive too.
    assert http(old_ip, "POST", "/notes", "four")[0] == 201
    early = sb.cli("migrate", "cutover", "--yes-i-mean", "production", *where, env=urls)
    assert early.returncode == 7 and "too early" in early.stderr
    sandbox_env.age_recorded_time(
        sb.workdir() / ".work" / "migration" / "migration.json", "ttl_lowered_at", 1801)
    cut = _ok(sb.cli("migrate", "cutover", "--yes-i-mean", "production", *where, env=urls,
                     timeout=900))
    outputs.append(cut)
    assert "final sync: dumped" in cut.stdout and "4 rows in 1 tables" in cut.stdout
    assert "https: 2 name(s) on HTTPS" in cut.stdout
    assert _new_counts(tmp_path, new_ip) == (4, "4")
    assert _ask(sb, "app.example.com", "A") == [new_ip]
    moved = _records(_admin(sb)[ZONE])
    assert [r for r in moved if r[0] in ("app", "api.app")] == [
        ("api.app", "A", new_ip, 300, 10), ("app", "A", new_ip, 300, 10)]

    listing = _ok(sb.cli("rollback", *where))
    assert "(`hetzner-deploy rollback dns`)" in listing.stdout
    back = _ok(sb.cli("migrate", "rollback", *where))
    outputs.append(back)
    assert _records(_admin(sb)[ZONE]) == lowered          # exactly, the CNAME included
    assert _ask(sb, "app.example.com", "A") == [old_ip]
    assert http(old_ip, "GET", "/notes/count")[1]["rows"] == 4  # the old host still serves

    early_finish = sb.cli("migrate", "finish", *where)
    assert early_finish.returncode == 7 and "not cut over" in early_finish.stderr
    for done in outputs:
        text = done.stdout + done.stderr
        for secret in (OLD_PG, OLD_REDIS, NEW_PG, NEW_REDIS):
            assert secret not in text

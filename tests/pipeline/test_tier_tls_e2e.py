"""[tls] on 3-tier, on sandbox machines: one certificate from pebble, served by every app server.

deploy as a user runs it: the names point at the load balancer, which passes 80
and 443 through; the tool orders the certificate (app/certs.py), pebble
validates HTTP-01 through the load balancer on whichever app server it picks,
and every app server serves the same certificate. Oracles: pebble's own root
(fetched from its management port), the certificate each app server's proxy
presents on its own port 443 (asked from the server itself: the app servers'
public 443 answers the load balancer only), the bundle's file mode, and a second
deploy that keeps the same certificate (the servers are its store).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from checks.https import check_name, check_redirect
from remote import hostkeys
from sandbox.acme import issued_root
from tests.pipeline import sandbox_env
from tests.sandbox.machines.machinekit import ssh

pytestmark = pytest.mark.e2e

RANGE = os.environ.get("HD_TEST_MACHINE_RANGE", "198.18.78.0/24")
NAMES = ("app.example.com", "api.app.example.com")
_ok = sandbox_env.ok

# The certificate app-N's proxy presents for a name, from app-N itself (sha256 of its DER).
SERVED = ("python3 -c 'import hashlib, socket, ssl, sys\n"
          "c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); c.check_hostname = False; "
          "c.verify_mode = ssl.CERT_NONE\n"
          "s = c.wrap_socket(socket.create_connection((\"127.0.0.1\", 443), 5), "
          "server_hostname=sys.argv[1])\n"
          "print(hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest())' ")


@pytest.fixture
def tier_tls_sb(tmp_path, make_config, monkeypatch):
    public = sandbox_env.login_key(tmp_path)
    sandbox_env.example_app(tmp_path / "app", "PROJECT=tiers\nPOSTGRES_USER=app\n"
                            "POSTGRES_DB=app\nPOSTGRES_PASSWORD=pg-tier-tls-secret\n"
                            "REDIS_PASSWORD=redis-tier-tls-secret\n")
    config = make_config(sandbox_env.machines_toml(
        RANGE, '\n[app]\ncompose = "app/docker-compose.yml"\nenv_file = "app/.env"\n'
        'files = ["backend/app.py", "ai/worker.py"]\nhealth_timeout_s = 120\n'
        '\n[dns]\nipv6 = false\n\n[tls]\nemail = "ops@app.example.com"\ntimeout_s = 120\n'),
        key=public)
    # A short folder: HAProxy's stats socket path must stay under ~100 bytes.
    short = Path(tempfile.mkdtemp(prefix="tiertls-"))
    try:
        with sandbox_env.machines_sandbox(short, config, monkeypatch, RANGE,
                                          ["python", "redis", "postgres", "caddy"]) as (box, info):
            yield box, info, tmp_path
    finally:
        shutil.rmtree(short, ignore_errors=True)


def _on(host: dict, home: Path, command: str):
    key = (home / "id_test").read_text()
    return ssh(host["ipv4"], command, key, hostkeys.load_public("production", host["name"]))


def _served(apps, home, name) -> dict[str, str]:
    out = {}
    for host in apps:
        done = _on(host, home, SERVED + name)
        assert done.exit_status == 0, done.stderr
        out[host["name"]] = done.stdout.strip()
    return out


def test_3tier_names_on_https_with_one_certificate_on_every_app_server(tier_tls_sb):
    sb, info, home = tier_tls_sb
    _ok(sb.cli("generate", "--profile", "3-tier"))
    deployed = _ok(sb.cli("deploy", "--profile", "3-tier", timeout=900))
    assert "[tls] done: 2 name(s) on HTTPS" in deployed.stdout, deployed.stdout
    assert "certificate ordered" in deployed.stdout, deployed.stdout
    for secret in ("pg-tier-tls-secret", "redis-tier-tls-secret", "PRIVATE KEY"):
        assert secret not in deployed.stdout + deployed.stderr

    out = json.loads(_ok(sb.cli("outputs", "--json")).stdout)
    lb = out["load_balancer_ipv4"]
    apps = [h for h in out["hosts"] if h["role"] == "app"]
    assert len(apps) == 2
    root = issued_root(info.acme["management"], info.acme["ca_file"])
    for name in NAMES:
        # Through the load balancer, several times: it picks a server each time.
        for _ in range(4):
            good = check_name(lb, name, root, "/health")
            assert good.ok and good.issuer.startswith("Pebble"), good
        assert check_redirect(lb, name) is None
        assert not check_name(lb, name, None, "/health").ok     # the system store refuses pebble
    served = {n: _served(apps, home, n) for n in NAMES}
    for name in NAMES:
        assert len(set(served[name].values())) == 1, served    # the same certificate everywhere
    # The key is root's alone, in a folder only root enters; no answer file is left behind.
    for host in apps:
        done = _on(host, home, "stat -c '%a %U' /mnt/data/caddy/certs /mnt/data/caddy/certs/site.pem; "
                               "ls -A /mnt/data/caddy/acme/.well-known/acme-challenge")
        assert done.exit_status == 0, done.stderr
        assert done.stdout.split("\n")[:2] == ["700 root", "600 root"], done.stdout
        assert done.stdout.split("\n")[2:] == [""], done.stdout
    # The db server runs no proxy and holds no certificate.
    db = next(h for h in out["hosts"] if h["role"] == "db")
    assert _on(db, home, "test -e /mnt/data/caddy/certs/site.pem").exit_status == 1

    # A second deploy keeps the certificate: read back from the servers, nothing ordered.
    again = _ok(sb.cli("deploy", "--profile", "3-tier", timeout=900))
    assert "certificate kept" in again.stdout and "on 0 of 2 app server(s) newly" in again.stdout, \
        again.stdout
    assert {n: _served(apps, home, n) for n in NAMES} == served

    # One server loses its copy: the next deploy puts the same certificate back.
    assert _on(apps[1], home, "rm /mnt/data/caddy/certs/site.pem").exit_status == 0
    third = _ok(sb.cli("deploy", "--only", "tls", timeout=600))
    assert "certificate kept" in third.stdout and "on 1 of 2 app server(s) newly" in third.stdout, \
        third.stdout
    assert {n: _served(apps, home, n) for n in NAMES} == served
    digest = hashlib.sha256(_on(apps[0], home, "cat /mnt/data/caddy/certs/site.pem").stdout.encode())
    assert digest.hexdigest() == hashlib.sha256(
        _on(apps[1], home, "cat /mnt/data/caddy/certs/site.pem").stdout.encode()).hexdigest()


def test_one_server_with_https_switches_to_3tier_and_back_and_stays_on_https(tier_tls_sb):
    """ccx33 with [tls] -> 3-tier and back: while the switch runs, the old app on the db server keeps
    its own proxy and certificate (resolvers that still hold its address keep HTTPS); once
    DNS is at the load balancer the tool orders the 3-tier certificate; the finished switch
    leaves no proxy on the db server."""
    sb, info, home = tier_tls_sb
    _ok(sb.cli("generate", "--profile", "ccx33"))
    _ok(sb.cli("deploy", "--profile", "ccx33", timeout=600))
    root = issued_root(info.acme["management"], info.acme["ca_file"])
    old_ip = json.loads(_ok(sb.cli("outputs", "--json")).stdout)["hosts"][0]["ipv4"]
    assert all(check_name(old_ip, n, root, "/health").ok for n in NAMES)

    first = _ok(sb.cli("switch", "--to", "3-tier", "--config", str(sb.config),
                       "--stacks-dir", str(sb.stacks), timeout=900))
    assert "[tls] done: 2 name(s) on HTTPS" in first.stdout and "certificate ordered" in first.stdout
    out = json.loads(_ok(sb.cli("outputs", "--json")).stdout)
    lb = out["load_balancer_ipv4"]
    for name in NAMES:
        assert check_name(lb, name, root, "/health").ok
        assert check_name(old_ip, name, root, "/health").ok      # the old app, its own certificate

    sandbox_env.age_recorded_time(sb.workdir() / ".work" / "tier-switch.json", "dns_at", 301)
    second = _ok(sb.cli("switch", "--to", "3-tier", "--config", str(sb.config),
                        "--stacks-dir", str(sb.stacks), timeout=900))
    assert "ccx33 -> 3-tier finished" in second.stdout, second.stdout
    for name in NAMES:
        assert check_name(lb, name, root, "/health").ok
    db = next(h for h in out["hosts"] if h["role"] == "db")
    running = _on(db, home, "docker ps --format '{{.Names}}'")
    assert running.exit_status == 0 and "proxy" not in running.stdout, running.stdout

    # And back down to one server: the db server's own proxy gets its certificate once the
    # names point at it; after the last stage it still serves it.
    down = _ok(sb.cli("switch", "--to", "ccx33", "--config", str(sb.config),
                      "--stacks-dir", str(sb.stacks), timeout=900))
    assert "tls: done" in down.stdout, down.stdout
    for name in NAMES:
        assert check_name(old_ip, name, root, "/health").ok
    sandbox_env.age_recorded_time(sb.workdir() / ".work" / "tier-switch.json", "dns_at", 301)
    _ok(sb.cli("switch", "--to", "ccx33", "--config", str(sb.config),
               "--stacks-dir", str(sb.stacks), timeout=900))
    assert not (sb.workdir() / ".work" / "tier-switch.json").exists()
    for name in NAMES:
        assert check_name(old_ip, name, root, "/health").ok
    assert json.loads(_ok(sb.cli("outputs", "--json")).stdout)["load_balancer_ipv4"] is None

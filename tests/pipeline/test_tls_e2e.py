"""[tls] end to end on a sandbox machine: the example app behind Caddy, certificates from pebble.

deploy as a user runs it: the app phase adds the proxy, the DNS phase points the
names at the machine in the sandbox registrar, pebble resolves them there and
validates on the machine's port 80, and the tls phase checks HTTPS. The oracle
for the certificate is pebble's own root (fetched from its management port),
and the system store must refuse it. A redeploy with a changed .env makes a
new release but does not ask for new certificates (they live on /mnt/data).
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import ssl

import pytest

from checks.https import check_name, check_redirect
from sandbox.acme import issued_root
from tests.pipeline import sandbox_env

pytestmark = pytest.mark.e2e

RANGE = os.environ.get("HD_TEST_MACHINE_RANGE", "198.18.77.0/24")
NAMES = ("app.example.com", "api.app.example.com")


@pytest.fixture
def tls_sb(tmp_path, make_config, monkeypatch):
    public = sandbox_env.login_key(tmp_path)
    app = sandbox_env.example_app(tmp_path / "app", "PROJECT=example\nPOSTGRES_USER=app\n"
                                  "POSTGRES_DB=app\nPOSTGRES_PASSWORD=pg-tls-secret\n"
                                  "REDIS_PASSWORD=redis-tls-secret\n")
    config = make_config(sandbox_env.machines_toml(
        RANGE, '\n[app]\ncompose = "app/docker-compose.yml"\nenv_file = "app/.env"\n'
        'files = ["backend/app.py", "ai/worker.py"]\n'
        '\n[dns]\nipv6 = false\n\n[tls]\nemail = "ops@app.example.com"\ntimeout_s = 120\n'),
        key=public)
    with sandbox_env.machines_sandbox(tmp_path, config, monkeypatch, RANGE,
                                      ["python", "redis", "postgres", "caddy"]) as (box, info):
        yield box, info, app


_ok = sandbox_env.ok


def _served_cert(ip: str, name: str) -> str:
    """sha256 of the certificate the server presents for `name` (no verification: an id only)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection((ip, 443), 5) as sock, \
            context.wrap_socket(sock, server_hostname=name) as tls:
        return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def test_the_example_app_answers_over_https_with_a_certificate_from_pebble(tls_sb):
    sb, info, app = tls_sb
    _ok(sb.cli("generate", "--profile", "ccx33"))
    deployed = _ok(sb.cli("deploy", "--profile", "ccx33", timeout=600))
    assert "[tls] done: 2 name(s) on HTTPS" in deployed.stdout, deployed.stdout
    assert "https://app.example.com/health" in deployed.stdout
    ip = RANGE.rsplit(".", 1)[0] + ".2"

    root = issued_root(info.acme["management"], info.acme["ca_file"])
    for name in NAMES:
        good = check_name(ip, name, root, "/health")
        assert good.ok and good.issuer.startswith("Pebble"), good
        assert good.days_left and good.days_left > 21
        # The system store does not know pebble's root: the same server is refused.
        system = check_name(ip, name, None, "/health")
        assert not system.ok and "not trusted" in system.detail, system
        assert check_redirect(ip, name) is None
    # A name the certificate does not cover is refused even with the right root.
    other = check_name(ip, "www.app.example.com", root, "/health")
    assert not other.ok

    # The certificate is on the data volume: a new release keeps it, nothing is re-issued.
    before = {n: _served_cert(ip, n) for n in NAMES}
    with open(app / ".env", "a") as env:
        env.write("FEATURE_FLAG=1\n")
    again = _ok(sb.cli("deploy", "--profile", "ccx33", timeout=600))
    assert "[app] done: autoscale-ai-production deployed" in again.stdout, again.stdout
    assert {n: _served_cert(ip, n) for n in NAMES} == before

    after = sb.cli("verify", "--after", "--json", "--config", str(sb.config),
                   "--stacks-dir", str(sb.stacks))
    rows = {c["name"]: c for c in json.loads(after.stdout)["checks"]}
    for name in NAMES:
        row = rows[f"HTTPS certificate valid: {name}"]
        assert row["status"] == "ok" and "Pebble" in row["detail"], row

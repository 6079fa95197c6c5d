"""app/proxy.py: the Caddyfile and the Compose file with the proxy, from [tls]."""
from __future__ import annotations

import subprocess

import pytest
import yaml

from app import proxy
from errors import ConfigError
from generator.config_tls import TlsConfig

COMPOSE = b"""version: "2.4"
x-labels: &labels
  team: voice
services:
  backend:
    image: python
    ports: ["80:8000"]
    networks: [data, web]
    labels: *labels
  db:
    image: postgres
    networks: [data]
    labels: *labels
networks:
  data: {internal: true}
  web: {}
"""


def test_the_proxy_owns_80_and_443_and_reaches_the_upstream_on_outward_networks():
    doc = yaml.safe_load(proxy.with_proxy(COMPOSE, TlsConfig(), "caddy:2", ca_root=False))
    services = doc["services"]
    assert "ports" not in services["backend"]
    p = services["proxy"]
    assert p["ports"] == ["80:80", "443:443"] and p["image"] == "caddy:2"
    assert p["networks"] == ["web"]                  # data is internal: no gateway out
    assert f"{proxy.CERT_DIR}/data:/data" in p["volumes"]
    assert p["environment"] == {"XDG_DATA_HOME": "/data", "XDG_CONFIG_HOME": "/config"}
    assert not any(v.endswith("acme-ca.pem:ro") for v in p["volumes"])
    # Everything else is the app's own, anchors written out in full.
    assert services["db"] == {"image": "postgres", "networks": ["data"], "labels": {"team": "voice"}}
    with_ca = yaml.safe_load(proxy.with_proxy(COMPOSE, TlsConfig(), "caddy:2", ca_root=True))
    assert f"./{proxy.ACME_CA}:/etc/caddy/acme-ca.pem:ro" in with_ca["services"]["proxy"]["volumes"]


def test_the_same_inputs_give_the_same_bytes():
    one = proxy.with_proxy(COMPOSE, TlsConfig(), "caddy:2", ca_root=False)
    assert one == proxy.with_proxy(COMPOSE, TlsConfig(), "caddy:2", ca_root=False)
    assert b"&id" not in one and b"*id" not in one


@pytest.mark.parametrize("compose, says", [
    (b"services: [a, b]\n", "no services"),
    (b"services:\n  web: {image: x}\n", "no service 'backend'"),
    (COMPOSE.replace(b"  db:", b"  proxy:"), "already exists"),
    (b"services: {backend: {image: [unclosed\n", "not valid YAML"),
])
def test_compose_files_the_proxy_cannot_join_are_one_line_errors(compose, says):
    with pytest.raises(ConfigError, match=says):
        proxy.with_proxy(compose, TlsConfig(), "caddy:2", ca_root=False)


def _config(domain="app.example.com", names=("@", "api")):
    from types import SimpleNamespace
    return SimpleNamespace(domain=domain, dns=SimpleNamespace(names=names))


def test_the_names_are_the_dns_names_fully_qualified():
    assert proxy.names_for(_config()) == ("app.example.com", "api.app.example.com")
    assert proxy.names_for(_config(names=("@", "@"))) == ("app.example.com",)


@pytest.mark.parametrize("health", ["/health\n{", "/a b", "/x}", "/health;respond"])
def test_a_health_path_that_could_change_the_caddyfile_is_refused(health):
    with pytest.raises(ConfigError):
        proxy.caddyfile(TlsConfig(), ("app.example.com",), "https://acme.test/dir",
                        ca_root=False, health_path=health)


def test_the_caddyfile_is_valid_for_caddy_itself(tmp_path):
    # Caddy's own parser is the oracle: `caddy adapt` fails on anything it would not run.
    text = proxy.caddyfile(TlsConfig(email="ops@app.example.com"),
                           ("app.example.com", "api.app.example.com"),
                           "https://acme-staging-v02.api.letsencrypt.org/directory",
                           ca_root=True, health_path="/health?deep=1")
    path = tmp_path / "Caddyfile"
    path.write_bytes(text)
    done = subprocess.run(["caddy", "adapt", "--config", str(path), "--adapter", "caddyfile"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    import json
    config = json.loads(done.stdout)
    issuers = config["apps"]["tls"]["automation"]["policies"][0]["issuers"]
    assert issuers[0]["ca"] == "https://acme-staging-v02.api.letsencrypt.org/directory"
    assert issuers[0]["email"] == "ops@app.example.com"
    assert issuers[0]["trusted_roots_pem_files"] == ["/etc/caddy/acme-ca.pem"]
    hosts = {h for s in config["apps"]["http"]["servers"].values() for r in s.get("routes", [])
             for m in r.get("match", []) for h in m.get("host", [])}
    assert hosts == {"app.example.com", "api.app.example.com"}

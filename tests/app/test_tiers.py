"""app/tiers.py: the 3-tier split of the app's Compose file and .env, and [tier]'s new keys.

The oracle for the Compose files is Compose itself (`docker-compose config`, the
sandbox machines' 1.29): it must accept both files and report the published
ports, depends_on and networks we say we wrote."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from app import tiers
from errors import ConfigError
from generator.config import load_config
from tests.conftest import BASE_TOML

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = (REPO / "examples" / "app" / "docker-compose.yml").read_bytes()
DB = (("postgres", 5432), ("redis", 6379))


def _compose_config(tmp_path: Path, data: bytes, name: str) -> dict:
    path = tmp_path / name
    path.write_bytes(data)
    (tmp_path / ".env").write_text("REDIS_PASSWORD=x\n")
    done = subprocess.run(["docker-compose", "--project-directory", str(tmp_path), "--file",
                           str(path), "config"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def test_the_example_app_splits_into_a_db_part_on_the_private_ip_and_an_app_part(tmp_path):
    db, app = tiers.split(EXAMPLE, DB, "10.0.1.3")
    db_doc = _compose_config(tmp_path, db, "db.yaml")
    assert sorted(db_doc["services"]) == ["postgres", "redis"]
    published = {p for s in db_doc["services"].values() for p in s["ports"]}
    assert published == {"10.0.1.3:5432:5432/tcp", "10.0.1.3:6379:6379/tcp"}
    # A container only on internal networks gets no published port: the db services also
    # join a plain network of their own; `data` stays internal (flipping it would make
    # Compose recreate it on a server that already runs it: a switch from one server).
    assert db_doc["networks"]["data"].get("internal") is True
    assert set(db_doc["services"]["postgres"]["networks"]) == {"data", tiers.PUBLISH_NET}
    assert not db_doc["networks"][tiers.PUBLISH_NET].get("internal")
    assert "web" not in db_doc["networks"]          # nothing on the db server joins it

    app_doc = _compose_config(tmp_path, app, "app.yaml")
    assert sorted(app_doc["services"]) == ["ai", "backend"]
    assert set(app_doc["services"]["backend"]["depends_on"]) == {"ai"}
    assert not app_doc["networks"]["data"].get("internal")
    assert app_doc["services"]["backend"]["ports"] == [{"published": 80, "target": 8000}]
    # Healthchecks and everything else the user wrote are kept.
    assert app_doc["services"]["backend"]["healthcheck"]["retries"] == 30
    assert db_doc["services"]["postgres"]["healthcheck"]["retries"] == 30


def test_existing_ports_of_a_db_service_are_replaced_never_kept_on_every_address():
    compose = (b"services:\n  web: {image: x, depends_on: [pg]}\n"
               b"  pg: {image: y, ports: ['5432:5432', '0.0.0.0:9187:9187']}\n")
    db, app = tiers.split(compose, (("pg", 5432),), "10.0.1.3")
    assert yaml.safe_load(db)["services"]["pg"]["ports"] == ["10.0.1.3:5432:5432"]
    assert "depends_on" not in yaml.safe_load(app)["services"]["web"]


def test_an_internal_network_no_app_service_needs_for_the_db_stays_internal():
    compose = (b"services:\n  web: {image: x, networks: [front, jobs]}\n"
               b"  worker: {image: x, networks: [jobs]}\n"
               b"  pg: {image: y, networks: [back]}\n"
               b"  api: {image: x, networks: [back, front]}\n"
               b"networks:\n  front: {}\n  jobs: {internal: true}\n  back: {internal: true}\n")
    _, app = tiers.split(compose, (("pg", 5432),), "10.0.1.3")
    nets = yaml.safe_load(app)["networks"]
    assert nets["jobs"] == {"internal": True}
    assert nets["back"] == {}


@pytest.mark.parametrize("ip, needle", [("94.130.1.2", "not private"),
                                        ("not-an-ip", "not an address"),
                                        ("10.0.1.3\n", "not an address")])
def test_the_db_address_must_be_a_private_one(ip, needle):
    with pytest.raises(ConfigError, match=needle):
        tiers.split(EXAMPLE, DB, ip)


@pytest.mark.parametrize("services, needle", [
    ((("mysql", 3306),), "no service 'mysql'"),
    ((("postgres", 5432), ("redis", 6379), ("ai", 8100), ("backend", 8000)), "nothing is left"),
])
def test_a_split_that_cannot_work_is_one_config_error(services, needle):
    with pytest.raises(ConfigError, match=needle):
        tiers.split(EXAMPLE, services, "10.0.1.3")


def test_bad_compose_is_one_config_error():
    with pytest.raises(ConfigError, match="not valid YAML"):
        tiers.split(b"services: [\n", DB, "10.0.1.3")
    with pytest.raises(ConfigError, match="no services"):
        tiers.split(b"- a\n", DB, "10.0.1.3")


def test_app_env_sets_the_db_keys_and_keeps_every_other_byte():
    env = b"# c\nPOSTGRES_HOST=postgres\nSECRET='a=b'\nexport REDIS_HOST = redis\r\nX=1"
    out = tiers.app_env(env, ("POSTGRES_HOST", "REDIS_HOST", "EXTRA_HOST"), "10.0.1.3")
    assert out == (b"# c\nPOSTGRES_HOST=10.0.1.3\nSECRET='a=b'\nREDIS_HOST=10.0.1.3\nX=1\n"
                   b"EXTRA_HOST=10.0.1.3\n")
    assert tiers.app_env(b"A=1\n", (), "10.0.1.3") == b"A=1\n"
    # A key that only starts like one of ours is left alone.
    assert tiers.app_env(b"POSTGRES_HOSTNAME=x\n", ("POSTGRES_HOST",), "10.0.1.3") == \
        b"POSTGRES_HOSTNAME=x\nPOSTGRES_HOST=10.0.1.3\n"


# --- [tier] db_services, db_host_env, rolling_group -----------------------------------------

def test_tier_defaults_and_values(make_config):
    tier = load_config(make_config()).tier
    assert tier.db_services == DB and tier.db_host_env == ("POSTGRES_HOST", "REDIS_HOST")
    assert tier.rolling_group == 1
    tier = load_config(make_config(BASE_TOML + '\n[tier]\ndb_services = {pg = 5433}\n'
                                   'db_host_env = ["DATABASE_HOST"]\nrolling_group = 3\n')).tier
    assert (tier.db_services, tier.db_host_env, tier.rolling_group) == \
        ((("pg", 5433),), ("DATABASE_HOST",), 3)



@pytest.mark.parametrize("section, needle", [
    ("db_services = {postgres = 0}", "between 1 and 65535"),
    ("db_services = {postgres = 70000}", "between 1 and 65535"),
    ('db_services = {postgres = "5432"}', "between 1 and 65535"),
    ("db_services = {postgres = true}", "between 1 and 65535"),
    ("db_services = {}", "table of Compose services"),
    ('db_services = ["postgres"]', "table of Compose services"),
    ("db_services = {a = 1, b = 1}", "share a port"),
    ('db_services = {"Postgres" = 1}', "not a Compose service name"),
    ('db_services = {"pg\\n" = 1}', "not a Compose service name"),
    ('db_services = {"-pg" = 1}', "not a Compose service name"),
    ('db_services = {"p g" = 1}', "not a Compose service name"),
    ('db_services = {"${X}" = 1}', "not a Compose service name"),
    ('db_host_env = ["A\\nB"]', "not an environment variable name"),
    ('db_host_env = ["A=B"]', "not an environment variable name"),
    ('db_host_env = ["1A"]', "not an environment variable name"),
    ('db_host_env = ["A B"]', "not an environment variable name"),
    ('db_host_env = ["Ü"]', "not an environment variable name"),
    ('db_host_env = ["A", "A"]', "twice"),
    ('db_host_env = "POSTGRES_HOST"', "list of .env keys"),
    ("db_host_env = [1]", "not an environment variable name"),
    ("rolling_group = 0", "tier.rolling_group: must be between 1 and 50"),
    ("rolling_group = 51", "tier.rolling_group: must be between 1 and 50"),
    ('rolling_group = "2"', "tier.rolling_group"),
])
def test_bad_tier_app_keys_are_one_config_error(make_config, section, needle):
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.").replace("$", r"\$")
                       .replace("{", r"\{").replace("}", r"\}").replace("[", r"\[")
                       .replace("(", r"\(")) as caught:
        load_config(make_config(BASE_TOML + f"\n[tier]\n{section}\n"))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("db_service, reads", [
    ("{image: x, volumes: [/mnt/data/pg:/data, 'named:/x']}", False),
    ("{image: x, env_file: .env}", False),
    ("{image: x, env_file: [./.env]}", False),
    ("{image: x, volumes: ['./init.sql:/docker-entrypoint-initdb.d/i.sql:ro']}", True),
    ("{image: x, volumes: [{type: bind, source: ./conf, target: /c}]}", True),
    ("{image: x, env_file: [.env, db.env]}", True),
    ("{build: ./db}", True),
])
def test_the_db_server_gets_the_apps_files_only_when_a_db_service_reads_one(db_service, reads):
    compose = f"services:\n  web: {{image: x}}\n  pg: {db_service}\n".encode()
    assert tiers.db_reads_files(compose, (("pg", 5432),)) is reads


def test_tier_specs_release_ids_follow_what_each_role_runs(make_config, tmp_path):
    """The app servers' release changes with the app's code and the db's address; the db
    server's with neither (the example's databases read no file of the app's)."""
    import dataclasses
    import os
    import shutil

    from app.service import spec_from, tier_specs
    from runner.outputs import Host, StackOutputs
    app = tmp_path / "app"
    shutil.copytree(REPO / "examples" / "app", app, ignore=shutil.ignore_patterns("*.toml", ".env*"))
    (app / ".env").write_text("POSTGRES_PASSWORD=pw\nPOSTGRES_HOST=postgres\n")
    os.chmod(app / ".env", 0o600)
    config = load_config(make_config(BASE_TOML + '\n[app]\ncompose = "app/docker-compose.yml"\n'
                                     'env_file = "app/.env"\nfiles = ["backend/app.py"]\n'))

    def outputs(db_ip):
        return StackOutputs(hosts=(Host("a-1", "app", "198.18.0.3", private_ip="10.0.1.11", id=1),
                                   Host("db", "db", "198.18.0.4", private_ip=db_ip, id=3)),
                            volume_id=1, ssh_key_id=1)
    db_spec, app_spec = tier_specs(config, outputs("10.0.1.3"))
    single = spec_from(config)
    assert len({db_spec.release, app_spec.release, single.release}) == 3
    assert db_spec.files == () and db_spec.health_services == ("postgres", "redis")
    assert app_spec.health_over_ssh and not single.health_over_ssh
    assert b"POSTGRES_HOST=10.0.1.3\n" in app_spec.env and b"REDIS_HOST=10.0.1.3\n" in app_spec.env
    assert db_spec.env == single.env == (app / ".env").read_bytes()

    moved_db, moved_app = tier_specs(config, outputs("10.0.1.4"))
    assert moved_app.release != app_spec.release and moved_db.release != db_spec.release
    (app / "backend" / "app.py").write_text((app / "backend" / "app.py").read_text() + "# v2\n")
    config2 = dataclasses.replace(config)
    db2, app2 = tier_specs(config2, outputs("10.0.1.3"))
    assert db2.release == db_spec.release and app2.release != app_spec.release


def test_tls_on_3tier_the_app_servers_serve_the_tools_certificate(make_config, tmp_path):
    """[tls] on 3-tier: the proxy goes with the app servers' part, in its shared-certificate
    form (app/certs.py orders the certificate); the db server runs no proxy; during a switch
    the old app on the db server keeps the proxy that renews its own certificates."""
    import os
    import shutil

    from app import proxy
    from app.service import tier_specs
    from runner.outputs import Host, StackOutputs
    app = tmp_path / "app"
    shutil.copytree(REPO / "examples" / "app", app, ignore=shutil.ignore_patterns("*.toml", ".env*"))
    (app / ".env").write_text("POSTGRES_PASSWORD=pw\n")
    os.chmod(app / ".env", 0o600)
    config = load_config(make_config(BASE_TOML + '\n[app]\ncompose = "app/docker-compose.yml"\n'
                                     'env_file = "app/.env"\nfiles = ["backend/app.py"]\n'
                                     '\n[tls]\nemail = "ops@example.com"\n'))
    outputs = StackOutputs(hosts=(Host("a-1", "app", "198.18.0.3", private_ip="10.0.1.11", id=1),
                                  Host("db", "db", "198.18.0.4", private_ip="10.0.1.3", id=3)),
                           volume_id=1, ssh_key_id=1)
    acme = {"directory": "https://198.18.0.1:14000/dir", "ca_file": str(tmp_path / "ca.pem")}
    (tmp_path / "ca.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    db_spec, app_spec = tier_specs(config, outputs, acme)
    app_doc, db_doc = yaml.safe_load(app_spec.compose), yaml.safe_load(db_spec.compose)
    assert proxy.PROXY_SERVICE not in db_doc["services"]
    volumes = app_doc["services"][proxy.PROXY_SERVICE]["volumes"]
    assert "/mnt/data/caddy/certs:/etc/caddy/certs:ro" in volumes
    assert "/mnt/data/caddy/acme:/srv/acme:ro" in volumes
    assert "/mnt/data/caddy/admin:/run/caddy-admin" in volumes
    files = dict(app_spec.files)
    assert proxy.ACME_CA not in files          # the proxy talks to no ACME server
    caddyfile = files[proxy.CADDYFILE].decode()
    assert "\tauto_https disable_certs\n\tadmin unix//run/caddy-admin/admin.sock\n" in caddyfile
    assert "acme_ca" not in caddyfile and "\t\tload /etc/caddy/certs\n" in caddyfile
    assert proxy.CADDYFILE not in dict(db_spec.files)

    old, _ = tier_specs(config, outputs, acme, keep_old_app=True)
    old_doc = yaml.safe_load(old.compose)
    assert "/mnt/data/caddy/certs:/etc/caddy/certs:ro" not in old_doc["services"]["proxy"]["volumes"]
    assert "\tacme_ca https://198.18.0.1:14000/dir\n" in dict(old.files)[proxy.CADDYFILE].decode()


def test_the_shared_caddyfile_is_one_caddy_accepts(tmp_path):
    """Caddy itself (Debian's, the sandbox image's binary) adapts the 3-tier Caddyfile: the
    challenge folder is served before the redirect, the certificates come from the folder
    only, the admin endpoint is the socket."""
    import json
    import shutil

    from app import proxy
    from generator.config_tls import TlsConfig
    caddy = shutil.which("caddy")
    assert caddy, "Debian's caddy is installed by .ci/run (the sandbox's proxy image uses it)"
    names = ("app.example.com", "api.app.example.com")
    path = tmp_path / "Caddyfile"
    path.write_bytes(proxy.caddyfile(TlsConfig(), names, "unused", ca_root=False,
                                     health_path="/health", shared=True))
    done = subprocess.run([caddy, "adapt", "--config", str(path), "--adapter", "caddyfile"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["admin"]["listen"] == "unix//run/caddy-admin/admin.sock"
    assert doc["apps"]["tls"]["certificates"]["load_folders"] == ["/etc/caddy/certs"]
    servers = doc["apps"]["http"]["servers"]
    assert all(s["automatic_https"] == {"disable_certificates": True} for s in servers.values())
    text = json.dumps(servers)
    assert text.index('"root": "/srv/acme"') < text.index('"status_code": 308')

def test_the_switch_file_is_the_whole_app_with_the_db_part_s_very_services(tmp_path):
    """During a switch the one server runs the old app and its databases published as the
    db part will publish them: identical service definitions, so stopping the old app later
    (the db part with --remove-orphans) restarts no database."""
    db, _ = tiers.split(EXAMPLE, DB, "10.0.1.3")
    during = _compose_config(tmp_path, tiers.transitional(EXAMPLE, DB, "10.0.1.3"), "during.yaml")
    original = _compose_config(tmp_path, EXAMPLE, "original.yaml")
    db_doc = _compose_config(tmp_path, db, "db.yaml")
    assert sorted(during["services"]) == sorted(original["services"])
    for name in ("backend", "ai"):
        assert during["services"][name] == original["services"][name]
    for name in ("postgres", "redis"):
        assert during["services"][name] == db_doc["services"][name]
    assert during["networks"] == {**original["networks"],
                                  tiers.PUBLISH_NET: db_doc["networks"][tiers.PUBLISH_NET]}
    with pytest.raises(ConfigError, match="not private"):
        tiers.transitional(EXAMPLE, DB, "95.216.10.20")

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
    # A container only on an internal network gets no published port: not internal here.
    assert not db_doc["networks"]["data"].get("internal")
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

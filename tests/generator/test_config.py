from decimal import Decimal

import pytest

from errors import ConfigError
from generator.config import load_config
from tests.conftest import BASE_TOML


def test_loads_every_value(make_config):
    config = load_config(make_config())
    assert config.project == "autoscale-ai"
    assert config.location == "nbg1"
    assert config.ssh_allow == ("203.0.113.7/32",)
    assert config.volume_size_gb == 50
    assert config.current_host_monthly_eur == Decimal("78.0")
    assert config.thresholds.ccx33_max_calls == 5000
    assert config.backend.kind == "local"
    assert not config.ssh_open_to_world
    assert not config.from_example


def test_example_file_is_valid_and_flagged():
    config = load_config()
    assert config.source.name in ("deploy.toml", "deploy.example.toml")


BAD = [
    ("[project\nname=1", "invalid TOML"),
    (BASE_TOML + "\n[extra]\nx = 1\n", "unknown section [extra]"),
    (BASE_TOML.replace('image = "ubuntu-22.04"', 'image = "ubuntu-22.04"\nimgae = "x"'),
     "unknown key hetzner.imgae"),
    (BASE_TOML.replace('"203.0.113.7/32"', '"203.0.113.7/33"'), "ssh.allow"),
    (BASE_TOML.replace('"203.0.113.7/32"', '"10.0.0.1/8"'), "ssh.allow"),
    (BASE_TOML.replace("volume_size_gb = 50", "volume_size_gb = 5"), "storage.volume_size_gb"),
    (BASE_TOML.replace("volume_size_gb = 50", "volume_size_gb = 20000"), "between 10 and 10240"),
    (BASE_TOML.replace('location = "nbg1"', 'location = "mars1"'), "unknown location 'mars1'"),
    (BASE_TOML.replace("calls_per_month = 3000", "calls_per_month = -3"), "must not be negative"),
    (BASE_TOML.replace("calls_per_month = 3000", 'calls_per_month = "lots"'), "whole number"),
    (BASE_TOML.replace("backups = true", 'backups = "yes"'), "storage.backups"),
    (BASE_TOML.replace('name = "autoscale-ai"', 'name = "Autoscale AI"'), "project.name"),
    (BASE_TOML.replace('domain = "app.example.com"', 'domain = "not a domain"'), "project.domain"),
    (BASE_TOML + "\n[sizing]\nccx33_max_calls = 30000\nccx43_max_calls = 20000\n",
     "ccx33_max_calls must be below"),
    (BASE_TOML + '\n[state]\nbackend = "s3"\n', "needs state.endpoint"),
    (BASE_TOML + '\n[state]\nbackend = "consul"\n', "unknown state backend"),
]


@pytest.mark.parametrize("text,needle", BAD)
def test_bad_values_name_the_key(make_config, text, needle):
    with pytest.raises(ConfigError) as err:
        load_config(make_config(text))
    message = str(err.value)
    assert needle in message
    assert "\n" not in message


def test_missing_key_file(make_config):
    with pytest.raises(ConfigError, match="ssh.public_key: file not found"):
        load_config(make_config(key=None))


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_pricing_table_is_resolved_next_to_the_config(make_config, tmp_path):
    (tmp_path / "prices.toml").write_text("")
    config = load_config(make_config(BASE_TOML + '\n[pricing]\ntable = "prices.toml"\n'))
    assert config.pricing_table == tmp_path / "prices.toml"
    with pytest.raises(ConfigError, match="pricing.table: file not found"):
        load_config(make_config(BASE_TOML + '\n[pricing]\ntable = "nope.toml"\n'))

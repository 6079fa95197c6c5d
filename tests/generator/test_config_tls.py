"""[tls] in deploy.toml: defaults, values, and one line per hostile value."""
from __future__ import annotations

import json

import pytest

from errors import ConfigError
from generator.config_file import parse
from generator.config_tls import ACME_DIRECTORIES, TlsConfig
from tests.conftest import BASE_TOML

APP = '\n[app]\ncompose = "app/compose.yaml"\nenv_file = "app/.env"\n'


def _load(make_config, extra: str):
    return parse(make_config(BASE_TOML + APP + extra), False)


def test_no_section_no_proxy(make_config):
    assert _load(make_config, "").tls is None


def test_tls_needs_the_app(make_config):
    with pytest.raises(ConfigError, match=r"\[tls\] needs \[app\]"):
        parse(make_config(BASE_TOML + "\n[tls]\n"), False)


def test_defaults_and_directories(make_config):
    got = _load(make_config, "\n[tls]\n").tls
    assert got == TlsConfig() and got.directory == ACME_DIRECTORIES["production"]
    staging = _load(make_config, '\n[tls]\nacme = "staging"\nemail = "ops@team.example"\n'
                                 'upstream = "api:9000"\n').tls
    assert staging.directory == ACME_DIRECTORIES["staging"] and staging.upstream_service == "api"
    own = _load(make_config, '\n[tls]\nacme = "https://acme.internal.example:8443/directory"\n').tls
    assert own.directory == "https://acme.internal.example:8443/directory"


HOSTILE = ['x"\n}\nevil', "${env.HOME}", "{$HOME}", "a b", "x\n", "é@example.com", "x" * 100_000,
           "import /etc/passwd", "}", "%{x}", "- item", "*alias"]


@pytest.mark.parametrize("key", ["email", "acme", "upstream", "image"])
@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_one_line_errors(make_config, key, value):
    with pytest.raises(ConfigError) as caught:
        _load(make_config, f"\n[tls]\n{key} = {json.dumps(value)}\n")
    message = caught.value.message
    assert f"tls.{key}" in message and "\n" not in message and len(message) < 400

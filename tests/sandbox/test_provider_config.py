"""Provider configuration and per-resource validation rules of the stand-in."""
from __future__ import annotations

import pytest
from tf.utils import Diagnostics

from sandbox.provider.provider import HcloudProvider
from sandbox.provider.resources import ALL
from sandbox.provider.resources.server import HcloudServer
from generator.provider_schema import RESOURCE_TYPES


def _configure(config, environ):
    provider = HcloudProvider(environ=environ)
    diags = Diagnostics()
    provider.configure_provider(diags, config)
    return provider, diags


def test_serves_every_resource_type_of_the_schema_module():
    assert sorted(r.TYPE for r in ALL) == list(RESOURCE_TYPES)


def test_endpoint_and_token_come_from_the_environment():
    provider, diags = _configure({"token": None, "endpoint": None},
                                 {"HCLOUD_ENDPOINT": "http://127.0.0.1:9/v1",
                                  "HCLOUD_TOKEN": "t"})
    assert not diags.has_errors()
    assert provider.client()._client._endpoint == "http://127.0.0.1:9/v1"


def test_provider_block_wins_over_the_environment():
    provider, diags = _configure({"token": "t", "endpoint": "http://localhost:8/v1"},
                                 {"HCLOUD_ENDPOINT": "http://127.0.0.1:9/v1"})
    assert not diags.has_errors()
    assert provider.client()._client._endpoint == "http://localhost:8/v1"


@pytest.mark.parametrize("endpoint", [None, "https://api.hetzner.cloud/v1", "http://10.0.0.1/v1"])
def test_refuses_anything_but_a_local_endpoint(endpoint):
    environ = {"HCLOUD_TOKEN": "t"} | ({"HCLOUD_ENDPOINT": endpoint} if endpoint else {})
    provider, diags = _configure({}, environ)
    assert diags.has_errors()
    with pytest.raises(RuntimeError):
        provider.client()


def test_needs_a_token():
    _, diags = _configure({}, {"HCLOUD_ENDPOINT": "http://127.0.0.1:9/v1"})
    assert diags.has_errors()
    assert "token" in str(diags).lower()


def _validate(resource_cls, config):
    diags = Diagnostics()
    resource_cls(HcloudProvider(environ={})).validate(diags, resource_cls.TYPE, config)
    return diags


def test_protection_flags_are_left_to_the_api():
    # The real provider's schema has no rule tying the two flags together:
    # Hetzner answers at apply time, so the stand-in does not refuse at validate.
    assert not _validate(HcloudServer, {"name": "a", "delete_protection": True,
                                        "rebuild_protection": False}).has_errors()


def test_unknown_arguments_and_computed_only_values_are_rejected():
    assert _validate(HcloudServer, {"name": "a", "no_such": 1}).has_errors()
    assert _validate(HcloudServer, {"name": "a", "ipv4_address": "1.2.3.4"}).has_errors()


def test_remote_firewalls_are_ignored_only_when_asked():
    from types import SimpleNamespace as NS
    server = NS(public_net=NS(firewalls=[NS(firewall=NS(id=1)), NS(firewall=NS(id=2))]))
    assert HcloudServer._firewall_ids(server, {"firewall_ids": [1]}) == [1, 2]
    assert HcloudServer._firewall_ids(server, {"firewall_ids": [1],
                                               "ignore_remote_firewall_ids": True}) == [1]


@pytest.mark.parametrize("argument", ["iso", "rescue"])
def test_unsupported_server_arguments_say_so(argument):
    diags = _validate(HcloudServer, {"name": "a", argument: "linux64"})
    assert diags.has_errors() and "not supported by the sandbox" in str(diags)

"""Preflight catches, before anything changes, what would make the apply fail halfway."""
from __future__ import annotations

import dataclasses

import pytest
from hcloud import Client
from hcloud.images import Image
from hcloud.server_types import ServerType

from checks.existing import key_fingerprint
from tests.checks.preflight_support import TOKEN, api
from tests.checks.test_preflight_emulator import by_name, config, emu, preflight  # noqa: F401
from tests.conftest import TEST_PUBLIC_KEY

KEY_CHECK = "SSH key not held under another name"


def test_fingerprint_is_what_the_api_shows(emu):
    made = api(emu, "POST", "/ssh_keys", {"name": "k", "public_key": TEST_PUBLIC_KEY})
    assert key_fingerprint(TEST_PUBLIC_KEY) == made["ssh_key"]["fingerprint"]
    assert key_fingerprint("ssh-ed25519 !!notbase64") is None


def test_a_second_environment_with_the_same_key_is_named_before_anything_is_created(config, emu):
    api(emu, "POST", "/ssh_keys", {"name": "autoscale-ai-production-key",
                                   "public_key": TEST_PUBLIC_KEY})
    production = preflight(config, emu)
    assert by_name(production, KEY_CHECK).status == "ok"      # its own key, by name
    staging = preflight(dataclasses.replace(config, environment="staging"), emu)
    check = by_name(staging, KEY_CHECK)
    assert check.status == "fail" and not staging.ready
    assert "already holds this public key as 'autoscale-ai-production-key'" in check.detail
    assert "autoscale-ai-staging-key" in check.detail


@pytest.mark.parametrize("grown, status", [(True, "fail"), (False, "ok")])
def test_a_downgrade_is_refused_only_when_the_disk_grew(config, emu, grown, status):
    client = Client(token=TOKEN, api_endpoint=emu.url)
    server = client.servers.create("autoscale-ai-production", server_type=ServerType(name="ccx33"),
                                   image=Image(name="ubuntu-22.04")).server
    client.servers.power_off(server).wait_until_finished()
    client.servers.change_type(server, ServerType(name="ccx43"),
                               upgrade_disk=grown).wait_until_finished()
    report = preflight(config, emu, profile="ccx33")
    check = by_name(report, "Rescale autoscale-ai-production to ccx33")
    assert check.status == status
    if grown:
        assert "offers 240 GB" in check.detail and "keep_disk" in check.detail

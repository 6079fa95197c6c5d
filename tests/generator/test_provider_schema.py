"""generator.provider_schema must match the real provider v1.68.0 schema."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator import provider_schema

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
REAL_FILE = SHARED / "hcloud_provider_schema.json"
SOURCE = "registry.terraform.io/hetznercloud/hcloud"

# Prose is left out of our copy on purpose; everything else must agree.
PROSE = {"description", "description_kind"}


def _real() -> dict:
    if not REAL_FILE.is_file():
        pytest.fail(f"reference schema missing: {REAL_FILE}")
    return json.loads(REAL_FILE.read_text())["provider_schemas"][SOURCE]


def _strip(schema: dict) -> dict:
    return {"version": schema["version"], "block": _strip_block(schema["block"])}


def _strip_block(block: dict) -> dict:
    # Drop prose keys of the block and its attributes, never attribute names
    # (hcloud_firewall.rule has an attribute called `description`).
    out = {k: v for k, v in block.items()
           if k not in PROSE and k not in ("attributes", "block_types")}
    if "attributes" in block:
        out["attributes"] = {name: {k: (_strip_block(v) if k == "nested_type" else v)
                                    for k, v in attr.items() if k not in PROSE}
                             for name, attr in block["attributes"].items()}
    if "block_types" in block:
        out["block_types"] = {
            name: {**{k: v for k, v in entry.items() if k != "block"},
                   "block": _strip_block(entry["block"])}
            for name, entry in block["block_types"].items()}
    return out


def test_provider_version_matches_reference():
    data = json.loads(REAL_FILE.read_text())
    assert data["_source"]["provider_version"] == provider_schema.PROVIDER_VERSION


def test_provider_config_block_equals_real():
    assert provider_schema.provider_block() == _strip(_real()["provider"])


@pytest.mark.parametrize("type_name", provider_schema.RESOURCE_TYPES)
def test_resource_schema_equals_real(type_name):
    real = _real()["resource_schemas"]
    assert type_name in real, f"{type_name} is not a resource of the real provider"
    assert provider_schema.resource_schema(type_name) == _strip(real[type_name])


def test_covers_every_resource_the_project_serves():
    wanted = {
        "hcloud_server", "hcloud_volume", "hcloud_volume_attachment",
        "hcloud_firewall", "hcloud_firewall_attachment", "hcloud_placement_group",
        "hcloud_ssh_key", "hcloud_network", "hcloud_network_subnet",
        "hcloud_network_route", "hcloud_server_network", "hcloud_load_balancer",
        "hcloud_load_balancer_service", "hcloud_load_balancer_target",
        "hcloud_load_balancer_network", "hcloud_primary_ip", "hcloud_floating_ip",
        "hcloud_floating_ip_assignment", "hcloud_managed_certificate", "hcloud_rdns",
        "hcloud_zone", "hcloud_zone_rrset",
    }
    assert set(provider_schema.RESOURCE_TYPES) == wanted
    assert list(provider_schema.RESOURCE_TYPES) == sorted(wanted)


def test_unknown_type_raises_key_error():
    with pytest.raises(KeyError):
        provider_schema.resource_schema("hcloud_nope")


def test_returned_schema_is_a_copy():
    first = provider_schema.resource_schema("hcloud_server")
    first["block"]["attributes"].clear()
    assert provider_schema.resource_schema("hcloud_server")["block"]["attributes"]


def test_notation_rejects_unknown_type():
    with pytest.raises(ValueError):
        provider_schema._parse("x tuple(string) opt")

"""Inventory and name conflicts: ownership by Terraform state, else by labels."""
from __future__ import annotations

import responses

from checks.hetzner_api import open_client
from checks.inventory import (FAMILIES, FamilyInventory, Inventory, Resource, find_conflicts,
                              read_inventory, state_ids)
from tests.checks.preflight_support import TOKEN

OURS = (("environment", "production"), ("managed-by", "hetzner-deploy"),
        ("project", "autoscale-ai"))
PLANNED = {"servers": ["autoscale-ai-production"], "volumes": ["autoscale-ai-production-data"],
           "firewalls": ["autoscale-ai-production-firewall"],
           "ssh_keys": ["autoscale-ai-production-key"],
           "placement_groups": ["autoscale-ai-production-pg"]}


def inventory(**families: tuple[Resource, ...]) -> Inventory:
    return Inventory(tuple(FamilyInventory(f, f, families.get(f, ())) for f in FAMILIES))


def conflicts(inv, owned=None):
    return find_conflicts(inv, PLANNED, project="autoscale-ai", environment="production",
                          owned_ids=owned)


def test_empty_project_has_no_conflicts():
    assert conflicts(inventory()) == ()
    assert inventory().total == 0


def test_foreign_resource_with_a_planned_name_conflicts():
    inv = inventory(firewalls=(Resource(7, "autoscale-ai-production-firewall"),),
                    servers=(Resource(8, "someone-else"),))
    (c,) = conflicts(inv)
    assert (c.family, c.name, c.resource_id) == ("firewalls", "autoscale-ai-production-firewall", 7)
    assert "labels" in c.reason


def test_labelled_resource_of_ours_is_not_a_conflict():
    inv = inventory(volumes=(Resource(3, "autoscale-ai-production-data", OURS),))
    assert conflicts(inv) == ()


def test_labels_of_another_environment_still_conflict():
    staging = tuple((k, "staging" if k == "environment" else v) for k, v in OURS)
    inv = inventory(volumes=(Resource(3, "autoscale-ai-production-data", staging),))
    assert len(conflicts(inv)) == 1


def test_state_ids_win_over_labels():
    # Labelled as ours but not in state: a copy made by hand -> conflict.
    inv = inventory(ssh_keys=(Resource(5, "autoscale-ai-production-key", OURS),),
                    servers=(Resource(9, "autoscale-ai-production"),))
    owned = {"ssh_keys": set(), "servers": {9}}
    (c,) = conflicts(inv, owned)
    assert c.family == "ssh_keys" and "state" in c.reason


def test_state_ids_from_show_json_and_from_raw_state():
    show = {"values": {"root_module": {
        "resources": [
            {"type": "hcloud_server", "mode": "managed", "values": {"id": "42"}},
            {"type": "hcloud_server", "mode": "data", "values": {"id": "99"}},
            {"type": "hcloud_volume_attachment", "mode": "managed", "values": {"id": "1"}}],
        "child_modules": [{"resources": [
            {"type": "hcloud_firewall", "mode": "managed", "values": {"id": "7"}}]}]}}}
    raw = {"version": 4, "resources": [
        {"type": "hcloud_volume", "mode": "managed", "instances": [{"attributes": {"id": "3"}}]},
        {"type": "hcloud_ssh_key", "mode": "managed", "instances": [{"attributes": {"id": 5}}]}]}
    ids = state_ids(show)
    assert ids["servers"] == {42} and ids["firewalls"] == {7} and ids["volumes"] == set()
    ids = state_ids(raw)
    assert ids["volumes"] == {3} and ids["ssh_keys"] == {5} and ids["servers"] == set()


@responses.activate
def test_read_inventory_lists_all_nine_families():
    url = "http://api.test/v1"
    page = {"pagination": {"page": 1, "per_page": 50, "previous_page": None, "next_page": None,
                           "last_page": 1, "total_entries": 0}}
    for family in FAMILIES:
        items = []
        if family == "servers":
            items = [{"id": 2, "name": "b", "labels": {}}, {"id": 1, "name": "a", "labels": {"x": "y"}}]
        responses.get(f"{url}/{family}", json={family: items, "meta": page})
    inv = read_inventory(open_client(url, TOKEN))
    assert [f.family for f in inv.families] == list(FAMILIES)
    assert inv.family("servers").names == ("a", "b")
    assert inv.family("servers").resources[0].label("x") == "y"
    assert inv.family("certificates").count == 0
    assert inv.total == 2

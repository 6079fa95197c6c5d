"""Removed API surface is gone, as on Hetzner: `datacenter` in server and
primary IP requests and responses (dropped on 2026-07-01), /datacenters
(410 `deprecated_api_endpoint` since 1 Oct 2026) and GET /actions without
`id` (removed on 2025-01-30). The official hcloud
library and the project's availability check keep working without them."""
from __future__ import annotations

import pytest
from hcloud import APIException
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.server_types import ServerType

from checks.availability import (AVAILABLE, UNAVAILABLE, UNKNOWN, check_availability,
                                 datacenter_available_ids)

from .test_openapi import spec, validate  # noqa: F401 (spec is a fixture)


@pytest.mark.parametrize("path", ["/datacenters", "/datacenters/12", "/datacenters?name=nbg1-dc3"])
def test_datacenters_answer_410(emulator, spec, path):
    status, body, _ = emulator.api("GET", path)
    assert status == 410
    assert body["error"]["code"] == "deprecated_api_endpoint"
    assert body["error"]["details"]["announcement"].startswith("https://docs.hetzner.cloud/changelog#")
    validate(spec, "GET", "/datacenters" if path.count("/") == 1 else "/datacenters/{id}", status, body)


def test_listing_every_action_is_gone(emulator, spec):
    made = emulator.api("POST", "/servers", {"name": "w", "server_type": "cpx22", "image": "debian-12"})[1]
    status, body, _ = emulator.api("GET", "/actions")
    assert (status, body["error"]["code"]) == (410, "deprecated_api_endpoint")
    validate(spec, "GET", "/actions", status, body)
    wanted = made["action"]["id"]
    status, body, _ = emulator.api("GET", f"/actions?id={wanted}")
    assert status == 200 and [a["id"] for a in body["actions"]] == [wanted]


def test_no_datacenter_in_server_or_primary_ip(emulator):
    status, made, _ = emulator.api("POST", "/servers", {"name": "web", "server_type": "cpx22",
                                                        "image": "debian-12", "location": "hel1"})
    assert status == 201 and "datacenter" not in made["server"]
    assert made["server"]["location"]["name"] == "hel1"
    listed = emulator.api("GET", "/servers")[1]["servers"][0]
    assert "datacenter" not in listed
    pips = emulator.api("GET", "/primary_ips")[1]["primary_ips"]
    assert pips and all("datacenter" not in p and p["location"]["name"] == "hel1" for p in pips)


@pytest.mark.parametrize("path,body", [
    ("/servers", {"name": "web", "server_type": "cpx22", "image": "debian-12", "datacenter": "nbg1-dc3"}),
    ("/primary_ips", {"name": "ip", "type": "ipv4", "assignee_type": "server", "datacenter": "nbg1-dc3"}),
])
def test_datacenter_in_a_request_is_refused(emulator, path, body):
    status, err, _ = emulator.api("POST", path, body)
    assert (status, err["error"]["code"]) == (422, "invalid_input")
    assert err["error"]["details"]["fields"][0]["name"] == "datacenter"
    assert emulator.admin("GET", "/_sandbox/state")["counts"] == {f: 0 for f in (
        "servers", "volumes", "firewalls", "placement_groups", "ssh_keys", "networks",
        "load_balancers", "floating_ips", "primary_ips", "certificates", "zones")}


def test_the_official_library_works_without_them(hcloud_client):
    made = hcloud_client.servers.create(name="web", server_type=ServerType(name="ccx33"),
                                        image=Image(name="ubuntu-24.04"), location=Location(name="fsn1"))
    made.action.wait_until_finished()
    server = hcloud_client.servers.get_by_id(made.server.id)
    assert server.location.name == "fsn1" and server.status == "running"
    pip = hcloud_client.primary_ips.create(type="ipv4", name="spare", location=Location(name="fsn1"),
                                           assignee_type="server").primary_ip
    assert pip.location.name == "fsn1"
    with pytest.raises(APIException) as caught, pytest.warns(DeprecationWarning, match="datacenters"):
        hcloud_client.datacenters.get_all()
    assert caught.value.code == "deprecated_api_endpoint"


def test_availability_check_relies_on_server_type_locations(emulator, hcloud_client):
    """checks/availability.py: /datacenters gone → None, and the verdict comes
    from server_types[].locations[] alone."""
    assert datacenter_available_ids(hcloud_client, "nbg1") is None
    found = check_availability(hcloud_client, server_types=("ccx33", "cpx22", "cx23", "cx22"),
                               load_balancer_types=("lb11",), location="nbg1", image="ubuntu-22.04")
    assert [(t.name, t.status) for t in found.types] == [
        ("ccx33", AVAILABLE), ("cpx22", AVAILABLE),
        ("cx23", UNAVAILABLE),   # shared-vCPU CX "not available" in 2026-09
        ("cx22", UNKNOWN),       # removed at the end of 2025: no longer listed
        ("lb11", AVAILABLE)]
    emulator.admin("POST", "/_sandbox/availability", {"server_type": "ccx33", "location": "nbg1",
                                                      "available": False})
    again = check_availability(hcloud_client, server_types=("ccx33",),
                               location="nbg1", image="ubuntu-22.04")
    assert again.types[0].status == UNAVAILABLE and not again.ok

"""Input validation and error statuses as Hetzner documents them: the
operation-specific tables in ../shared/hetzner_cloud_openapi.json and the
general error table of docs.hetzner.cloud (invalid_input 422, locked and
protected 423, method_not_allowed 405, deprecated_api_endpoint 410)."""
from __future__ import annotations

import http.client
import json

import pytest

from .test_openapi import spec, validate  # noqa: F401 (spec is a fixture)


def server(emulator, name="web", **extra):
    body = dict({"name": name, "server_type": "cpx22", "image": "debian-12", "location": "nbg1"}, **extra)
    status, payload, _ = emulator.api("POST", "/servers", body)
    assert status == 201, payload
    return payload["server"]["id"]


def error(emulator, method, path, body=None):
    status, payload, _ = emulator.api(method, path, body)
    return status, payload["error"]["code"] if payload else None


def rule(**extra):
    return dict({"direction": "in", "protocol": "tcp", "port": "22", "source_ips": ["198.51.100.0/24"]}, **extra)


# -- user_data -----------------------------------------------------------------
def test_user_data_is_limited_to_32_kib(emulator):
    limit = 32 * 1024
    assert error(emulator, "POST", "/servers", {"name": "big", "server_type": "cpx22", "image": "debian-12",
                                                "user_data": "#" * (limit + 1)}) == (422, "invalid_input")
    assert emulator.admin("GET", "/_sandbox/state")["counts"]["servers"] == 0
    # Bytes, not characters: 16385 two-byte characters are 32770 bytes.
    assert error(emulator, "POST", "/servers", {"name": "wide", "server_type": "cpx22", "image": "debian-12",
                                                "user_data": "é" * (limit // 2 + 1)}) == (422, "invalid_input")
    sid = server(emulator, user_data="#" * limit)
    assert error(emulator, "POST", f"/servers/{sid}/actions/rebuild",
                 {"image": "debian-12", "user_data": "#" * (limit + 1)}) == (422, "invalid_input")


# -- firewalls -----------------------------------------------------------------
@pytest.mark.parametrize("cidr,stored", [
    ("198.51.100.7", "198.51.100.7/32"),
    ("2001:db8::1", "2001:db8::1/128"),
    ("198.51.100.0/24", "198.51.100.0/24"),
    ("0.0.0.0/0", "0.0.0.0/0"),
])
def test_a_bare_address_becomes_a_host_network(emulator, cidr, stored):
    status, body, _ = emulator.api("POST", "/firewalls", {"name": "fw", "rules": [rule(source_ips=[cidr])]})
    assert status == 201, body
    assert body["firewall"]["rules"][0]["source_ips"] == [stored]


@pytest.mark.parametrize("cidr", ["198.51.100.7/24", "10.0.0.1/8", "2001:db8::1/64", "300.1.1.1", "", "any"])
def test_cidrs_with_host_bits_or_garbage_are_refused(emulator, cidr):
    assert error(emulator, "POST", "/firewalls", {"name": "fw", "rules": [rule(source_ips=[cidr])]}) == \
        (422, "invalid_input")
    assert emulator.admin("GET", "/_sandbox/state")["counts"]["firewalls"] == 0


@pytest.mark.parametrize("port,ok", [("80", True), ("80-85", True), ("80-80", True), ("any", True),
                                     ("80-79", False), ("0", False), ("65536", False), ("1-2-3", False),
                                     ("80\n", False), (80, False)])
def test_port_ranges_must_ascend(emulator, port, ok):
    status, _, _ = emulator.api("POST", "/firewalls", {"name": "fw", "rules": [rule(port=port)]})
    assert status == (201 if ok else 422)


def test_at_most_50_rules(emulator):
    rules = [rule(port=str(1000 + i)) for i in range(50)]
    status, body, _ = emulator.api("POST", "/firewalls", {"name": "fw", "rules": rules})
    assert status == 201 and len(body["firewall"]["rules"]) == 50
    fid = body["firewall"]["id"]
    too_many = rules + [rule(port="2000")]
    assert error(emulator, "POST", f"/firewalls/{fid}/actions/set_rules", {"rules": too_many}) == \
        (422, "invalid_input")
    assert error(emulator, "POST", "/firewalls", {"name": "fw2", "rules": too_many}) == (422, "invalid_input")
    assert len(emulator.api("GET", f"/firewalls/{fid}")[1]["firewall"]["rules"]) == 50


def test_applying_a_server_twice(emulator, spec):
    sid = server(emulator)
    twice = [{"type": "server", "server": {"id": sid}}] * 2
    status, body, _ = emulator.api("POST", "/firewalls", {"name": "fw", "apply_to": twice})
    assert (status, body["error"]["code"]) == (422, "server_already_added")
    validate(spec, "POST", "/firewalls", status, body)
    fid = emulator.api("POST", "/firewalls", {"name": "fw", "apply_to": twice[:1]})[1]["firewall"]["id"]
    status, body, _ = emulator.api("POST", f"/firewalls/{fid}/actions/apply_to_resources", {"apply_to": twice[:1]})
    assert (status, body["error"]["code"]) == (422, "firewall_already_applied")
    assert error(emulator, "POST", f"/firewalls/{fid}/actions/apply_to_resources",
                 {"apply_to": [{"type": "server", "server": {"id": 999999}}]}) == (404, "firewall_resource_not_found")
    assert error(emulator, "POST", "/firewalls", {"name": "fw3", "apply_to": [
        {"type": "server", "server": {"id": 999999}}]}) == (422, "firewall_resource_not_found")


def test_a_server_reached_by_label_cannot_be_removed_by_id(emulator):
    sid = server(emulator, labels={"role": "web"})
    fid = emulator.api("POST", "/firewalls", {"name": "fw", "apply_to": [
        {"type": "label_selector", "label_selector": {"selector": "role=web"}}]})[1]["firewall"]["id"]
    remove = {"remove_from": [{"type": "server", "server": {"id": sid}}]}
    assert error(emulator, "POST", f"/firewalls/{fid}/actions/remove_from_resources", remove) == \
        (422, "firewall_managed_by_label_selector")
    assert emulator.api("GET", f"/servers/{sid}")[1]["server"]["public_net"]["firewalls"] == [
        {"id": fid, "status": "applied"}]
    # Removing the selector itself works.
    assert emulator.api("POST", f"/firewalls/{fid}/actions/remove_from_resources", {"remove_from": [
        {"type": "label_selector", "label_selector": {"selector": "role=web"}}]})[0] == 201
    assert emulator.api("GET", f"/servers/{sid}")[1]["server"]["public_net"]["firewalls"] == []


def test_deleting_a_firewall_in_use_is_422(emulator):
    sid = server(emulator)
    fid = emulator.api("POST", "/firewalls", {"name": "fw", "apply_to": [
        {"type": "server", "server": {"id": sid}}]})[1]["firewall"]["id"]
    assert error(emulator, "DELETE", f"/firewalls/{fid}") == (422, "resource_in_use")


# -- servers -------------------------------------------------------------------
def test_rebuild_protection_is_enforced(emulator):
    sid = server(emulator)
    assert emulator.api("POST", f"/servers/{sid}/actions/change_protection",
                        {"delete": True, "rebuild": True})[0] == 201
    assert error(emulator, "POST", f"/servers/{sid}/actions/rebuild", {"image": "ubuntu-24.04"}) == \
        (423, "protected")
    assert emulator.api("GET", f"/servers/{sid}")[1]["server"]["image"]["name"] == "debian-12"


@pytest.mark.parametrize("body", [{"delete": True}, {"rebuild": True}, {"delete": True, "rebuild": False}])
def test_server_protection_flags_must_stay_equal(emulator, body):
    sid = server(emulator)
    assert error(emulator, "POST", f"/servers/{sid}/actions/change_protection", body) == (422, "invalid_input")
    assert emulator.api("GET", f"/servers/{sid}")[1]["server"]["protection"] == {"delete": False, "rebuild": False}


def test_operation_errors_are_422_as_the_description_says(emulator):
    sid = server(emulator)
    assert error(emulator, "POST", f"/servers/{sid}/actions/change_type",
                 {"server_type": "cpx32", "upgrade_disk": False}) == (422, "server_not_stopped")
    pip = emulator.api("GET", f"/servers/{sid}")[1]["server"]["public_net"]["ipv4"]["id"]
    assert error(emulator, "DELETE", f"/primary_ips/{pip}") == (422, "must_be_unassigned")
    assert error(emulator, "POST", f"/primary_ips/{pip}/actions/unassign") == (422, "server_not_stopped")
    fip = emulator.api("POST", "/floating_ips", {"type": "ipv4", "server": sid})[1]["floating_ip"]["id"]
    assert error(emulator, "DELETE", f"/floating_ips/{fip}") == (422, "must_be_unassigned")
    vid = emulator.api("POST", "/volumes", {"name": "v", "size": 10, "server": sid})[1]["volume"]["id"]
    assert error(emulator, "POST", f"/volumes/{vid}/actions/attach", {"server": sid}) == \
        (422, "volume_already_attached")


# -- volumes -------------------------------------------------------------------
@pytest.mark.parametrize("name,ok", [("data", True), ("app_data-1.v2", True), ("with space", False),
                                     ("slash/name", False), ("ümlaut", False), ("semi;colon", False)])
def test_volume_names(emulator, name, ok):
    status, _, _ = emulator.api("POST", "/volumes", {"name": name, "size": 10, "location": "nbg1"})
    assert status == (201 if ok else 422)


def test_renaming_a_volume_follows_the_same_rule(emulator):
    vid = emulator.api("POST", "/volumes", {"name": "data", "size": 10, "location": "nbg1"})[1]["volume"]["id"]
    assert error(emulator, "PUT", f"/volumes/{vid}", {"name": "bad name"}) == (422, "invalid_input")
    assert emulator.api("GET", f"/volumes/{vid}")[1]["volume"]["name"] == "data"


# -- unknown paths and methods answer JSON -------------------------------------
def _raw(emulator, method: str, path: str):
    host, port = emulator.server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request(method, path, headers={"Authorization": f"Bearer {emulator.token}"})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type"), resp.read()
    finally:
        conn.close()


@pytest.mark.parametrize("method,path,status,code", [
    ("GET", "/v1/no_such_family", 404, "not_found"),
    ("GET", "/v2/servers", 404, "not_found"),
    ("GET", "/", 404, "not_found"),
    ("PATCH", "/v1/servers", 405, "method_not_allowed"),
    ("DELETE", "/v1/servers", 405, "method_not_allowed"),
    ("PUT", "/v1/pricing", 405, "method_not_allowed"),
    ("OPTIONS", "/v1/servers", 405, "method_not_allowed"),
    ("BREW", "/v1/servers", 405, "method_not_allowed"),
])
def test_unknown_paths_and_methods_answer_json(emulator, method, path, status, code):
    got_status, content_type, raw = _raw(emulator, method, path)
    assert (got_status, content_type) == (status, "application/json")
    assert json.loads(raw)["error"]["code"] == code


def test_head_has_no_body(emulator):
    status, content_type, raw = _raw(emulator, "HEAD", "/v1/servers")
    assert status == 405 and raw == b""

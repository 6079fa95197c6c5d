"""The emulator's HTTP behaviour: auth, pagination, label selectors, sorting,
error codes, availability switches, address ranges and injected faults."""
from __future__ import annotations

import ipaddress
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from hcloud import APIException
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.server_types import ServerType

from .conftest import start_emulator

PUBKEY = (Path(__file__).resolve().parents[2] / "examples" / "example_ed25519.pub").read_text()


def server_body(name, **extra):
    return dict({"name": name, "server_type": "cpx12", "image": "ubuntu-24.04", "location": "fsn1"}, **extra)


@pytest.mark.parametrize("auth", ["", "Bearer wrong", "Bearer ", "Basic {token}", "{token}"])
def test_missing_or_wrong_token_is_401(emulator, auth):
    status, body, _ = emulator.request("GET", "/v1/servers", auth=auth.format(token=emulator.token))
    assert status == 401
    assert body["error"]["code"] == "unauthorized" and body["error"]["details"] == {}
    assert emulator.request("GET", "/v1/servers")[0] == 200


def test_admin_endpoints_need_the_token(emulator):
    assert emulator.request("GET", "/_sandbox/state", token="nope")[0] == 401
    assert emulator.request("POST", "/_sandbox/faults", {"count": 1, "status": 503}, token="nope")[0] == 401


def test_pagination_meta(emulator):
    for i in range(7):
        assert emulator.api("POST", "/ssh_keys", {"name": f"k{i}", "public_key": _key(i)})[0] == 201
    status, page2, _ = emulator.api("GET", "/ssh_keys?page=2&per_page=3")
    assert status == 200
    assert [k["name"] for k in page2["ssh_keys"]] == ["k3", "k4", "k5"]
    assert page2["meta"]["pagination"] == {"page": 2, "per_page": 3, "previous_page": 1, "next_page": 3,
                                           "last_page": 3, "total_entries": 7}
    last = emulator.api("GET", "/ssh_keys?page=3&per_page=3")[1]
    assert last["meta"]["pagination"]["next_page"] is None and len(last["ssh_keys"]) == 1
    assert emulator.api("GET", "/ssh_keys?per_page=500")[1]["meta"]["pagination"]["per_page"] == 50
    status, err, _ = emulator.api("GET", "/ssh_keys?page=zero")
    assert status == 422 and err["error"]["code"] == "invalid_input"


def _key(i: int) -> str:
    """A distinct, well-formed ed25519 public key per i."""
    import base64
    blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + bytes([i]) * 32
    return "ssh-ed25519 " + base64.b64encode(blob).decode()


def test_label_selectors_name_filter_and_sort(emulator):
    labels = [{"env": "prod", "tier": "web"}, {"env": "prod"}, {"env": "dev", "tier": "db"}, {}]
    for i, lab in enumerate(labels):
        assert emulator.api("POST", "/servers", server_body(f"s{i}", labels=lab))[0] == 201

    def names(query):
        status, body, _ = emulator.api("GET", "/servers?" + query)
        assert status == 200, body
        return [s["name"] for s in body["servers"]]

    assert names("label_selector=env=prod") == ["s0", "s1"]
    assert names("label_selector=env==prod,tier") == ["s0"]
    assert names("label_selector=env!=prod") == ["s2", "s3"]
    assert names("label_selector=!tier") == ["s1", "s3"]
    assert names("label_selector=env%20in%20(dev,prod),tier") == ["s0", "s2"]
    assert names("label_selector=env%20notin%20(prod)") == ["s2", "s3"]
    assert names("name=s2") == ["s2"]
    assert names("sort=name:desc") == ["s3", "s2", "s1", "s0"]
    assert names("sort=id:asc") == ["s0", "s1", "s2", "s3"]
    assert names("status=running&label_selector=env") == ["s0", "s1", "s2"]
    status, err, _ = emulator.api("GET", "/servers?label_selector=a=b=c")
    assert status == 422 and err["error"]["code"] == "invalid_input"
    assert emulator.api("GET", "/servers?sort=colour")[0] == 422


def test_uniqueness_protection_and_invalid_input(emulator):
    assert emulator.api("POST", "/servers", server_body("dup"))[0] == 201
    status, err, _ = emulator.api("POST", "/servers", server_body("dup"))
    assert status == 409 and err["error"]["code"] == "uniqueness_error"
    status, err, _ = emulator.api("POST", "/volumes", {"name": "v", "location": "fsn1"})
    assert status == 422 and err["error"]["code"] == "invalid_input"
    assert err["error"]["details"]["fields"][0]["name"] == "size"
    status, vol, _ = emulator.api("POST", "/volumes", {"name": "v", "size": 10, "location": "fsn1"})
    vid = vol["volume"]["id"]
    emulator.api("POST", f"/volumes/{vid}/actions/change_protection", {"delete": True})
    status, err, _ = emulator.api("DELETE", f"/volumes/{vid}")
    assert status == 423 and err["error"]["code"] == "protected"
    assert emulator.api("GET", f"/volumes/{vid}")[0] == 200
    status, err, _ = emulator.api("GET", "/volumes/424242")
    assert status == 404 and err["error"]["code"] == "not_found"
    status, err, _ = emulator.request("POST", "/v1/volumes", None)
    assert status == 422 and err["error"]["code"] == "invalid_input"


def test_deleting_an_attached_volume_is_refused(emulator):
    sid = emulator.api("POST", "/servers", server_body("a"))[1]["server"]["id"]
    vid = emulator.api("POST", "/volumes", {"name": "v", "size": 10, "server": sid})[1]["volume"]["id"]
    status, err, _ = emulator.api("DELETE", f"/volumes/{vid}")
    assert status == 423 and err["error"]["code"] == "locked"
    emulator.api("POST", f"/volumes/{vid}/actions/detach")
    assert emulator.api("DELETE", f"/volumes/{vid}")[0] == 204


def test_server_type_availability(emulator, hcloud_client):
    status, err, _ = emulator.api("POST", "/servers", server_body("us", server_type="cx23", location="ash"))
    assert status == 422 and err["error"]["code"] == "invalid_input"  # cx23 is not sold in ash at all
    emulator.admin("POST", "/_sandbox/availability", {"server_type": "ccx33", "location": "nbg1", "available": False})
    with pytest.raises(APIException) as caught:
        hcloud_client.servers.create(name="x", server_type=ServerType(name="ccx33"),
                                     image=Image(name="ubuntu-22.04"), location=Location(name="nbg1"))
    assert caught.value.code == "resource_unavailable"
    ccx33 = hcloud_client.server_types.get_by_name("ccx33")
    nbg1 = next(loc for loc in ccx33.locations if loc.location.name == "nbg1")
    assert nbg1.available is False
    assert emulator.api("POST", "/servers", server_body("elsewhere", server_type="ccx33", location="fsn1"))[0] == 201
    emulator.admin("POST", "/_sandbox/availability", {"server_type": "ccx33", "location": "nbg1", "available": True})
    assert emulator.api("POST", "/servers", server_body("back", server_type="ccx33", location="nbg1"))[0] == 201
    assert emulator.request("POST", "/_sandbox/availability", {"server_type": "zz9", "location": "nbg1"})[0] == 422


def test_addresses_come_from_documentation_ranges(emulator):
    for i in range(3):
        server = emulator.api("POST", "/servers", server_body(f"s{i}"))[1]["server"]
        assert ipaddress.ip_address(server["public_net"]["ipv4"]["ip"]) in ipaddress.ip_network("203.0.113.0/24")
        assert ipaddress.ip_network(server["public_net"]["ipv6"]["ip"]).subnet_of(
            ipaddress.ip_network("2001:db8::/32"))
    ips = [s["public_net"]["ipv4"]["ip"] for s in emulator.api("GET", "/servers")[1]["servers"]]
    assert len(set(ips)) == 3


def test_ip_range_is_configurable(tmp_path):
    running = start_emulator(tmp_path / "s", ip_range="192.0.2.0/28")
    try:
        ips = [running.api("POST", "/servers", server_body(f"s{i}"))[1]["server"]["public_net"]["ipv4"]["ip"]
               for i in range(3)]
        assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("192.0.2.0/28") for ip in ips)
    finally:
        running.server.close()
    with pytest.raises(ValueError):
        start_emulator(tmp_path / "t", ip_range="2001:db8::/64")


def test_fault_injection_503_then_normal(emulator):
    emulator.admin("POST", "/_sandbox/faults", {"count": 2, "status": 503})
    for _ in range(2):
        status, err, _ = emulator.api("GET", "/servers")
        assert status == 503 and err["error"]["code"] == "unavailable"
    assert emulator.api("GET", "/servers")[0] == 200


def test_fault_injection_429_with_retry_after(emulator):
    emulator.admin("POST", "/_sandbox/faults", {"count": 1, "status": 429, "retry_after": 7})
    status, err, headers = emulator.api("GET", "/servers")
    assert status == 429 and err["error"]["code"] == "rate_limit_exceeded"
    assert headers["Retry-After"] == "7" and headers["RateLimit-Remaining"] == "0"
    assert emulator.api("GET", "/servers")[0] == 200


def test_hcloud_client_retries_through_a_rate_limit(emulator):
    emulator.admin("POST", "/_sandbox/faults", {"count": 1, "status": 429, "retry_after": 0})
    client = emulator.client()
    client._client._retry_interval_func = lambda retries: 0.01  # keep the test fast
    assert client.server_types.get_by_name("cpx22").name == "cpx22"
    assert emulator.admin("GET", "/_sandbox/faults")["faults"]["count"] == 0


def test_fault_injection_latency(emulator, monkeypatch):
    from sandbox.emulator import httpserver
    slept = []   # the emulator's waits, recorded instead of slept
    monkeypatch.setattr(httpserver, "time", SimpleNamespace(time=time.time, sleep=slept.append))
    emulator.admin("POST", "/_sandbox/faults", {"count": 1, "latency_ms": 300})
    assert emulator.api("GET", "/locations")[0] == 200
    assert slept == [0.3]
    assert emulator.api("GET", "/locations")[0] == 200
    assert slept == [0.3]   # count 1: the second request is not delayed


def test_fault_injection_rejects_nonsense(emulator):
    assert emulator.request("POST", "/_sandbox/faults", {"count": 1, "status": 418})[0] == 422
    assert emulator.request("POST", "/_sandbox/faults", {"count": -1})[0] == 422


def test_state_summary(emulator):
    emulator.api("POST", "/servers", server_body("s"))
    summary = emulator.admin("GET", "/_sandbox/state")
    assert summary["counts"]["servers"] == 1 and summary["counts"]["primary_ips"] == 2
    assert summary["ip_range"] == "203.0.113.0/24"


def test_firewall_by_label_shows_on_the_server(emulator):
    sid = emulator.api("POST", "/servers", server_body("s", labels={"role": "web"}))[1]["server"]["id"]
    fw = emulator.api("POST", "/firewalls", {"name": "fw", "apply_to": [
        {"type": "label_selector", "label_selector": {"selector": "role=web"}}]})[1]["firewall"]
    assert fw["applied_to"][0]["applied_to_resources"] == [{"type": "server", "server": {"id": sid}}]
    server = emulator.api("GET", f"/servers/{sid}")[1]["server"]
    assert server["public_net"]["firewalls"] == [{"id": fw["id"], "status": "applied"}]
    status, err, _ = emulator.api("POST", "/firewalls", {"name": "bad", "rules": [
        {"direction": "in", "protocol": "tcp", "source_ips": ["0.0.0.0/0"]}]})
    assert status == 422 and "port" in err["error"]["details"]["fields"][0]["name"]


def test_change_type_needs_a_stopped_server_and_refuses_shrinking_the_disk(emulator):
    sid = emulator.api("POST", "/servers", server_body("s", server_type="ccx33", location="nbg1"))[1]["server"]["id"]
    status, err, _ = emulator.api("POST", f"/servers/{sid}/actions/change_type",
                                  {"server_type": "ccx43", "upgrade_disk": True})
    assert status == 422 and err["error"]["code"] == "server_not_stopped"
    emulator.api("POST", f"/servers/{sid}/actions/poweroff")
    assert emulator.api("POST", f"/servers/{sid}/actions/change_type",
                        {"server_type": "ccx43", "upgrade_disk": True})[0] == 201
    status, err, _ = emulator.api("POST", f"/servers/{sid}/actions/change_type",
                                  {"server_type": "ccx33", "upgrade_disk": False})
    assert status == 422 and err["error"]["code"] == "invalid_server_type"


@pytest.mark.parametrize("labels,ok", [
    ({"managed-by": "hetzner-deploy", "env": "production"}, True),
    ({"hetzner-deploy.example/role": "web", "empty": ""}, True),
    ({"bad key": "x"}, False),
    ({"role": "has space"}, False),
    ({"role": "-leading-dash"}, False),
    ({"k": "x" * 64}, False),
    ({"Bad_Prefix.example/role": "web"}, False),
])
def test_label_rules(emulator, labels, ok):
    status, body, _ = emulator.api("POST", "/ssh_keys", {"name": "k", "public_key": _key(1), "labels": labels})
    if ok:
        assert status == 201 and body["ssh_key"]["labels"] == labels
    else:
        assert status == 422 and body["error"]["code"] == "invalid_input"


def test_injected_action_failure_reaches_the_client(emulator, hcloud_client):
    from hcloud.actions import ActionFailedException
    emulator.admin("POST", "/_sandbox/action_failures", {"count": 1, "code": "placement_error",
                                                         "message": "no host has room"})
    result = hcloud_client.servers.create(name="doomed", server_type=ServerType(name="cpx12"),
                                          image=Image(name="debian-12"))
    with pytest.raises(ActionFailedException) as caught:
        result.action.wait_until_finished(max_retries=3)
    assert caught.value.action.error == {"code": "placement_error", "message": "no host has room"}
    for action in result.next_actions:  # only the first action was doomed
        action.wait_until_finished(max_retries=3)


def test_concurrent_creates_get_distinct_ids_and_addresses(emulator):
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: emulator.api("POST", "/servers", server_body(f"p{i}")), range(40)))
    assert [r[0] for r in results] == [201] * 40
    servers = [r[1]["server"] for r in results]
    assert len({s["id"] for s in servers}) == 40
    assert len({s["public_net"]["ipv4"]["ip"] for s in servers}) == 40
    assert len({s["public_net"]["ipv6"]["ip"] for s in servers}) == 40
    assert emulator.api("GET", "/servers?per_page=50")[1]["meta"]["pagination"]["total_entries"] == 40


def test_exhausted_ip_range_is_a_clear_error_and_freed_addresses_return(tmp_path):
    running = start_emulator(tmp_path / "s", ip_range="192.0.2.0/29")  # 5 usable addresses
    try:
        ids = [running.api("POST", "/servers", server_body(f"s{i}"))[1]["server"]["id"] for i in range(5)]
        status, err, _ = running.api("POST", "/servers", server_body("one-too-many"))
        assert status == 412 and "IPv4" in err["error"]["message"]
        running.api("DELETE", f"/servers/{ids[0]}")
        assert running.api("POST", "/servers", server_body("fits-again"))[0] == 201
    finally:
        running.server.close()


def test_a_refused_create_leaves_nothing_behind(emulator):
    net = emulator.api("POST", "/networks", {"name": "n", "ip_range": "10.0.0.0/16"})[1]["network"]  # no subnet
    status, err, _ = emulator.api("POST", "/servers", server_body("s", networks=[net["id"]]))
    assert status == 422 and err["error"]["code"] == "no_subnet_available"
    counts = emulator.admin("GET", "/_sandbox/state")["counts"]
    assert counts["servers"] == 0 and counts["primary_ips"] == 0


def test_a_refused_update_changes_nothing(emulator):
    sid = emulator.api("POST", "/servers", server_body("s", labels={"a": "1"}))[1]["server"]["id"]
    status, _, _ = emulator.api("PUT", f"/servers/{sid}", {"name": "renamed", "labels": {"bad key": "x"}})
    assert status == 422
    server = emulator.api("GET", f"/servers/{sid}")[1]["server"]
    assert server["name"] == "s" and server["labels"] == {"a": "1"}
    status, _, _ = emulator.api("POST", "/load_balancers", {
        "name": "lb", "load_balancer_type": "lb11", "location": "fsn1",
        "services": [{"protocol": "https", "listen_port": 443, "destination_port": 80}]})  # no certificate
    assert status == 422 and emulator.admin("GET", "/_sandbox/state")["counts"]["load_balancers"] == 0

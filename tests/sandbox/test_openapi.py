"""Every family's list, get and create responses (and a sample of actions and
errors) validate against Hetzner's OpenAPI description in ../shared/."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from openapi_schema_validator import OAS30Validator

SPEC_PATH = Path(__file__).resolve().parents[2] / ".." / "shared" / "hetzner_cloud_openapi.json"
PUBKEY = (Path(__file__).resolve().parents[2] / "examples" / "example_ed25519.pub").read_text()


def _nullable_composites(node):
    """`nullable: true` next to allOf/oneOf (e.g. `deprecation`, action `error`)
    means "null or that schema" in the API's own examples, but the validator
    checks null against the inner schema too. Spell the intent out as anyOf."""
    if isinstance(node, list):
        return [_nullable_composites(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _nullable_composites(v) for k, v in node.items()}
    if node.get("nullable") and any(k in node for k in ("allOf", "oneOf", "anyOf")):
        rest = {k: v for k, v in node.items() if k != "nullable"}
        return {"anyOf": [{"enum": [None]}, rest]}
    return node


def _removed_datacenter(node, found: list | None = None):
    """The description (2026-02) still lists `datacenter` as required in
    servers and primary IPs, and says in the same place that it will be
    removed after 1 July 2026. It has been: both must validate without it
    (test_datacenter_is_gone checks that it is really gone)."""
    found = [] if found is None else found
    if isinstance(node, list):
        for item in node:
            _removed_datacenter(item, found)
    elif isinstance(node, dict):
        dc = (node.get("properties") or {}).get("datacenter")
        if isinstance(dc, dict) and "1 July 2026" in dc.get("description", "") and "datacenter" in node.get(
                "required", []):
            node["required"] = [r for r in node["required"] if r != "datacenter"]
            found.append(node)
        for value in node.values():
            _removed_datacenter(value, found)
    return found


@pytest.fixture(scope="session")
def spec() -> dict:
    if not SPEC_PATH.exists():
        pytest.fail(f"reference OpenAPI file missing: {SPEC_PATH}")
    loaded = _nullable_composites(json.loads(SPEC_PATH.read_text()))
    assert len(_removed_datacenter(loaded)) >= 2  # the server schema and the primary IP responses
    return loaded


def _deref(spec: dict, node: dict) -> dict:
    while "$ref" in node:
        node = spec["components"][node["$ref"].split("/")[-2]][node["$ref"].split("/")[-1]]
    return node


def validate(spec: dict, method: str, template: str, status: int, body) -> None:
    responses = spec["paths"][template][method.lower()]["responses"]
    key = str(status) if str(status) in responses else f"{str(status)[0]}xx"
    assert key in responses, f"{method} {template}: status {status} not in the spec ({sorted(responses)})"
    response = _deref(spec, responses[key])
    if "content" not in response:
        assert body is None, f"{method} {template} {status} should have no body"
        return
    schema = dict(response["content"]["application/json"]["schema"])
    schema["components"] = spec["components"]  # lets the "#/components/..." refs resolve
    errors = sorted(OAS30Validator(schema).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, f"{method} {template} {status}: " + "; ".join(
        f"{'/'.join(map(str, e.path))}: {e.message[:200]}" for e in errors[:5])


class Checker:
    def __init__(self, spec, emulator):
        self.spec, self.emulator = spec, emulator

    def __call__(self, method: str, template: str, path: str, body: dict | None = None,
                 expect: int | None = None):
        status, payload, _ = self.emulator.api(method, path, body)
        if expect is not None:
            assert status == expect, (method, path, status, payload)
        validate(self.spec, method, template, status, payload)
        return payload


@pytest.fixture
def check(spec, emulator):
    return Checker(spec, emulator)


READ_ONLY = [("/server_types", "/server_types/{id}", "server_types"), ("/images", "/images/{id}", "images"),
             ("/locations", "/locations/{id}", "locations"),
             ("/load_balancer_types", "/load_balancer_types/{id}", "load_balancer_types")]


@pytest.mark.parametrize("collection,item,key", READ_ONLY)
def test_catalogue_endpoints(check, collection, item, key):
    listed = check("GET", collection, collection, expect=200)
    assert listed[key], f"{collection} is empty"
    first = listed[key][0]["id"]
    check("GET", item, item.replace("{id}", str(first)), expect=200)
    check("GET", "/pricing", "/pricing", expect=200)


def _create_all(check) -> dict:
    ids = {}
    ids["ssh_key"] = check("POST", "/ssh_keys", "/ssh_keys", {"name": "k", "public_key": PUBKEY},
                           expect=201)["ssh_key"]["id"]
    ids["placement_group"] = check("POST", "/placement_groups", "/placement_groups",
                                   {"name": "pg", "type": "spread"}, expect=201)["placement_group"]["id"]
    ids["network"] = check("POST", "/networks", "/networks", {
        "name": "net", "ip_range": "10.0.0.0/16",
        "subnets": [{"type": "cloud", "network_zone": "eu-central", "ip_range": "10.0.1.0/24"}]},
        expect=201)["network"]["id"]
    ids["firewall"] = check("POST", "/firewalls", "/firewalls", {
        "name": "fw", "rules": [{"direction": "in", "protocol": "tcp", "port": "22",
                                 "source_ips": ["198.51.100.7/32"]}]}, expect=201)["firewall"]["id"]
    ids["server"] = check("POST", "/servers", "/servers", {
        "name": "web", "server_type": "ccx33", "image": "ubuntu-22.04", "location": "nbg1",
        "ssh_keys": ["k"], "placement_group": ids["placement_group"], "networks": [ids["network"]],
        "firewalls": [{"firewall": ids["firewall"]}], "labels": {"role": "web"}}, expect=201)["server"]["id"]
    ids["volume"] = check("POST", "/volumes", "/volumes", {
        "name": "data", "size": 50, "server": ids["server"], "automount": True, "format": "ext4"},
        expect=201)["volume"]["id"]
    ids["floating_ip"] = check("POST", "/floating_ips", "/floating_ips", {
        "type": "ipv4", "home_location": "nbg1", "server": ids["server"]}, expect=201)["floating_ip"]["id"]
    ids["primary_ip"] = check("POST", "/primary_ips", "/primary_ips", {
        "name": "spare", "type": "ipv4", "assignee_type": "server", "location": "nbg1"},
        expect=201)["primary_ip"]["id"]
    ids["certificate"] = check("POST", "/certificates", "/certificates", {
        "name": "cert", "type": "managed", "domain_names": ["app.example.com"]}, expect=201)["certificate"]["id"]
    ids["load_balancer"] = check("POST", "/load_balancers", "/load_balancers", {
        "name": "lb", "load_balancer_type": "lb11", "location": "nbg1", "network": ids["network"],
        "services": [{"protocol": "https", "listen_port": 443, "destination_port": 80, "proxyprotocol": False,
                      "http": {"certificates": [ids["certificate"]]},
                      "health_check": {"protocol": "http", "port": 80, "interval": 15, "timeout": 10,
                                       "retries": 3, "http": {"path": "/health", "domain": None}}}],
        "targets": [{"type": "server", "server": {"id": ids["server"]}, "use_private_ip": True},
                    {"type": "label_selector", "label_selector": {"selector": "role=web"}}]},
        expect=201)["load_balancer"]["id"]
    return ids


FAMILIES = ["ssh_keys", "placement_groups", "networks", "firewalls", "servers", "volumes", "floating_ips",
            "primary_ips", "certificates", "load_balancers"]


def test_create_get_list_update_for_every_family(check):
    ids = _create_all(check)
    for family in FAMILIES:
        rid = ids[family[:-1]]
        listed = check("GET", f"/{family}", f"/{family}", expect=200)
        assert rid in [o["id"] for o in listed[family]]
        got = check("GET", f"/{family}/{{id}}", f"/{family}/{rid}", expect=200)
        assert got[family[:-1]]["id"] == rid
        check("PUT", f"/{family}/{{id}}", f"/{family}/{rid}", {"labels": {"env": "test"}}, expect=200)


def test_actions_and_errors_validate(check, emulator):
    ids = _create_all(check)
    sid = ids["server"]
    posted = check("POST", "/servers/{id}/actions/poweroff", f"/servers/{sid}/actions/poweroff", expect=201)
    aid = posted["action"]["id"]
    check("GET", "/actions/{id}", f"/actions/{aid}", expect=200)
    check("GET", "/actions", f"/actions?id={aid}", expect=200)
    check("GET", "/servers/{id}/actions", f"/servers/{sid}/actions", expect=200)
    check("GET", "/servers/actions/{id}", f"/servers/actions/{aid}", expect=200)
    check("POST", "/servers/{id}/actions/change_type", f"/servers/{sid}/actions/change_type",
          {"server_type": "ccx43", "upgrade_disk": False}, expect=201)
    check("POST", "/firewalls/{id}/actions/set_rules", f"/firewalls/{ids['firewall']}/actions/set_rules",
          {"rules": []}, expect=201)
    check("POST", "/volumes/{id}/actions/resize", f"/volumes/{ids['volume']}/actions/resize",
          {"size": 60}, expect=201)
    check("POST", "/networks/{id}/actions/add_route", f"/networks/{ids['network']}/actions/add_route",
          {"destination": "10.100.1.0/24", "gateway": "10.0.1.1"}, expect=201)
    check("POST", "/load_balancers/{id}/actions/change_algorithm",
          f"/load_balancers/{ids['load_balancer']}/actions/change_algorithm",
          {"type": "least_connections"}, expect=201)
    # errors: not found, invalid input, uniqueness
    check("GET", "/servers/{id}", "/servers/999999", expect=404)
    check("POST", "/volumes", "/volumes", {"name": "bad"}, expect=422)
    check("POST", "/ssh_keys", "/ssh_keys", {"name": "k", "public_key": PUBKEY}, expect=409)
    # deletes: 204 without a body, servers return their action
    check("DELETE", "/servers/{id}", f"/servers/{sid}", expect=200)
    check("DELETE", "/ssh_keys/{id}", f"/ssh_keys/{ids['ssh_key']}", expect=204)


def _action_sequence(ids: dict) -> list[tuple[str, dict | None]]:
    """(template, body) for every action endpoint, in an order the state allows."""
    s, v, n, f, lb = ids["server"], ids["volume"], ids["network"], ids["firewall"], ids["load_balancer"]
    fip, pip, cert, pg = ids["floating_ip"], ids["primary_ip"], ids["certificate"], ids["placement_group"]
    return [
        ("/servers/{id}/actions/poweroff", None), ("/servers/{id}/actions/poweron", None),
        ("/servers/{id}/actions/reboot", None), ("/servers/{id}/actions/reset", None),
        ("/servers/{id}/actions/shutdown", None),
        ("/servers/{id}/actions/change_type", {"server_type": "ccx43", "upgrade_disk": False}),
        ("/servers/{id}/actions/enable_backup", None), ("/servers/{id}/actions/disable_backup", None),
        ("/servers/{id}/actions/change_protection", {"delete": True, "rebuild": True}),
        ("/servers/{id}/actions/change_protection", {"delete": False, "rebuild": False}),
        ("/servers/{id}/actions/change_dns_ptr", {"ip": "203.0.113.2", "dns_ptr": "x.example.com"}),
        ("/servers/{id}/actions/remove_from_placement_group", None),
        ("/servers/{id}/actions/add_to_placement_group", {"placement_group": pg}),
        ("/servers/{id}/actions/detach_from_network", {"network": n}),
        ("/servers/{id}/actions/attach_to_network", {"network": n, "ip": "10.0.1.50"}),
        ("/servers/{id}/actions/change_alias_ips", {"network": n, "alias_ips": ["10.0.1.51"]}),
        ("/servers/{id}/actions/rebuild", {"image": "ubuntu-24.04"}),
        ("/volumes/{id}/actions/detach", None), ("/volumes/{id}/actions/attach", {"server": s, "automount": False}),
        ("/volumes/{id}/actions/resize", {"size": 80}), ("/volumes/{id}/actions/change_protection", {"delete": False}),
        ("/firewalls/{id}/actions/set_rules", {"rules": [
            {"direction": "out", "protocol": "udp", "port": "53", "destination_ips": ["0.0.0.0/0"]}]}),
        ("/firewalls/{id}/actions/apply_to_resources", {"apply_to": [
            {"type": "label_selector", "label_selector": {"selector": "role=web"}}]}),
        ("/firewalls/{id}/actions/remove_from_resources", {"remove_from": [{"type": "server", "server": {"id": s}}]}),
        ("/networks/{id}/actions/add_subnet", {"type": "cloud", "network_zone": "eu-central"}),
        ("/networks/{id}/actions/delete_subnet", {"ip_range": "10.0.0.0/24"}),
        ("/networks/{id}/actions/add_route", {"destination": "10.100.0.0/24", "gateway": "10.0.1.1"}),
        ("/networks/{id}/actions/delete_route", {"destination": "10.100.0.0/24", "gateway": "10.0.1.1"}),
        ("/networks/{id}/actions/change_ip_range", {"ip_range": "10.0.0.0/15"}),
        ("/networks/{id}/actions/change_protection", {"delete": False}),
        ("/floating_ips/{id}/actions/unassign", None), ("/floating_ips/{id}/actions/assign", {"server": s}),
        ("/floating_ips/{id}/actions/change_dns_ptr", {"ip": "203.0.113.4", "dns_ptr": None}),
        ("/floating_ips/{id}/actions/change_protection", {"delete": False}),
        ("/primary_ips/{id}/actions/change_dns_ptr", {"ip": "203.0.113.5", "dns_ptr": "p.example.com"}),
        ("/primary_ips/{id}/actions/change_protection", {"delete": False}),
        ("/certificates/{id}/actions/retry", None),
        ("/load_balancers/{id}/actions/add_service", {"protocol": "tcp", "listen_port": 22, "destination_port": 22,
                                                      "proxyprotocol": False}),
        ("/load_balancers/{id}/actions/update_service", {"listen_port": 22, "destination_port": 2222}),
        ("/load_balancers/{id}/actions/delete_service", {"listen_port": 22}),
        ("/load_balancers/{id}/actions/add_target", {"type": "ip", "ip": {"ip": "198.51.100.10"}}),
        ("/load_balancers/{id}/actions/remove_target", {"type": "ip", "ip": {"ip": "198.51.100.10"}}),
        ("/load_balancers/{id}/actions/change_algorithm", {"type": "least_connections"}),
        ("/load_balancers/{id}/actions/change_type", {"load_balancer_type": "lb21"}),
        ("/load_balancers/{id}/actions/change_protection", {"delete": False}),
        ("/load_balancers/{id}/actions/change_dns_ptr", {"ip": "203.0.113.6", "dns_ptr": "lb.example.com"}),
        ("/load_balancers/{id}/actions/detach_from_network", {"network": n}),
        ("/load_balancers/{id}/actions/attach_to_network", {"network": n, "ip": "10.0.1.60"}),
        ("/load_balancers/{id}/actions/disable_public_interface", None),
        ("/load_balancers/{id}/actions/enable_public_interface", None),
    ], {"servers": s, "volumes": v, "firewalls": f, "networks": n, "floating_ips": fip, "primary_ips": pip,
        "certificates": cert, "load_balancers": lb}


def test_every_action_endpoint_validates(check, emulator):
    ids = _create_all(check)
    sequence, by_family = _action_sequence(ids)
    ips = {o["id"]: o["ip"] for o in emulator.api("GET", "/primary_ips")[1]["primary_ips"]}
    fip_ip = emulator.api("GET", f"/floating_ips/{ids['floating_ip']}")[1]["floating_ip"]["ip"]
    lb_ip = emulator.api("GET", f"/load_balancers/{ids['load_balancer']}")[1]["load_balancer"]["public_net"]["ipv4"]["ip"]
    server_ip = emulator.api("GET", f"/servers/{ids['server']}")[1]["server"]["public_net"]["ipv4"]["ip"]
    fixups = {"/servers/{id}/actions/change_dns_ptr": server_ip, "/floating_ips/{id}/actions/change_dns_ptr": fip_ip,
              "/primary_ips/{id}/actions/change_dns_ptr": ips[ids["primary_ip"]],
              "/load_balancers/{id}/actions/change_dns_ptr": lb_ip}
    seen = set()
    for template, body in sequence:
        family = template.split("/")[1]
        if template in fixups:
            body = dict(body, ip=fixups[template])
        if template == "/servers/{id}/actions/add_to_placement_group":
            check("POST", "/servers/{id}/actions/poweroff", f"/servers/{by_family['servers']}/actions/poweroff")
        path = template.replace("{id}", str(by_family[family]))
        check("POST", template, path, body, expect=201)
        seen.add(template)
    # Primary IPs move only between stopped servers: swap the server's own IPv4 for the spare one.
    server = emulator.api("GET", f"/servers/{ids['server']}")[1]["server"]
    assert server["status"] == "off"
    own = server["public_net"]["ipv4"]["id"]
    check("POST", "/primary_ips/{id}/actions/unassign", f"/primary_ips/{own}/actions/unassign", expect=201)
    check("POST", "/primary_ips/{id}/actions/assign", f"/primary_ips/{ids['primary_ip']}/actions/assign",
          {"assignee_id": ids["server"], "assignee_type": "server"}, expect=201)
    seen |= {"/primary_ips/{id}/actions/unassign", "/primary_ips/{id}/actions/assign"}
    implemented = {p.replace("(?P<id>[^/]+)", "{id}").strip("^$").removesuffix("/?")
                   for p in (r[1].pattern for r in emulator.server.router._routes if r[0] == "POST")
                   if "/actions/" in p and not p.startswith("^/zones/")}  # test_emulator_zones.py
    assert implemented - seen == set(), "action endpoints without a validation check"
    for family, rid in by_family.items():
        listed = check("GET", f"/{family}/{{id}}/actions", f"/{family}/{rid}/actions", expect=200)
        assert listed["actions"], family
        check("GET", f"/{family}/actions", f"/{family}/actions?sort=id:desc&status=success", expect=200)


def test_error_bodies_validate(spec, emulator, check):
    status, body, _ = emulator.request("GET", "/v1/servers", token="wrong")
    assert status == 401
    validate(spec, "GET", "/servers", status, body)
    emulator.admin("POST", "/_sandbox/faults", {"count": 1, "status": 429})
    check("GET", "/volumes", "/volumes", expect=429)
    emulator.admin("POST", "/_sandbox/faults", {"count": 1, "status": 503})
    check("GET", "/volumes", "/volumes", expect=503)
    emulator.admin("POST", "/_sandbox/availability", {"server_type": "cpx22", "location": "fsn1", "available": False})
    check("POST", "/servers", "/servers", {"name": "x", "server_type": "cpx22", "image": "debian-12",
                                           "location": "fsn1"}, expect=412)
    vid = check("POST", "/volumes", "/volumes", {"name": "v", "size": 10, "location": "fsn1"}, expect=201)["volume"]["id"]
    check("POST", "/volumes/{id}/actions/change_protection", f"/volumes/{vid}/actions/change_protection",
          {"delete": True}, expect=201)
    check("DELETE", "/volumes/{id}", f"/volumes/{vid}", expect=423)

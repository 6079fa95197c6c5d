"""Firewalls: rules, and the servers they apply to (directly or by label).

Validation as the API does it (OpenAPI: POST /firewalls, set_rules,
apply_to_resources, remove_from_resources): at most 50 rules; CIDRs must
have no host bits set, a bare address is stored as /32 (/128); a port range
is ascending; the same server twice in one request is `server_already_added`,
one already applied is `firewall_already_applied`, one reached only through a
label selector cannot be removed by id (`firewall_managed_by_label_selector`).
"""
from __future__ import annotations

import ipaddress
import re

from .apierrors import ApiFault, invalid_input
from .query import listing, parse_selector
from .routing import Call, Router, add_action_routes, check_labels, check_name, require, update_common
from .selectors import firewalls_for_server, servers_matching
from .store import Store, now

PROTOCOLS = ("tcp", "udp", "icmp", "esp", "gre")
PORT = re.compile(r"(any|\d{1,5}(-\d{1,5})?)")
MAX_RULES = 50


def _port_ok(port) -> bool:
    if not isinstance(port, str) or not PORT.fullmatch(port):
        return False
    if port == "any":
        return True
    bounds = [int(p) for p in port.split("-")]
    return all(1 <= p <= 65535 for p in bounds) and bounds == sorted(bounds)


def _cidr(value, field: str) -> str:
    """A bare address becomes a /32 (/128) network; host bits set are refused."""
    try:
        text = value if "/" in value else f"{value}/{32 if ':' not in value else 128}"
        return str(ipaddress.ip_network(text, strict=True))
    except (ValueError, TypeError):
        raise invalid_input(f"invalid CIDR {value!r}: host bits set or not an address",
                            **{field: f"invalid CIDR {value}"}) from None


def _rule(raw: dict, index: int) -> dict:
    field = f"rules[{index}]"
    if not isinstance(raw, dict):
        raise invalid_input("invalid rule", **{field: "must be an object"})
    direction, protocol, port = raw.get("direction"), raw.get("protocol"), raw.get("port")
    if direction not in ("in", "out"):
        raise invalid_input("invalid rule direction", **{f"{field}.direction": "must be in or out"})
    if protocol not in PROTOCOLS:
        raise invalid_input("invalid rule protocol", **{f"{field}.protocol": f"must be one of {PROTOCOLS}"})
    if protocol in ("tcp", "udp"):
        if not _port_ok(port):
            raise invalid_input("invalid rule port", **{
                f"{field}.port": "a port (1-65535) or an ascending range like 80-85 is required for tcp and udp"})
    elif port not in (None, ""):
        raise invalid_input("invalid rule port", **{f"{field}.port": f"port is not allowed for {protocol}"})
    ips_key = "source_ips" if direction == "in" else "destination_ips"
    ips = raw.get(ips_key) or []
    if not ips:
        raise invalid_input(f"{ips_key} is required", **{f"{field}.{ips_key}": "must not be empty"})
    if not isinstance(ips, list):
        raise invalid_input(f"{ips_key} must be a list", **{f"{field}.{ips_key}": "must be a list"})
    ips = [_cidr(cidr, f"{field}.{ips_key}") for cidr in ips]
    return {"direction": direction, "protocol": protocol, "port": port if protocol in ("tcp", "udp") else None,
            "source_ips": ips if direction == "in" else [],
            "destination_ips": ips if direction == "out" else [],
            "description": raw.get("description")}


def _rules(raw) -> list[dict]:
    if len(raw) > MAX_RULES:
        raise invalid_input(f"a firewall has at most {MAX_RULES} rules (got {len(raw)})",
                            rules=f"at most {MAX_RULES} rules")
    return [_rule(r, i) for i, r in enumerate(raw)]


def _target(store: Store, raw: dict, missing_status: int = 404) -> dict:
    kind = (raw or {}).get("type") if isinstance(raw, dict) else None
    if kind == "server":
        sid = (raw.get("server") or {}).get("id")
        if store.find("servers", sid) is None:
            raise ApiFault(missing_status, "firewall_resource_not_found", f"server {sid} not found")
        return {"type": "server", "server": {"id": int(sid)}}
    if kind == "label_selector":
        selector = (raw.get("label_selector") or {}).get("selector")
        if not selector:
            raise invalid_input("label_selector.selector is required", label_selector="missing selector")
        parse_selector(selector)
        return {"type": "label_selector", "label_selector": {"selector": selector}}
    raise invalid_input("invalid apply_to type", type="must be server or label_selector")


def render(store: Store, fw: dict) -> dict:
    applied = []
    for entry in fw["applied_to"]:
        if entry["type"] == "server":
            applied.append({"type": "server", "server": dict(entry["server"])})
        else:
            applied.append({"type": "label_selector", "label_selector": dict(entry["label_selector"]),
                            "applied_to_resources": [
                                {"type": "server", "server": {"id": sid}}
                                for sid in servers_matching(store, entry["label_selector"]["selector"])]})
    return {"id": fw["id"], "name": fw["name"], "labels": dict(fw["labels"]), "created": fw["created"],
            "rules": [dict(r) for r in fw["rules"]], "applied_to": applied}


def _actions(store: Store, fw: dict, commands: list[str], targets: list[dict] = ()) -> list[dict]:
    out = []  # one request's actions: only the first waits for the firewall to be free
    for command in commands:
        out.append(store.action(command, [(fw["id"], "firewall")], follow_up=bool(out)))
    for target in targets:
        extra = [(target["server"]["id"], "server")] if target["type"] == "server" else []
        out.append(store.action("apply_firewall", [(fw["id"], "firewall"), *extra], follow_up=bool(out)))
    return out


def _no_repeats(targets: list[dict]) -> None:
    servers = [t["server"]["id"] for t in targets if t["type"] == "server"]
    if len(servers) != len(set(servers)):
        raise ApiFault(422, "server_already_added", "the same server is named more than once")


def create(call: Call):
    store, body = call.store, call.body
    require(body, "name")
    name = check_name(store, "firewalls", body["name"])
    rules = _rules(body.get("rules") or [])
    # POST /firewalls answers a missing server with 422 (apply_to_resources: 404).
    targets = [_target(store, t, 422) for t in body.get("apply_to") or []]
    _no_repeats(targets)
    fw = {"id": store.new_id(), "name": name, "labels": check_labels(body), "created": now(),
          "rules": rules, "applied_to": targets}
    store.put("firewalls", fw)
    actions = _actions(store, fw, ["set_firewall_rules"] if rules else [], targets)
    return 201, {"firewall": render(store, fw), "actions": actions}


def _fw(call: Call) -> dict:
    return call.store.get("firewalls", call.params["id"], "firewall")


def set_rules(call: Call):
    fw = _fw(call)
    if "rules" not in call.body or not isinstance(call.body["rules"], list):
        raise invalid_input("invalid input in field 'rules'", rules="Missing data for required field.")
    fw["rules"] = _rules(call.body["rules"])
    call.store.touch()
    servers = [t for t in fw["applied_to"] if t["type"] == "server"]
    return 201, {"actions": _actions(call.store, fw, ["set_firewall_rules"], servers)}


def apply_to_resources(call: Call):
    fw = _fw(call)
    targets = [_target(call.store, t) for t in call.body.get("apply_to") or []]
    _no_repeats(targets)
    for target in targets:
        if target in fw["applied_to"]:
            raise ApiFault(422, "firewall_already_applied", "firewall is already applied to this resource")
    fw["applied_to"].extend(targets)
    call.store.touch()
    return 201, {"actions": _actions(call.store, fw, [], targets)}


def remove_from_resources(call: Call):
    fw = _fw(call)
    targets = []
    for raw in call.body.get("remove_from") or []:
        kind = (raw or {}).get("type")
        if kind == "server":
            sid = (raw.get("server") or {}).get("id")
            if call.store.find("servers", sid) is None:
                raise ApiFault(404, "firewall_resource_not_found", f"server {sid} not found")
            target = {"type": "server", "server": {"id": int(sid)}}
            if target not in fw["applied_to"] and fw["id"] in firewalls_for_server(
                    call.store, call.store.get("servers", sid)):
                raise ApiFault(422, "firewall_managed_by_label_selector",
                               f"firewall reaches server {sid} through a label selector; "
                               "remove the selector instead")
            targets.append(target)
        elif kind == "label_selector":
            targets.append({"type": "label_selector",
                            "label_selector": {"selector": (raw.get("label_selector") or {}).get("selector")}})
        else:
            raise invalid_input("invalid remove_from type", type="must be server or label_selector")
    # Since 2025 the API no longer errors on removing something not applied.
    fw["applied_to"] = [a for a in fw["applied_to"] if a not in targets]
    call.store.touch()
    actions = [call.store.action("remove_firewall", [(fw["id"], "firewall")] +
                                 ([(t["server"]["id"], "server")] if t["type"] == "server" else []),
                                 follow_up=i > 0)
               for i, t in enumerate(targets)]
    return 201, {"actions": actions}


def update(call: Call):
    fw = _fw(call)
    update_common(call.store, "firewalls", fw, call.body)
    return {"firewall": render(call.store, fw)}


def delete(call: Call):
    fw = _fw(call)
    if fw["applied_to"]:
        raise ApiFault(422, "resource_in_use", "firewall is still applied to resources; remove it from them first")
    call.store.delete("firewalls", fw["id"])
    return 204, None


def register(router: Router) -> None:
    router.add("GET", "/firewalls", lambda c: listing(
        c.query, "firewalls", [render(c.store, f) for f in c.store.all("firewalls")]))
    router.add("POST", "/firewalls", create)
    router.add("GET", "/firewalls/{id}", lambda c: {"firewall": render(c.store, _fw(c))})
    router.add("PUT", "/firewalls/{id}", update)
    router.add("DELETE", "/firewalls/{id}", delete)
    router.add("POST", "/firewalls/{id}/actions/set_rules", set_rules)
    router.add("POST", "/firewalls/{id}/actions/apply_to_resources", apply_to_resources)
    router.add("POST", "/firewalls/{id}/actions/remove_from_resources", remove_from_resources)
    add_action_routes(router, "firewalls", "firewall")

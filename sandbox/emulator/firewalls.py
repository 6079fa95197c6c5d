"""Firewalls: rules, and the servers they apply to (directly or by label)."""
from __future__ import annotations

import ipaddress
import re

from .apierrors import ApiFault, invalid_input
from .query import listing, parse_selector
from .routing import Call, Router, add_action_routes, check_labels, check_name, require, update_common
from .selectors import servers_matching
from .store import Store, now

PROTOCOLS = ("tcp", "udp", "icmp", "esp", "gre")
PORT = re.compile(r"^(any|\d{1,5}(-\d{1,5})?)$")


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
        if not isinstance(port, str) or not PORT.match(port) or any(
                int(p) > 65535 or int(p) < 1 for p in port.split("-") if p != "any"):
            raise invalid_input("invalid rule port", **{f"{field}.port": "port is required for tcp and udp"})
    elif port not in (None, ""):
        raise invalid_input("invalid rule port", **{f"{field}.port": f"port is not allowed for {protocol}"})
    ips_key = "source_ips" if direction == "in" else "destination_ips"
    ips = raw.get(ips_key) or []
    if not ips:
        raise invalid_input(f"{ips_key} is required", **{f"{field}.{ips_key}": "must not be empty"})
    for cidr in ips:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except (ValueError, TypeError):
            raise invalid_input(f"invalid CIDR {cidr!r}", **{f"{field}.{ips_key}": f"invalid CIDR {cidr}"}) from None
    return {"direction": direction, "protocol": protocol, "port": port if protocol in ("tcp", "udp") else None,
            "source_ips": list(raw.get("source_ips") or []) if direction == "in" else [],
            "destination_ips": list(raw.get("destination_ips") or []) if direction == "out" else [],
            "description": raw.get("description")}


def _target(store: Store, raw: dict) -> dict:
    kind = (raw or {}).get("type")
    if kind == "server":
        sid = (raw.get("server") or {}).get("id")
        if store.find("servers", sid) is None:
            raise ApiFault(404, "firewall_resource_not_found", f"server {sid} not found")
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
    out = []
    for command in commands:
        out.append(store.action(command, [(fw["id"], "firewall")]))
    for target in targets:
        extra = [(target["server"]["id"], "server")] if target["type"] == "server" else []
        out.append(store.action("apply_firewall", [(fw["id"], "firewall"), *extra]))
    return out


def create(call: Call):
    store, body = call.store, call.body
    require(body, "name")
    name = check_name(store, "firewalls", body["name"])
    rules = [_rule(r, i) for i, r in enumerate(body.get("rules") or [])]
    targets = [_target(store, t) for t in body.get("apply_to") or []]
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
    fw["rules"] = [_rule(r, i) for i, r in enumerate(call.body["rules"])]
    call.store.touch()
    servers = [t for t in fw["applied_to"] if t["type"] == "server"]
    return 201, {"actions": _actions(call.store, fw, ["set_firewall_rules"], servers)}


def apply_to_resources(call: Call):
    fw = _fw(call)
    targets = [_target(call.store, t) for t in call.body.get("apply_to") or []]
    for target in targets:
        if target in fw["applied_to"]:
            raise ApiFault(409, "firewall_already_applied", "firewall is already applied to this resource")
    fw["applied_to"].extend(targets)
    call.store.touch()
    return 201, {"actions": _actions(call.store, fw, [], targets)}


def remove_from_resources(call: Call):
    fw = _fw(call)
    targets = []
    for raw in call.body.get("remove_from") or []:
        kind = (raw or {}).get("type")
        if kind == "server":
            targets.append({"type": "server", "server": {"id": int((raw.get("server") or {}).get("id", 0))}})
        elif kind == "label_selector":
            targets.append({"type": "label_selector",
                            "label_selector": {"selector": (raw.get("label_selector") or {}).get("selector")}})
        else:
            raise invalid_input("invalid remove_from type", type="must be server or label_selector")
    # Since 2025 the API no longer errors on removing something not applied.
    fw["applied_to"] = [a for a in fw["applied_to"] if a not in targets]
    call.store.touch()
    actions = [call.store.action("remove_firewall", [(fw["id"], "firewall")] +
                                 ([(t["server"]["id"], "server")] if t["type"] == "server" else []))
               for t in targets]
    return 201, {"actions": actions}


def update(call: Call):
    fw = _fw(call)
    update_common(call.store, "firewalls", fw, call.body)
    return {"firewall": render(call.store, fw)}


def delete(call: Call):
    fw = _fw(call)
    if fw["applied_to"]:
        raise ApiFault(409, "resource_in_use", "firewall is still applied to resources; remove it from them first")
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

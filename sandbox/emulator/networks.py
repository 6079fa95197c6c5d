"""Private networks: subnets, routes, IP ranges, and handing out private IPs
to servers and load balancers."""
from __future__ import annotations

import ipaddress

from .apierrors import ApiFault, invalid_input
from .query import listing
from .routing import (Call, Router, add_action_routes, check_labels, check_name, ensure_unprotected,
                      protection_change, require, update_common)
from .store import Store, now

ZONES = ("eu-central", "us-east", "us-west", "ap-southeast")


def _net(value: str, field: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except (ValueError, TypeError):
        raise invalid_input(f"invalid input in field '{field}'", **{field: "not a valid IPv4 network"}) from None
    if net.version != 4 or not net.is_private:
        raise invalid_input(f"invalid input in field '{field}'", **{field: "must be a private IPv4 network"})
    return net


def _gateway(network: dict) -> str:
    return str(next(ipaddress.ip_network(network["ip_range"]).hosts()))


def render(store: Store, net: dict) -> dict:
    out = {k: v for k, v in net.items()}
    out["subnets"] = [dict(s) for s in net["subnets"]]
    out["routes"] = [dict(r) for r in net["routes"]]
    out["servers"] = sorted(s["id"] for s in store.all("servers")
                            if any(p["network"] == net["id"] for p in s["private_net"]))
    out["load_balancers"] = sorted(lb["id"] for lb in store.all("load_balancers")
                                   if any(p["network"] == net["id"] for p in lb["private_net"]))
    return out


def _make_subnet(network: dict, body: dict) -> dict:
    require(body, "type", "network_zone")
    if body["type"] not in ("cloud", "server", "vswitch"):
        raise invalid_input("invalid subnet type", type="must be cloud, server or vswitch")
    if body["network_zone"] not in ZONES:
        raise invalid_input("invalid network zone", network_zone=f"must be one of {', '.join(ZONES)}")
    outer = ipaddress.ip_network(network["ip_range"])
    taken = [ipaddress.ip_network(s["ip_range"]) for s in network["subnets"]]
    if body.get("ip_range"):
        sub = _net(body["ip_range"], "ip_range")
        if not sub.subnet_of(outer):
            raise invalid_input("subnet is not inside the network's ip_range", ip_range="outside network")
        if any(sub.overlaps(t) for t in taken):
            raise ApiFault(422, "networks_overlap", "subnet overlaps an existing subnet")
    else:
        prefix = max(outer.prefixlen, 24)
        sub = next((c for c in outer.subnets(new_prefix=prefix) if not any(c.overlaps(t) for t in taken)), None)
        if sub is None:
            raise ApiFault(422, "no_subnet_available", "no room left for a subnet in this network")
    return {"type": body["type"], "ip_range": str(sub), "network_zone": body["network_zone"],
            "gateway": _gateway(network), "vswitch_id": body.get("vswitch_id")}


def _route(network: dict, body: dict) -> dict:
    require(body, "destination", "gateway")
    _net(body["destination"], "destination")
    try:
        gw = ipaddress.ip_address(body["gateway"])
    except ValueError:
        raise invalid_input("invalid gateway", gateway="not an IP address") from None
    if gw not in ipaddress.ip_network(network["ip_range"]):
        raise invalid_input("gateway must be inside the network", gateway="outside network")
    return {"destination": body["destination"], "gateway": body["gateway"]}


def allocate_ip(store: Store, network: dict, zone: str, wanted: str | None = None) -> str:
    """A free private IP for a server or load balancer in `zone`; the API's
    `ip_not_available` / `no_subnet_available` otherwise."""
    used = {p["ip"] for fam in ("servers", "load_balancers") for o in store.all(fam)
            for p in o["private_net"] if p["network"] == network["id"]}
    used |= {p for fam in ("servers",) for o in store.all(fam) for n in o["private_net"]
             if n["network"] == network["id"] for p in n.get("alias_ips", [])}
    subnets = [ipaddress.ip_network(s["ip_range"]) for s in network["subnets"]
               if s["type"] in ("cloud", "server") and s["network_zone"] == zone]
    if not subnets:
        raise ApiFault(422, "no_subnet_available", f"network has no subnet in network zone {zone}")
    gateway = _gateway(network)
    if wanted:
        try:
            ip = ipaddress.ip_address(wanted)
        except ValueError:
            raise invalid_input("invalid ip", ip="not an IP address") from None
        if not any(ip in s for s in subnets) or wanted in used or wanted == gateway:
            raise ApiFault(422, "ip_not_available", f"IP {wanted} is not available")
        return wanted
    for sub in subnets:
        for host in sub.hosts():
            if str(host) not in used and str(host) != gateway:
                return str(host)
    raise ApiFault(422, "no_subnet_available", "no free IP left in the network's subnets")


def create(call: Call):
    body = call.body
    require(body, "name", "ip_range")
    name = check_name(call.store, "networks", body["name"])
    ip_range = _net(body["ip_range"], "ip_range")
    network = {"id": 0, "name": name, "ip_range": str(ip_range), "subnets": [], "routes": [],
               "labels": check_labels(body), "protection": {"delete": False}, "created": now(),
               "expose_routes_to_vswitch": bool(body.get("expose_routes_to_vswitch", False))}
    network["subnets"] = []
    for sub in body.get("subnets") or []:
        network["subnets"].append(_make_subnet(network, sub))
    network["routes"] = [_route(network, r) for r in body.get("routes") or []]
    network["id"] = call.store.new_id()
    call.store.put("networks", network)
    return 201, {"network": render(call.store, network)}


def delete(call: Call):
    network = call.store.get("networks", call.params["id"], "network")
    ensure_unprotected(network, "network")
    for fam in ("servers", "load_balancers"):  # the API detaches them in the background
        for obj in call.store.all(fam):
            obj["private_net"] = [p for p in obj["private_net"] if p["network"] != network["id"]]
    call.store.delete("networks", network["id"])
    return 204, None


def _action(call: Call, network: dict, command: str):
    action = call.store.action(command, [(network["id"], "network")])
    call.store.touch()
    return 201, {"action": action}


def add_subnet(call: Call):
    network = call.store.get("networks", call.params["id"], "network")
    network["subnets"].append(_make_subnet(network, call.body))
    return _action(call, network, "add_subnet")


def delete_subnet(call: Call):
    network = call.store.get("networks", call.params["id"], "network")
    require(call.body, "ip_range")
    match = [s for s in network["subnets"] if s["ip_range"] == call.body["ip_range"]]
    if not match:
        raise ApiFault(404, "not_found", "subnet not found")
    sub = ipaddress.ip_network(match[0]["ip_range"])
    for fam in ("servers", "load_balancers"):
        for obj in call.store.all(fam):
            if any(p["network"] == network["id"] and ipaddress.ip_address(p["ip"]) in sub
                   for p in obj["private_net"]):
                raise ApiFault(409, "conflict", "subnet still has attached resources")
    network["subnets"].remove(match[0])
    return _action(call, network, "delete_subnet")


def add_route(call: Call):
    network = call.store.get("networks", call.params["id"], "network")
    route = _route(network, call.body)
    if route in network["routes"]:
        raise ApiFault(409, "conflict", "route already exists")
    network["routes"].append(route)
    return _action(call, network, "add_route")


def delete_route(call: Call):
    network = call.store.get("networks", call.params["id"], "network")
    route = {"destination": call.body.get("destination"), "gateway": call.body.get("gateway")}
    if route not in network["routes"]:
        raise ApiFault(404, "not_found", "route not found")
    network["routes"].remove(route)
    return _action(call, network, "delete_route")


def change_ip_range(call: Call):
    network = call.store.get("networks", call.params["id"], "network")
    require(call.body, "ip_range")
    new = _net(call.body["ip_range"], "ip_range")
    old = ipaddress.ip_network(network["ip_range"])
    if not old.subnet_of(new):
        raise invalid_input("the ip_range can only be extended", ip_range="must contain the current range")
    network["ip_range"] = str(new)
    return _action(call, network, "change_ip_range")


def change_protection(call: Call):
    network = call.store.get("networks", call.params["id"], "network")
    protection_change(call.store, network, call.body)
    return _action(call, network, "change_protection")


def update(call: Call):
    network = call.store.get("networks", call.params["id"], "network")
    update_common(call.store, "networks", network, call.body)
    if "expose_routes_to_vswitch" in call.body:
        network["expose_routes_to_vswitch"] = bool(call.body["expose_routes_to_vswitch"])
    return {"network": render(call.store, network)}


def register(router: Router) -> None:
    router.add("GET", "/networks", lambda c: listing(
        c.query, "networks", [render(c.store, n) for n in c.store.all("networks")]))
    router.add("POST", "/networks", create)
    router.add("GET", "/networks/{id}",
               lambda c: {"network": render(c.store, c.store.get("networks", c.params["id"], "network"))})
    router.add("PUT", "/networks/{id}", update)
    router.add("DELETE", "/networks/{id}", delete)
    for name, fn in (("add_subnet", add_subnet), ("delete_subnet", delete_subnet), ("add_route", add_route),
                     ("delete_route", delete_route), ("change_ip_range", change_ip_range),
                     ("change_protection", change_protection)):
        router.add("POST", f"/networks/{{id}}/actions/{name}", fn)
    add_action_routes(router, "networks", "network")

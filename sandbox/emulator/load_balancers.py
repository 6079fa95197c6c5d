"""Load balancers: services, targets, networks, algorithm, type."""
from __future__ import annotations

import copy
import ipaddress

from . import catalog, networks
from .apierrors import ApiFault, invalid_input
from .query import listing
from .routing import (Call, Router, add_action_routes, check_labels, check_name, ensure_unprotected,
                      protection_change, require, update_common)
from .selectors import servers_matching
from .store import Store, now

ALGORITHMS = ("round_robin", "least_connections")


def _port(value, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise invalid_input(f"invalid input in field '{field}'", **{field: "must be a port number"})
    return value


def _health_check(raw: dict | None, protocol: str, dest: int, old: dict | None = None) -> dict:
    base = old or {"protocol": "http" if protocol in ("http", "https") else "tcp", "port": dest,
                   "interval": 15, "timeout": 10, "retries": 3, "http": None}
    hc = dict(base, **{k: v for k, v in (raw or {}).items() if v is not None and k != "http"})
    if hc["protocol"] not in ("tcp", "http"):
        raise invalid_input("invalid health check protocol", health_check="protocol must be tcp or http")
    if hc["protocol"] == "http":
        http = dict(base.get("http") or {"domain": None, "path": "/", "response": "",
                                          "status_codes": ["2??", "3??"], "tls": False})
        http.update({k: v for k, v in ((raw or {}).get("http") or {}).items() if v is not None})
        hc["http"] = http
    else:
        hc.pop("http", None)
    return hc


def _service(raw: dict, old: dict | None = None) -> dict:
    if old is None:
        require(raw, "protocol", "listen_port", "destination_port")
    svc = copy.deepcopy(old) if old else {"proxyprotocol": False}
    for key in ("protocol", "listen_port", "destination_port", "proxyprotocol"):
        if raw.get(key) is not None:
            svc[key] = raw[key]
    if svc["protocol"] not in ("tcp", "http", "https"):
        raise invalid_input("invalid service protocol", protocol="must be tcp, http or https")
    _port(svc["listen_port"], "listen_port")
    _port(svc["destination_port"], "destination_port")
    svc["health_check"] = _health_check(raw.get("health_check"), svc["protocol"], svc["destination_port"],
                                        (old or {}).get("health_check"))
    if svc["protocol"] in ("http", "https"):
        http = dict((old or {}).get("http") or {"cookie_name": "HCLBSTICKY", "cookie_lifetime": 300,
                                                "certificates": [], "redirect_http": False,
                                                "sticky_sessions": False,
                                                # hcloud-python >= 2.x reads it; newer than
                                                # the OpenAPI file. 60 s is our guess.
                                                "timeout_idle": 60})
        http.update({k: v for k, v in (raw.get("http") or {}).items() if v is not None})
        svc["http"] = http
    else:
        svc.pop("http", None)
    return svc


def _check_certs(store: Store, svc: dict) -> None:
    if svc["protocol"] == "https":
        certs = svc["http"].get("certificates") or []
        if not certs:
            raise invalid_input("https services need a certificate", certificates="required for https")
        for cid in certs:
            store.get("certificates", cid, "certificate")


def _target(store: Store, lb: dict, raw: dict) -> dict:
    kind = (raw or {}).get("type")
    private = bool(raw.get("use_private_ip", False))
    if kind == "server":
        server = store.get("servers", (raw.get("server") or {}).get("id"), "server")
        if private:
            if not lb["private_net"]:
                raise ApiFault(422, "load_balancer_not_attached_to_network", "load balancer has no network")
            lb_nets = {p["network"] for p in lb["private_net"]}
            if not lb_nets & {p["network"] for p in server["private_net"]}:
                raise ApiFault(422, "server_not_attached_to_network",
                               "server is not in the load balancer's network")
        return {"type": "server", "server": {"id": server["id"]}, "use_private_ip": private}
    if kind == "label_selector":
        selector = (raw.get("label_selector") or {}).get("selector")
        if not selector:
            raise invalid_input("label_selector.selector is required", label_selector="missing")
        servers_matching(store, selector)  # validates the syntax
        return {"type": "label_selector", "label_selector": {"selector": selector}, "use_private_ip": private}
    if kind == "ip":
        ip = (raw.get("ip") or {}).get("ip")
        try:
            ipaddress.ip_address(ip)
        except (ValueError, TypeError):
            raise invalid_input("invalid target ip", ip="not an IP address") from None
        return {"type": "ip", "ip": {"ip": ip}}
    raise invalid_input("invalid target type", type="must be server, label_selector or ip")


def _health(store: Store, lb: dict):
    """health_status for one haproxy server name. Without sandbox machines
    every target is healthy; with them, what the load balancer's HAProxy
    reports (store.lb_health, kept by the machines controller), `unknown`
    before its first check or when it is not proxied at all."""
    ports = [s["listen_port"] for s in lb["services"]]
    reported = getattr(store, "lb_health", None)
    if reported is None:
        return lambda name: [{"listen_port": p, "status": "healthy"} for p in ports]
    mine = reported.get(lb["id"], {})
    return lambda name: [{"listen_port": p, "status": mine.get((p, name), "unknown")} for p in ports]


def _summary(per_server: list[list[dict]], ports: list[int]) -> list[dict]:
    """A label selector's own line: healthy when all its servers are, unhealthy when any is not."""
    out = []
    for i, port in enumerate(ports):
        states = {h[i]["status"] for h in per_server}
        status = "healthy" if states == {"healthy"} else "unhealthy" if "unhealthy" in states else "unknown"
        out.append({"listen_port": port, "status": status})
    return out


def render(store: Store, lb: dict) -> dict:
    health = _health(store, lb)
    ports = [s["listen_port"] for s in lb["services"]]
    targets = []
    for index, t in enumerate(lb["targets"]):
        shown = copy.deepcopy(t)
        if t["type"] == "label_selector":
            shown["targets"] = [{"type": "server", "server": {"id": sid}, "use_private_ip": t["use_private_ip"],
                                 "health_status": health(f"s{sid}")}
                                for sid in servers_matching(store, t["label_selector"]["selector"])]
            shown["health_status"] = _summary([x["health_status"] for x in shown["targets"]], ports) \
                if shown["targets"] else health("")
        else:
            shown["health_status"] = health(f"s{t['server']['id']}" if t["type"] == "server" else f"ip{index}")
        targets.append(shown)
    zone = catalog.LOCATIONS[lb["location"]][6]
    return {"id": lb["id"], "name": lb["name"], "created": lb["created"], "labels": dict(lb["labels"]),
            "protection": dict(lb["protection"]), "algorithm": dict(lb["algorithm"]),
            "load_balancer_type": catalog.load_balancer_type(lb["load_balancer_type"]),
            "location": catalog.location(lb["location"]), "public_net": copy.deepcopy(lb["public_net"]),
            "private_net": [dict(p) for p in lb["private_net"]], "services": copy.deepcopy(lb["services"]),
            "targets": targets, "included_traffic": catalog.INCLUDED_TRAFFIC[zone],
            "ingoing_traffic": 0, "outgoing_traffic": 0}


def _lb_type(key) -> str:
    name = catalog.load_balancer_type_by(key)
    if name is None:
        raise invalid_input("load balancer type not found", load_balancer_type="not found")
    return name


def create(call: Call):
    store, body = call.store, call.body
    require(body, "name", "load_balancer_type")
    name = check_name(store, "load_balancers", body["name"])
    lb_type = _lb_type(body["load_balancer_type"])
    location = body.get("location")
    if not location and body.get("network_zone"):
        location = next((n for n, row in catalog.LOCATIONS.items() if row[6] == body["network_zone"]), None)
    if location not in catalog.LOCATIONS:
        raise invalid_input("location or network_zone is required", location="not found")
    algorithm = (body.get("algorithm") or {}).get("type", "round_robin")
    if algorithm not in ALGORITHMS:
        raise invalid_input("invalid algorithm", algorithm="must be round_robin or least_connections")
    public = body.get("public_interface", True)
    lid = store.new_id()
    lb = {"id": lid, "name": name, "load_balancer_type": lb_type, "location": location,
          "algorithm": {"type": algorithm}, "labels": check_labels(body), "protection": {"delete": False},
          "created": now(), "private_net": [], "services": [], "targets": [],
          "public_net": {"enabled": bool(public), "ipv4": {"ip": None, "dns_ptr": None},
                         "ipv6": {"ip": None, "dns_ptr": None}}}
    # Validate everything before storing, so a refused create leaves nothing behind.
    if body.get("network"):
        net = store.get("networks", body["network"], "network")
        lb["private_net"].append({"network": net["id"],
                                  "ip": networks.allocate_ip(store, net, catalog.LOCATIONS[location][6])})
    for raw in body.get("services") or []:
        svc = _service(raw)
        _check_certs(store, svc)
        if any(s["listen_port"] == svc["listen_port"] for s in lb["services"]):
            raise ApiFault(422, "source_port_already_used", f"listen port {svc['listen_port']} is already used")
        lb["services"].append(svc)
    lb["targets"] = [_target(store, lb, raw) for raw in body.get("targets") or []]
    lb["public_net"]["ipv4"]["ip"] = store.next_ipv4()
    lb["public_net"]["ipv6"]["ip"] = store.next_ipv6_net().split("/")[0] + "1"
    store.put("load_balancers", lb)
    action = store.action("create_load_balancer", [(lid, "load_balancer")])
    return 201, {"load_balancer": render(store, lb), "action": action}


def _lb(call: Call) -> dict:
    return call.store.get("load_balancers", call.params["id"], "load balancer")


def _done(call: Call, lb: dict, command: str, extra=()):
    call.store.touch()
    return 201, {"action": call.store.action(command, [(lb["id"], "load_balancer"), *extra])}


def add_service(call: Call):
    lb = _lb(call)
    svc = _service(call.body)
    if any(s["listen_port"] == svc["listen_port"] for s in lb["services"]):
        raise ApiFault(422, "source_port_already_used", f"listen port {svc['listen_port']} is already used")
    _check_certs(call.store, svc)
    lb["services"].append(svc)
    return _done(call, lb, "add_service")


def _find_service(lb: dict, port) -> dict:
    svc = next((s for s in lb["services"] if s["listen_port"] == port), None)
    if svc is None:
        raise ApiFault(404, "not_found", f"no service listens on port {port}")
    return svc


def update_service(call: Call):
    lb = _lb(call)
    require(call.body, "listen_port")
    old = _find_service(lb, call.body["listen_port"])
    svc = _service(call.body, old)
    _check_certs(call.store, svc)
    lb["services"][lb["services"].index(old)] = svc
    return _done(call, lb, "update_service")


def delete_service(call: Call):
    lb = _lb(call)
    require(call.body, "listen_port")
    lb["services"].remove(_find_service(lb, call.body["listen_port"]))
    return _done(call, lb, "delete_service")


def _same_target(a: dict, b: dict) -> bool:
    return a["type"] == b["type"] and a.get(a["type"]) == b.get(b["type"])


def add_target(call: Call):
    lb = _lb(call)
    target = _target(call.store, lb, call.body)
    if any(_same_target(t, target) for t in lb["targets"]):
        raise ApiFault(422, "target_already_defined", "this target is already defined")
    # OpenAPI load_balancer_type.max_targets: "Number of targets a single Load
    # Balancer can have" (25 for lb11): a 3-tier scale-out past it must fail here too.
    most = catalog.LOAD_BALANCER_TYPES[lb["load_balancer_type"]][2]
    if len(lb["targets"]) >= most:
        raise ApiFault(403, "resource_limit_exceeded",
                       f"{lb['load_balancer_type']} allows at most {most} targets")
    lb["targets"].append(target)
    return _done(call, lb, "add_target")


def remove_target(call: Call):
    lb = _lb(call)
    wanted = dict(call.body)
    if not any(_same_target(t, wanted) for t in lb["targets"] if wanted.get("type")):
        raise ApiFault(404, "not_found", "target not found")
    lb["targets"] = [t for t in lb["targets"] if not _same_target(t, wanted)]
    return _done(call, lb, "remove_target")


def attach_to_network(call: Call):
    lb = _lb(call)
    require(call.body, "network")
    net = call.store.get("networks", call.body["network"], "network")
    if any(p["network"] == net["id"] for p in lb["private_net"]):
        raise ApiFault(422, "load_balancer_already_attached", "load balancer is already attached to this network")
    ip = networks.allocate_ip(call.store, net, catalog.LOCATIONS[lb["location"]][6], call.body.get("ip"))
    lb["private_net"].append({"network": net["id"], "ip": ip})
    return _done(call, lb, "attach_to_network", [(net["id"], "network")])


def detach_from_network(call: Call):
    lb = _lb(call)
    require(call.body, "network")
    if not any(p["network"] == call.body["network"] for p in lb["private_net"]):
        raise ApiFault(422, "load_balancer_not_attached_to_network", "load balancer is not in this network")
    lb["private_net"] = [p for p in lb["private_net"] if p["network"] != call.body["network"]]
    return _done(call, lb, "detach_from_network", [(call.body["network"], "network")])


def change_algorithm(call: Call):
    lb = _lb(call)
    if call.body.get("type") not in ALGORITHMS:
        raise invalid_input("invalid algorithm", type="must be round_robin or least_connections")
    lb["algorithm"] = {"type": call.body["type"]}
    return _done(call, lb, "change_algorithm")


def change_type(call: Call):
    lb = _lb(call)
    require(call.body, "load_balancer_type")
    new = _lb_type(call.body["load_balancer_type"])
    limits = catalog.LOAD_BALANCER_TYPES[new]
    if len(lb["services"]) > limits[1] or len(lb["targets"]) > limits[2]:
        raise ApiFault(422, "invalid_load_balancer_type", f"{new} is too small for this load balancer")
    lb["load_balancer_type"] = new
    return _done(call, lb, "change_load_balancer_type")


def change_protection(call: Call):
    lb = _lb(call)
    protection_change(call.store, lb, call.body)
    return _done(call, lb, "change_protection")


def change_dns_ptr(call: Call):
    lb = _lb(call)
    require(call.body, "ip")
    for family in ("ipv4", "ipv6"):
        if lb["public_net"][family]["ip"] == call.body["ip"]:
            lb["public_net"][family]["dns_ptr"] = call.body.get("dns_ptr")
            return _done(call, lb, "change_dns_ptr")
    raise invalid_input("ip does not belong to the load balancer", ip="not found")


def _public_interface(enabled: bool):
    def handler(call: Call):
        lb = _lb(call)
        lb["public_net"]["enabled"] = enabled
        return _done(call, lb, "enable_public_interface" if enabled else "disable_public_interface")
    return handler


def update(call: Call):
    lb = _lb(call)
    update_common(call.store, "load_balancers", lb, call.body)
    return {"load_balancer": render(call.store, lb)}


def delete(call: Call):
    lb = _lb(call)
    ensure_unprotected(lb, "load balancer")
    action = call.store.action("delete_load_balancer", [(lb["id"], "load_balancer")])
    call.store.delete("load_balancers", lb["id"])
    # The OpenAPI file (Feb 2026) says 204, but the current API and hcloud-python
    # 2.27 answer with the delete action, as for servers.
    return 200, {"action": action}


def register(router: Router) -> None:
    router.add("GET", "/load_balancers", lambda c: listing(
        c.query, "load_balancers", [render(c.store, lb) for lb in c.store.all("load_balancers")]))
    router.add("POST", "/load_balancers", create)
    router.add("GET", "/load_balancers/{id}", lambda c: {"load_balancer": render(c.store, _lb(c))})
    router.add("PUT", "/load_balancers/{id}", update)
    router.add("DELETE", "/load_balancers/{id}", delete)
    table = {"add_service": add_service, "update_service": update_service, "delete_service": delete_service,
             "add_target": add_target, "remove_target": remove_target,
             "attach_to_network": attach_to_network, "detach_from_network": detach_from_network,
             "change_algorithm": change_algorithm, "change_type": change_type,
             "change_protection": change_protection, "change_dns_ptr": change_dns_ptr,
             "enable_public_interface": _public_interface(True),
             "disable_public_interface": _public_interface(False)}
    for name, handler in table.items():
        router.add("POST", f"/load_balancers/{{id}}/actions/{name}", handler)
    add_action_routes(router, "load_balancers", "load_balancer")

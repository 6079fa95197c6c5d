"""Primary IPs (every server's public addresses) and floating IPs."""
from __future__ import annotations

from . import catalog
from .apierrors import ApiFault, invalid_input
from .query import listing
from .routing import (Call, Router, add_action_routes, check_labels, check_name, ensure_unprotected,
                      protection_change, require, update_common)
from .store import Store, now


def _address(store: Store, kind: str) -> str:
    if kind == "ipv4":
        return store.next_ipv4()
    if kind == "ipv6":
        return store.next_ipv6_net()
    raise invalid_input("invalid input in field 'type'", type="must be ipv4 or ipv6")


def new_primary_ip(store: Store, kind: str, location: str, assignee_id: int | None, *,
                   auto_delete: bool, name: str, labels: dict | None = None) -> dict:
    pip = {"id": store.new_id(), "name": name, "type": kind, "ip": _address(store, kind), "location": location,
           "assignee_id": assignee_id, "assignee_type": "server", "auto_delete": auto_delete,
           "labels": labels or {}, "protection": {"delete": False}, "created": now(), "dns_ptr": [],
           "blocked": False}
    return store.put("primary_ips", pip)


def set_dns_ptr(obj: dict, ip: str, ptr: str | None) -> None:
    obj["dns_ptr"] = [d for d in obj["dns_ptr"] if d["ip"] != ip]
    if ptr:
        obj["dns_ptr"].append({"ip": ip, "dns_ptr": ptr})


def render_primary(store: Store, pip: dict) -> dict:
    out = {k: v for k, v in pip.items() if k != "location"}
    out["dns_ptr"] = [dict(d) for d in pip["dns_ptr"]]
    out["labels"] = dict(pip["labels"])
    out["protection"] = dict(pip["protection"])
    out["location"] = catalog.location(pip["location"])  # `datacenter` removed on 2026-07-01
    return out


def render_floating(store: Store, fip: dict) -> dict:
    out = {k: v for k, v in fip.items() if k != "home_location"}
    out["dns_ptr"] = [dict(d) for d in fip["dns_ptr"]]
    out["labels"] = dict(fip["labels"])
    out["protection"] = dict(fip["protection"])
    out["home_location"] = catalog.location(fip["home_location"])
    return out


def _server_off(store: Store, sid) -> dict:
    from .servers import settle_status
    server = store.get("servers", sid, "server")
    settle_status(store, server)
    if server["status"] != "off":
        raise ApiFault(422, "server_not_stopped", "server must be powered off to change its primary IPs")
    return server


def _where(body: dict) -> str | None:
    from .servers import reject_datacenter
    reject_datacenter(body)
    if body.get("location"):
        if body["location"] not in catalog.LOCATIONS:
            raise invalid_input("location not found", location="not found")
        return body["location"]
    return None


# -- primary IPs -------------------------------------------------------------
def create_primary(call: Call):
    store, body = call.store, call.body
    require(body, "name", "type")
    if body.get("assignee_type", "server") != "server":
        raise invalid_input("invalid input in field 'assignee_type'", assignee_type="must be server")
    name = check_name(store, "primary_ips", body["name"])
    kind = body["type"]
    server = None
    if body.get("assignee_id") is not None:
        server = store.get("servers", body["assignee_id"], "server")
        if server.get(kind):
            raise ApiFault(422, f"server_has_{kind}", f"server already has a primary {kind}")
    location = server["location"] if server else _where(body)
    if location is None:
        raise invalid_input("one of location or assignee_id is required",
                            location="Missing data for required field.")
    pip = new_primary_ip(store, kind, location, server["id"] if server else None,
                         auto_delete=bool(body.get("auto_delete", False)), name=name, labels=check_labels(body))
    if server:
        server[kind] = pip["id"]
    action = store.action("create_primary_ip", [(pip["id"], "primary_ip")])
    return 201, {"primary_ip": render_primary(store, pip), "action": action}


def _pip(call: Call) -> dict:
    return call.store.get("primary_ips", call.params["id"], "primary ip")


def delete_primary(call: Call):
    pip = _pip(call)
    ensure_unprotected(pip, "primary ip")
    if pip["assignee_id"] is not None:
        # Since 1 May 2026 (OpenAPI: DELETE /primary_ips/{id}) an assigned IP is
        # no longer unassigned automatically.
        raise ApiFault(422, "must_be_unassigned", "unassign the primary IP before deleting it")
    call.store.delete("primary_ips", pip["id"])
    return 204, None


def _pip_action(call: Call, pip: dict, command: str, extra=()):
    call.store.touch()
    return 201, {"action": call.store.action(command, [(pip["id"], "primary_ip"), *extra])}


def assign_primary(call: Call):
    pip = _pip(call)
    require(call.body, "assignee_id")
    if pip["assignee_id"] is not None:
        raise ApiFault(422, "primary_ip_already_assigned", "primary IP is already assigned")
    server = _server_off(call.store, call.body["assignee_id"])
    if server.get(pip["type"]):
        raise ApiFault(422, f"server_has_{pip['type']}", f"server already has a primary {pip['type']}")
    if server["location"] != pip["location"]:
        raise ApiFault(422, "primary_ip_datacenter_mismatch", "primary IP and server are in different locations")
    pip["assignee_id"], server[pip["type"]] = server["id"], pip["id"]
    return _pip_action(call, pip, "assign_primary_ip", [(server["id"], "server")])


def unassign_primary(call: Call):
    pip = _pip(call)
    if pip["assignee_id"] is None:
        raise invalid_input("primary IP is not assigned", id="not assigned")
    server = _server_off(call.store, pip["assignee_id"])
    pip["assignee_id"], server[pip["type"]] = None, None
    return _pip_action(call, pip, "unassign_primary_ip", [(server["id"], "server")])


def primary_dns_ptr(call: Call):
    pip = _pip(call)
    require(call.body, "ip")
    set_dns_ptr(pip, call.body["ip"], call.body.get("dns_ptr"))
    return _pip_action(call, pip, "change_dns_ptr")


def primary_protection(call: Call):
    pip = _pip(call)
    protection_change(call.store, pip, call.body)
    return _pip_action(call, pip, "change_protection")


def update_primary(call: Call):
    pip = _pip(call)
    update_common(call.store, "primary_ips", pip, call.body)
    if "auto_delete" in call.body:
        pip["auto_delete"] = bool(call.body["auto_delete"])
    return {"primary_ip": render_primary(call.store, pip)}


# -- floating IPs ------------------------------------------------------------
def create_floating(call: Call):
    store, body = call.store, call.body
    require(body, "type")
    server = store.get("servers", body["server"], "server") if body.get("server") else None
    location = _where({"location": body.get("home_location")}) if body.get("home_location") else None
    location = location or (server["location"] if server else None)
    if location is None:
        raise invalid_input("home_location or server is required", home_location="Missing data for required field.")
    fid = store.new_id()
    name = check_name(store, "floating_ips", body["name"]) if body.get("name") else f"floating-ip-{fid}"
    fip = {"id": fid, "name": name, "description": body.get("description"), "type": body["type"],
           "ip": _address(store, body["type"]), "home_location": location,
           "server": server["id"] if server else None, "labels": check_labels(body),
           "protection": {"delete": False}, "created": now(), "dns_ptr": [], "blocked": False}
    store.put("floating_ips", fip)
    action = store.action("create_floating_ip", [(fid, "floating_ip")])
    return 201, {"floating_ip": render_floating(store, fip), "action": action}


def _fip(call: Call) -> dict:
    return call.store.get("floating_ips", call.params["id"], "floating ip")


def _fip_action(call: Call, fip: dict, command: str, extra=()):
    call.store.touch()
    return 201, {"action": call.store.action(command, [(fip["id"], "floating_ip"), *extra])}


def assign_floating(call: Call):
    fip = _fip(call)
    require(call.body, "server")
    server = call.store.get("servers", call.body["server"], "server")
    fip["server"] = server["id"]
    return _fip_action(call, fip, "assign_floating_ip", [(server["id"], "server")])


def unassign_floating(call: Call):
    fip = _fip(call)
    fip["server"] = None
    return _fip_action(call, fip, "unassign_floating_ip")


def floating_dns_ptr(call: Call):
    fip = _fip(call)
    require(call.body, "ip")
    set_dns_ptr(fip, call.body["ip"], call.body.get("dns_ptr"))
    return _fip_action(call, fip, "change_dns_ptr")


def floating_protection(call: Call):
    fip = _fip(call)
    protection_change(call.store, fip, call.body)
    return _fip_action(call, fip, "change_protection")


def update_floating(call: Call):
    fip = _fip(call)
    update_common(call.store, "floating_ips", fip, call.body)
    if "description" in call.body:
        fip["description"] = call.body["description"]
    return {"floating_ip": render_floating(call.store, fip)}


def delete_floating(call: Call):
    fip = _fip(call)
    ensure_unprotected(fip, "floating ip")
    if fip["server"] is not None:  # since 1 May 2026, as for primary IPs
        raise ApiFault(422, "must_be_unassigned", "unassign the floating IP before deleting it")
    call.store.delete("floating_ips", fip["id"])
    return 204, None


def register(router: Router) -> None:
    by_type = {"type": lambda o, vs: o["type"] in vs}
    router.add("GET", "/primary_ips", lambda c: listing(
        c.query, "primary_ips", [render_primary(c.store, p) for p in c.store.all("primary_ips")],
        filters=dict(by_type, ip=lambda o, vs: o["ip"] in vs)))
    router.add("POST", "/primary_ips", create_primary)
    router.add("GET", "/primary_ips/{id}", lambda c: {"primary_ip": render_primary(c.store, _pip(c))})
    router.add("PUT", "/primary_ips/{id}", update_primary)
    router.add("DELETE", "/primary_ips/{id}", delete_primary)
    for name, fn in (("assign", assign_primary), ("unassign", unassign_primary),
                     ("change_dns_ptr", primary_dns_ptr), ("change_protection", primary_protection)):
        router.add("POST", f"/primary_ips/{{id}}/actions/{name}", fn)
    add_action_routes(router, "primary_ips", "primary_ip")

    router.add("GET", "/floating_ips", lambda c: listing(
        c.query, "floating_ips", [render_floating(c.store, f) for f in c.store.all("floating_ips")],
        filters=by_type))
    router.add("POST", "/floating_ips", create_floating)
    router.add("GET", "/floating_ips/{id}", lambda c: {"floating_ip": render_floating(c.store, _fip(c))})
    router.add("PUT", "/floating_ips/{id}", update_floating)
    router.add("DELETE", "/floating_ips/{id}", delete_floating)
    for name, fn in (("assign", assign_floating), ("unassign", unassign_floating),
                     ("change_dns_ptr", floating_dns_ptr), ("change_protection", floating_protection)):
        router.add("POST", f"/floating_ips/{{id}}/actions/{name}", fn)
    add_action_routes(router, "floating_ips", "floating_ip")

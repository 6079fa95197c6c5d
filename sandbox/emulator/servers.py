"""Servers: create (with primary IPs, volumes, networks, firewalls, placement
group), get, list, update, delete, and the rendering every other family
embeds or cross-references."""
from __future__ import annotations

import re
import secrets

from . import catalog, networks
from .apierrors import ApiFault, invalid_input
from .query import listing
from .routing import (Call, Router, add_action_routes, check_labels, check_name, ensure_unprotected,
                      require, update_common)
from .selectors import firewalls_for_server
from .store import Store, now
from . import hooks  # lifecycle callbacks (sandbox machines)

USER_DATA_MAX = 32 * 1024   # OpenAPI: "This field is limited to 32KiB."
HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
PLACEMENT_GROUP_MAX = 10


def _ipv4_ptr(ip: str) -> str:
    return "static." + ".".join(reversed(ip.split("."))) + ".clients.your-server.de"


def check_user_data(body: dict) -> None:
    value = body.get("user_data")
    if value is None:
        return
    if not isinstance(value, str):
        raise invalid_input("invalid input in field 'user_data'", user_data="must be a string")
    if len(value.encode("utf-8")) > USER_DATA_MAX:
        raise invalid_input("invalid input in field 'user_data': is too long",
                            user_data=f"is limited to 32 KiB ({USER_DATA_MAX} bytes)")


def begin_status(store: Store, server: dict, action: dict, during: str, after: str) -> None:
    """The server shows `during` (initializing, starting, stopping, migrating,
    rebuilding: the API's transitional states) while `action` runs, then `after`."""
    server["status"] = during
    server["pending"] = {"action": action["id"], "then": after}
    store.touch()


def settle_status(store: Store, server: dict) -> None:
    pending = server.get("pending")
    if not pending:
        return
    action = store.data["actions"].get(str(pending["action"]))
    if action is None or store.settle(action)["status"] != "running":
        server["status"] = pending["then"]
        server.pop("pending")
        store.touch()


def render(store: Store, server: dict, status: str | None = None) -> dict:
    from . import simple
    if status is None:
        settle_status(store, server)
    ipv4 = store.find("primary_ips", server["ipv4"]) if server.get("ipv4") else None
    ipv6 = store.find("primary_ips", server["ipv6"]) if server.get("ipv6") else None
    pg = store.find("placement_groups", server["placement_group"]) if server.get("placement_group") else None
    sid = server["id"]
    stype = catalog.server_type(server["server_type"], store.unavailable())
    zone = catalog.LOCATIONS[server["location"]][6]
    return {
        "id": sid, "name": server["name"], "status": status or server["status"], "created": server["created"],
        "public_net": {
            "ipv4": None if ipv4 is None else {
                "id": ipv4["id"], "ip": ipv4["ip"], "blocked": False,
                "dns_ptr": next((d["dns_ptr"] for d in ipv4["dns_ptr"] if d["ip"] == ipv4["ip"]),
                                _ipv4_ptr(ipv4["ip"]))},
            "ipv6": None if ipv6 is None else {
                "id": ipv6["id"], "ip": ipv6["ip"], "blocked": False, "dns_ptr": list(ipv6["dns_ptr"])},
            "floating_ips": sorted(f["id"] for f in store.all("floating_ips") if f["server"] == sid),
            "firewalls": [{"id": fid, "status": "applied"} for fid in firewalls_for_server(store, server)],
        },
        "private_net": [dict(p, alias_ips=list(p.get("alias_ips", []))) for p in server["private_net"]],
        "server_type": stype,
        # No `datacenter`: the API dropped it on 2026-07-01 (OpenAPI `server`:
        # "will be removed after the 1 July 2026. Use the `location` property").
        "location": catalog.location(server["location"]),
        "image": catalog.image(server["image"]) if server.get("image") else None,
        "iso": None, "rescue_enabled": False, "locked": False,
        "backup_window": server.get("backup_window"),
        "outgoing_traffic": 0, "ingoing_traffic": 0,
        "included_traffic": catalog.INCLUDED_TRAFFIC[zone],
        "protection": dict(server["protection"]),
        "labels": dict(server["labels"]),
        "volumes": sorted(v["id"] for v in store.all("volumes") if v["server"] == sid),
        "load_balancers": sorted(lb["id"] for lb in store.all("load_balancers")
                                 if any(t["type"] == "server" and t["server"]["id"] == sid
                                        for t in lb["targets"])),
        "primary_disk_size": server["primary_disk_size"],
        "placement_group": None if pg is None else simple.render_placement_group(store, pg),
    }


def resolve_type(store: Store, key, location: str, field: str = "server_type") -> str:
    """Server type name, checked against the location: unknown or unsupported
    there -> invalid_input; switched off by the sandbox admin -> resource_unavailable."""
    name = catalog.server_type_by(key)
    if name is None or catalog.retired(name):
        # A type past its deprecation's `unavailable_after` cannot be ordered
        # and is no longer listed: to a client it does not exist any more.
        raise invalid_input(f"server type {key!r} not found", **{field: "server type not found"})
    if location not in catalog.SERVER_TYPES[name][7]:
        raise invalid_input(f"unsupported location for server type: {name} is not offered in {location}",
                            **{field: f"unsupported location {location}"})
    if not catalog.orderable(name, location, store.unavailable()):
        raise ApiFault(412, "resource_unavailable",
                       f"error during placement: server type {name} is currently unavailable in {location}")
    return name


def reject_datacenter(body: dict) -> None:
    """`datacenter` in requests was removed on 2026-07-01 (OpenAPI: deprecated,
    "will be removed after the 1 July 2026"); the API refuses unknown fields."""
    if "datacenter" in body:
        raise invalid_input("invalid input: unknown field name 'datacenter' (removed on 2026-07-01; "
                            "use 'location')", datacenter="unknown field")


def _location(body: dict) -> str:
    reject_datacenter(body)
    key = body.get("location") or "nbg1"
    loc = key if key in catalog.LOCATIONS else catalog.location_name_by_id(int(key)) if str(key).isdigit() else None
    if loc is None:
        raise invalid_input(f"location {key!r} not found", location="not found")
    return loc


def _ssh_keys(store: Store, keys) -> list[int]:
    ids = []
    for key in keys or []:
        match = store.find("ssh_keys", key) if str(key).isdigit() else store.by_name("ssh_keys", str(key))
        if match is None:
            raise invalid_input(f"ssh key {key!r} not found", ssh_keys="ssh key not found")
        ids.append(match["id"])
    return ids


def _given_ip(store: Store, body_net: dict, kind: str, location: str) -> dict | None:
    """The existing primary IP the request names for `kind`, checked; None if none."""
    given = body_net.get(kind)
    if given is None:
        return None
    pip = store.get("primary_ips", given, "primary ip")
    if pip["type"] != kind:
        raise ApiFault(422, "primary_ip_version_mismatch", f"primary IP {given} is not {kind}")
    if pip["assignee_id"] is not None:
        raise ApiFault(422, "primary_ip_assigned", f"primary IP {given} is already assigned")
    if pip["location"] != location:
        raise ApiFault(422, "primary_ip_datacenter_mismatch", "primary IP is in another location")
    return pip


def _public_ip(store: Store, body_net: dict, kind: str, location: str, sid: int) -> int | None:
    from . import ips
    pip = _given_ip(store, body_net, kind, location)
    if pip is not None:
        pip["assignee_id"] = sid
        store.touch()
        return pip["id"]
    if not body_net.get(f"enable_{kind}", True):
        return None
    return ips.new_primary_ip(store, kind, location, sid, auto_delete=True,
                              name=f"primary_ip-{store.data['next_id'] + 1}")["id"]


def create(call: Call):
    store, body = call.store, call.body
    require(body, "name", "server_type", "image")
    name = check_name(store, "servers", body["name"])
    if not HOSTNAME.match(name):
        raise invalid_input("invalid input in field 'name'", name="name must be a valid hostname")
    location = _location(body)
    stype = resolve_type(store, body["server_type"], location)
    image = catalog.image_by(body["image"])
    if image is None:
        raise invalid_input(f"image {body['image']!r} not found", image="image not found")
    labels = check_labels(body)
    check_user_data(body)
    ssh_keys = _ssh_keys(store, body.get("ssh_keys"))
    pg = store.get("placement_groups", body["placement_group"], "placement group") \
        if body.get("placement_group") else None
    if pg is not None and sum(s.get("placement_group") == pg["id"] for s in store.all("servers")) \
            >= PLACEMENT_GROUP_MAX:
        raise ApiFault(412, "placement_error", "placement group is full")
    volumes = [store.get("volumes", v, "volume") for v in body.get("volumes") or []]
    for volume in volumes:
        if volume["server"] is not None:
            raise ApiFault(422, "volume_already_attached", f"volume {volume['id']} is already attached")
        if volume["location"] != location:
            raise invalid_input("volume is in another location", volumes="location mismatch")
    nets = [store.get("networks", n, "network") for n in body.get("networks") or []]
    fws = [store.get("firewalls", (f or {}).get("firewall"), "firewall") for f in body.get("firewalls") or []]
    public_net = body.get("public_net") or {}
    if not nets and not public_net.get("enable_ipv4", True) and not public_net.get("enable_ipv6", True):
        raise invalid_input("a server needs a public IP or a network", public_net="no network")
    zone = catalog.LOCATIONS[location][6]
    # Everything that can fail is checked before anything is stored: a refused
    # create leaves no half-made server or orphan primary IP behind.
    private_ips = [networks.allocate_ip(store, net, zone) for net in nets]
    for kind in ("ipv4", "ipv6"):
        _given_ip(store, public_net, kind, location)
    sid = store.new_id()
    boot = "running" if body.get("start_after_create", True) else "off"
    server = {"id": sid, "name": name, "status": "initializing",
              "created": now(), "server_type": stype, "image": image, "location": location,
              "labels": labels, "protection": {"delete": False, "rebuild": False}, "backup_window": None,
              "placement_group": pg["id"] if pg else None, "ipv4": None, "ipv6": None, "private_net": [],
              "ssh_keys": ssh_keys, "primary_disk_size": int(catalog.SERVER_TYPES[stype][3])}
    server["ipv4"] = _public_ip(store, public_net, "ipv4", location, sid)
    server["ipv6"] = _public_ip(store, public_net, "ipv6", location, sid)
    store.put("servers", server)
    for net, ip in zip(nets, private_ips):
        server["private_net"].append({"network": net["id"], "ip": ip, "alias_ips": [],
                                      "mac_address": _mac(sid, net["id"])})
    for volume in volumes:
        volume["server"] = sid
    for fw in fws:
        if not any(a["type"] == "server" and a["server"]["id"] == sid for a in fw["applied_to"]):
            fw["applied_to"].append({"type": "server", "server": {"id": sid}})
    action = store.action("create_server", [(sid, "server")])
    begin_status(store, server, action, "initializing", boot)
    next_actions = [store.action("start_server", [(sid, "server")], follow_up=True)] if boot == "running" else []
    next_actions += [store.action("attach_volume", [(v["id"], "volume"), (sid, "server")], follow_up=True)
                     for v in volumes]
    next_actions += [store.action("attach_to_network", [(sid, "server"), (n["id"], "network")], follow_up=True)
                     for n in nets]
    hooks.emit("server_created", store, server=server, body=body)
    return 201, {"server": render(store, server, status="initializing"), "action": action,
                 "next_actions": next_actions,
                 "root_password": None if ssh_keys else secrets.token_urlsafe(12)}


def _mac(sid: int, nid: int) -> str:
    raw = f"86{sid % 256:02x}{(sid >> 8) % 256:02x}{nid % 256:02x}{(nid >> 8) % 256:02x}00"
    return ":".join(raw[i:i + 2] for i in range(0, 12, 2))


def delete(call: Call):
    store = call.store
    server = store.get("servers", call.params["id"], "server")
    ensure_unprotected(server, "server")
    sid = server["id"]
    for pip in store.all("primary_ips"):
        if pip["assignee_id"] == sid:
            if pip["auto_delete"]:
                store.delete("primary_ips", pip["id"])
            else:
                pip["assignee_id"] = None
    for volume in store.all("volumes"):
        if volume["server"] == sid:
            volume["server"] = None
    for fip in store.all("floating_ips"):
        if fip["server"] == sid:
            fip["server"] = None
    for fw in store.all("firewalls"):
        fw["applied_to"] = [a for a in fw["applied_to"] if not (a["type"] == "server" and a["server"]["id"] == sid)]
    for lb in store.all("load_balancers"):
        lb["targets"] = [t for t in lb["targets"] if not (t["type"] == "server" and t["server"]["id"] == sid)]
    action = store.action("delete_server", [(sid, "server")])
    hooks.emit("server_deleted", store, server=server)
    store.delete("servers", sid)
    return 200, {"action": action}


def update(call: Call):
    server = call.store.get("servers", call.params["id"], "server")
    if "name" in call.body and not HOSTNAME.match(str(call.body["name"])):
        raise invalid_input("invalid input in field 'name'", name="name must be a valid hostname")
    update_common(call.store, "servers", server, call.body)
    return {"server": render(call.store, server)}


def get(call: Call):
    return {"server": render(call.store, call.store.get("servers", call.params["id"], "server"))}


def list_servers(call: Call):
    items = [render(call.store, s) for s in call.store.all("servers")]
    return listing(call.query, "servers", items, filters={"status": lambda o, vs: o["status"] in vs})


def register(router: Router) -> None:
    from . import server_actions
    router.add("GET", "/servers", list_servers)
    router.add("POST", "/servers", create)
    router.add("GET", "/servers/{id}", get)
    router.add("PUT", "/servers/{id}", update)
    router.add("DELETE", "/servers/{id}", delete)
    server_actions.register(router)
    add_action_routes(router, "servers", "server")

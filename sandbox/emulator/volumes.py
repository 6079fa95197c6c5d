"""Block storage volumes: create (optionally attached), attach, detach,
resize, protection."""
from __future__ import annotations

import re

from . import catalog
from .apierrors import ApiFault, invalid_input
from .query import listing
from .routing import (Call, Router, add_action_routes, check_labels, check_name, ensure_unprotected,
                      protection_change, require, update_common)
from .store import Store, now
from . import hooks  # lifecycle callbacks (sandbox machines)

MIN_SIZE, MAX_SIZE = 10, 10240
# Volume names: letters, digits, '-', '_' and '.' only (the API refuses others).
VOLUME_NAME = re.compile(r"[A-Za-z0-9._-]+")


def _check_volume_name(name) -> None:
    if isinstance(name, str) and not VOLUME_NAME.fullmatch(name):
        raise invalid_input("invalid input in field 'name'",
                            name="only letters, digits, '-', '_' and '.' are allowed")


def render(store: Store, volume: dict) -> dict:
    out = {k: v for k, v in volume.items() if k != "location"}
    out["labels"] = dict(volume["labels"])
    out["protection"] = dict(volume["protection"])
    out["location"] = catalog.location(volume["location"])
    return out


def _size(value) -> int:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or int(value) != value \
            or not MIN_SIZE <= value <= MAX_SIZE:
        raise invalid_input("invalid input in field 'size'",
                            size=f"size must be a whole number of GB between {MIN_SIZE} and {MAX_SIZE}")
    return int(value)


def create(call: Call):
    store, body = call.store, call.body
    require(body, "name", "size")
    _check_volume_name(body["name"])
    name = check_name(store, "volumes", body["name"])
    size = _size(body["size"])
    server = store.get("servers", body["server"], "server") if body.get("server") else None
    location = body.get("location")
    if location and location not in catalog.LOCATIONS:
        raise invalid_input("location not found", location="not found")
    if server and location and location != server["location"]:
        raise invalid_input("server is in another location", location="does not match the server's location")
    location = location or (server["location"] if server else None)
    if location is None:
        raise invalid_input("location or server is required", location="Missing data for required field.")
    fmt = body.get("format")
    if fmt not in (None, "ext4", "xfs"):
        raise invalid_input("invalid input in field 'format'", format="must be ext4 or xfs")
    if body.get("automount") and not server:
        raise invalid_input("automount needs a server", automount="requires server")
    vid = store.new_id()
    volume = {"id": vid, "name": name, "size": size, "location": location,
              "server": server["id"] if server else None,
              "linux_device": f"/dev/disk/by-id/scsi-0HC_Volume_{vid}", "format": fmt,
              "labels": check_labels(body), "protection": {"delete": False}, "created": now(),
              "status": "available"}
    store.put("volumes", volume)
    action = store.action("create_volume", [(vid, "volume")])
    next_actions = [store.action("attach_volume", [(vid, "volume"), (server["id"], "server")],
                                 follow_up=True)] if server else []
    return 201, {"volume": render(store, volume), "action": action, "next_actions": next_actions}


def _volume(call: Call) -> dict:
    return call.store.get("volumes", call.params["id"], "volume")


def _done(call: Call, volume: dict, command: str, extra=()):
    call.store.touch()
    return 201, {"action": call.store.action(command, [(volume["id"], "volume"), *extra])}


def attach(call: Call):
    volume = _volume(call)
    require(call.body, "server")
    server = call.store.get("servers", call.body["server"], "server")
    if volume["server"] is not None:
        raise ApiFault(422, "volume_already_attached", "volume is already attached to a server, detach it first")
    if server["location"] != volume["location"]:
        raise invalid_input("server and volume are in different locations", server="location mismatch")
    volume["server"] = server["id"]
    hooks.emit("volume_attached", call.store, volume=volume)
    return _done(call, volume, "attach_volume", [(server["id"], "server")])


def detach(call: Call):
    volume = _volume(call)
    extra = [(volume["server"], "server")] if volume["server"] else []
    volume["server"] = None
    hooks.emit("volume_detached", call.store, volume=volume)
    return _done(call, volume, "detach_volume", extra)


def resize(call: Call):
    volume = _volume(call)
    require(call.body, "size")
    size = _size(call.body["size"])
    if size < volume["size"]:
        raise invalid_input("volumes can only grow", size=f"must be at least {volume['size']}")
    volume["size"] = size
    return _done(call, volume, "resize_volume")


def change_protection(call: Call):
    volume = _volume(call)
    protection_change(call.store, volume, call.body)
    return _done(call, volume, "change_protection")


def update(call: Call):
    volume = _volume(call)
    if "name" in call.body:
        _check_volume_name(call.body["name"])
    update_common(call.store, "volumes", volume, call.body)
    return {"volume": render(call.store, volume)}


def delete(call: Call):
    volume = _volume(call)
    ensure_unprotected(volume, "volume")
    if volume["server"] is not None:
        # Unverified against the live API: it refuses, and the official
        # provider detaches before deleting for that reason.
        raise ApiFault(423, "locked", "volume is attached to a server, detach it before deleting it")
    call.store.delete("volumes", volume["id"])
    hooks.emit("volume_deleted", call.store, volume=volume)
    return 204, None


def register(router: Router) -> None:
    router.add("GET", "/volumes", lambda c: listing(
        c.query, "volumes", [render(c.store, v) for v in c.store.all("volumes")],
        filters={"status": lambda o, vs: o["status"] in vs}))
    router.add("POST", "/volumes", create)
    router.add("GET", "/volumes/{id}", lambda c: {"volume": render(c.store, _volume(c))})
    router.add("PUT", "/volumes/{id}", update)
    router.add("DELETE", "/volumes/{id}", delete)
    for name, fn in (("attach", attach), ("detach", detach), ("resize", resize),
                     ("change_protection", change_protection)):
        router.add("POST", f"/volumes/{{id}}/actions/{name}", fn)
    add_action_routes(router, "volumes", "volume")

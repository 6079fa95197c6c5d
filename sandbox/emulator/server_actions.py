"""POST /servers/{id}/actions/<command>: power, type changes, backups,
protection, networks, placement groups, reverse DNS."""
from __future__ import annotations

import ipaddress
import secrets

from . import catalog, networks
from .apierrors import ApiFault, invalid_input
from .routing import Call, Router, protection_change, require
from .servers import _mac, begin_status, resolve_type
from . import hooks  # lifecycle callbacks (sandbox machines)


def _server(call: Call) -> dict:
    from .servers import settle_status
    server = call.store.get("servers", call.params["id"], "server")
    settle_status(call.store, server)
    return server


def _done(call: Call, server: dict, command: str, extra=()):
    call.store.touch()
    action = call.store.action(command, [(server["id"], "server"), *extra])
    return 201, {"action": action}


def _power(command: str, during: str | None, after: str):
    def handler(call: Call):
        server = _server(call)
        result = _done(call, server, command)
        if during:
            begin_status(call.store, server, result[1]["action"], during, after)
        else:
            server["status"] = after
        hooks.emit("server_power", call.store, server=server, command=command)
        return result
    return handler


def change_type(call: Call):
    server = _server(call)
    require(call.body, "server_type")
    if "upgrade_disk" not in call.body:
        raise invalid_input("invalid input in field 'upgrade_disk'", upgrade_disk="Missing data for required field.")
    if server["status"] != "off":
        raise ApiFault(422, "server_not_stopped", "server must be stopped before changing its type")
    new = resolve_type(call.store, call.body["server_type"], server["location"])
    disk = int(catalog.SERVER_TYPES[new][3])
    if disk < server["primary_disk_size"]:
        raise ApiFault(422, "invalid_server_type",
                       f"server type {new} has a smaller disk ({disk} GB) than the server uses "
                       f"({server['primary_disk_size']} GB): keep the disk small (upgrade_disk=false) to downgrade")
    server["server_type"] = new
    if call.body["upgrade_disk"]:
        server["primary_disk_size"] = disk
    result = _done(call, server, "change_server_type")
    begin_status(call.store, server, result[1]["action"], "migrating", "off")
    hooks.emit("server_type_changed", call.store, server=server)
    return result


def enable_backup(call: Call):
    server = _server(call)
    server["backup_window"] = "22-02"
    return _done(call, server, "enable_backup")


def disable_backup(call: Call):
    server = _server(call)
    server["backup_window"] = None
    return _done(call, server, "disable_backup")


def change_protection(call: Call):
    server = _server(call)
    after = {k: call.body.get(k, server["protection"][k]) for k in ("delete", "rebuild")}
    if after["delete"] != after["rebuild"]:
        # OpenAPI (change_protection): "currently delete and rebuild attribute
        # needs to have the same value".
        raise invalid_input("invalid input: delete and rebuild protection must have the same value",
                            rebuild="must equal delete")
    protection_change(call.store, server, call.body, keys=("delete", "rebuild"))
    return _done(call, server, "change_protection")


def attach_to_network(call: Call):
    server = _server(call)
    require(call.body, "network")
    net = call.store.get("networks", call.body["network"], "network")
    if any(p["network"] == net["id"] for p in server["private_net"]):
        raise ApiFault(422, "server_already_attached", "server is already attached to this network")
    zone = catalog.LOCATIONS[server["location"]][6]
    ip = networks.allocate_ip(call.store, net, zone, call.body.get("ip"))
    aliases = [str(a) for a in call.body.get("alias_ips") or []]
    server["private_net"].append({"network": net["id"], "ip": ip, "alias_ips": aliases,
                                  "mac_address": _mac(server["id"], net["id"])})
    return _done(call, server, "attach_to_network", [(net["id"], "network")])


def detach_from_network(call: Call):
    server = _server(call)
    require(call.body, "network")
    net = call.store.get("networks", call.body["network"], "network")
    if not any(p["network"] == net["id"] for p in server["private_net"]):
        raise ApiFault(422, "server_not_attached_to_network", "server is not attached to this network")
    server["private_net"] = [p for p in server["private_net"] if p["network"] != net["id"]]
    return _done(call, server, "detach_from_network", [(net["id"], "network")])


def change_alias_ips(call: Call):
    server = _server(call)
    require(call.body, "network")
    entry = next((p for p in server["private_net"] if p["network"] == call.body["network"]), None)
    if entry is None:
        raise ApiFault(422, "server_not_attached_to_network", "server is not attached to this network")
    entry["alias_ips"] = [str(a) for a in call.body.get("alias_ips") or []]
    return _done(call, server, "change_alias_ips")


def add_to_placement_group(call: Call):
    from .servers import PLACEMENT_GROUP_MAX
    server = _server(call)
    require(call.body, "placement_group")
    pg = call.store.get("placement_groups", call.body["placement_group"], "placement group")
    if server["status"] != "off":
        raise ApiFault(422, "server_not_stopped", "server must be stopped to join a placement group")
    if server.get("placement_group"):
        raise invalid_input("server is already in a placement group", placement_group="already in one")
    if sum(s.get("placement_group") == pg["id"] for s in call.store.all("servers")) >= PLACEMENT_GROUP_MAX:
        raise ApiFault(412, "placement_error", "placement group is full")
    server["placement_group"] = pg["id"]
    return _done(call, server, "add_to_placement_group", [(pg["id"], "placement_group")])


def remove_from_placement_group(call: Call):
    server = _server(call)
    if not server.get("placement_group"):
        raise invalid_input("server is not in a placement group", placement_group="not in one")
    pg_id, server["placement_group"] = server["placement_group"], None
    return _done(call, server, "remove_from_placement_group", [(pg_id, "placement_group")])


def change_dns_ptr(call: Call):
    from .ips import set_dns_ptr
    server = _server(call)
    require(call.body, "ip")
    for key in ("ipv4", "ipv6"):
        pip = call.store.find("primary_ips", server.get(key)) if server.get(key) else None
        if pip is not None and _covers(pip, call.body["ip"]):
            set_dns_ptr(pip, call.body["ip"], call.body.get("dns_ptr"))
            return _done(call, server, "change_dns_ptr")
    raise invalid_input("ip is not one of the server's public IPs", ip="not assigned to this server")


def _covers(pip: dict, ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(pip["ip"], strict=False)
    except ValueError:
        return False


def rebuild(call: Call):
    from .servers import check_user_data
    server = _server(call)
    if server["protection"].get("rebuild"):
        raise ApiFault(423, "protected", "cannot rebuild server: rebuild protection is enabled")
    require(call.body, "image")
    check_user_data(call.body)
    image = catalog.image_by(call.body["image"])
    if image is None:
        raise invalid_input("image not found", image="image not found")
    server["image"] = image
    hooks.emit("server_rebuilt", call.store, server=server)
    call.store.touch()
    action = call.store.action("rebuild_server", [(server["id"], "server")])
    begin_status(call.store, server, action, "rebuilding", server["status"])
    return 201, {"action": action, "root_password": None if server["ssh_keys"] else secrets.token_urlsafe(12)}


def register(router: Router) -> None:
    table = {
        "poweron": _power("start_server", "starting", "running"),
        "poweroff": _power("stop_server", "stopping", "off"),
        "shutdown": _power("shutdown_server", "stopping", "off"),
        "reboot": _power("reboot_server", None, "running"),
        "reset": _power("reset_server", None, "running"),
        "change_type": change_type,
        "enable_backup": enable_backup,
        "disable_backup": disable_backup,
        "change_protection": change_protection,
        "attach_to_network": attach_to_network,
        "detach_from_network": detach_from_network,
        "change_alias_ips": change_alias_ips,
        "add_to_placement_group": add_to_placement_group,
        "remove_from_placement_group": remove_from_placement_group,
        "change_dns_ptr": change_dns_ptr,
        "rebuild": rebuild,
    }
    for name, handler in table.items():
        router.add("POST", f"/servers/{{id}}/actions/{name}", handler)

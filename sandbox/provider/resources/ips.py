"""hcloud_primary_ip, hcloud_floating_ip, hcloud_floating_ip_assignment, hcloud_rdns."""
from __future__ import annotations

import ipaddress


from sandbox.provider.resources import hc
from sandbox.provider.resources.base import HcloudResource, known, labels, protection, wait


def _address(ip: str) -> tuple[str, str | None]:
    """(address, network): an IPv6 range is given as its network, the address is ::1."""
    if "/" not in ip:
        return ip, None
    network = ipaddress.ip_network(ip, strict=False)
    return str(network.network_address + 1), str(network)


class PrimaryIPResource(HcloudResource):
    TYPE = "hcloud_primary_ip"
    DEFAULTS = {"auto_delete": False, "delete_protection": False}
    REPLACE = frozenset({"type", "location", "datacenter"})

    def create(self, ctx, planned):
        location = known(planned.get("location"))
        assignee = known(planned.get("assignee_id"))
        made = self.api.primary_ips.create(
            type=planned["type"], name=planned["name"],
            location=hc.Location(name=location) if location and not assignee else None,
            assignee_type="server" if assignee else None,
            assignee_id=int(assignee) if assignee else None,
            auto_delete=bool(known(planned.get("auto_delete"))),
            labels=labels(planned.get("labels")))
        self.created(planned, made.primary_ip.id)
        wait(made.action)
        if known(planned.get("delete_protection")):
            wait(made.primary_ip.change_protection(delete=True))
        return self.read(ctx, {**planned, "id": made.primary_ip.id})

    def read(self, ctx, current):
        pip = self.fetch(self.api.primary_ips.get_by_id, current["id"])
        if pip is None:
            return None
        address, network = _address(pip.ip)
        return {**current, "id": pip.id, "name": pip.name, "type": pip.type,
                "ip_address": address, "ip_network": network,
                "assignee_id": pip.assignee_id, "assignee_type": pip.assignee_type,
                "auto_delete": bool(pip.auto_delete), "labels": pip.labels or {},
                "delete_protection": protection(pip),
                "location": pip.location.name if getattr(pip, "location", None) else None,
                "datacenter": known(current.get("datacenter"))}

    def update(self, ctx, current, planned):
        pip = self.api.primary_ips.get_by_id(int(current["id"]))
        pip.update(name=planned["name"], labels=labels(planned.get("labels")),
                   auto_delete=bool(known(planned.get("auto_delete"))))
        assignee = known(planned.get("assignee_id"))
        if assignee != current.get("assignee_id"):
            if current.get("assignee_id"):
                wait(pip.unassign())
            if assignee:
                wait(pip.assign(assignee_id=int(assignee), assignee_type="server"))
        if bool(known(planned.get("delete_protection"))) != bool(current.get("delete_protection")):
            wait(pip.change_protection(delete=bool(known(planned.get("delete_protection")))))
        return self.read(ctx, planned)

    def delete(self, ctx, current):
        pip = self.fetch(self.api.primary_ips.get_by_id, current["id"])
        if pip is not None:
            if pip.assignee_id:
                wait(pip.unassign())
            self.api.primary_ips.delete(pip)
        return None


class FloatingIPResource(HcloudResource):
    TYPE = "hcloud_floating_ip"
    DEFAULTS = {"delete_protection": False}
    REPLACE = frozenset({"type", "home_location"})

    def create(self, ctx, planned):
        location, server = known(planned.get("home_location")), known(planned.get("server_id"))
        made = self.api.floating_ips.create(
            type=planned["type"], name=known(planned.get("name")),
            description=planned.get("description"), labels=labels(planned.get("labels")),
            home_location=hc.Location(name=location) if location and not server else None,
            server=hc.Server(id=int(server)) if server else None)
        self.created(planned, str(made.floating_ip.id))
        wait(made.action)
        if planned.get("delete_protection"):
            wait(made.floating_ip.change_protection(delete=True))
        return self.read(ctx, {**planned, "id": str(made.floating_ip.id)})

    def read(self, ctx, current):
        fip = self.fetch(self.api.floating_ips.get_by_id, current["id"])
        if fip is None:
            return None
        address, network = _address(fip.ip)
        return {**current, "id": str(fip.id), "name": fip.name, "type": fip.type,
                "description": fip.description, "labels": fip.labels or {},
                "ip_address": address, "ip_network": network,
                "home_location": fip.home_location.name,
                "server_id": fip.server.id if fip.server else None,
                "delete_protection": protection(fip)}

    def update(self, ctx, current, planned):
        fip = self.api.floating_ips.get_by_id(int(current["id"]))
        fip.update(name=known(planned.get("name")), description=planned.get("description"),
                   labels=labels(planned.get("labels")))
        server = known(planned.get("server_id"))
        if server != current.get("server_id"):
            wait(fip.assign(hc.Server(id=int(server))) if server else fip.unassign())
        if bool(planned.get("delete_protection")) != bool(current.get("delete_protection")):
            wait(fip.change_protection(delete=bool(planned.get("delete_protection"))))
        return self.read(ctx, planned)

    def delete(self, ctx, current):
        fip = self.fetch(self.api.floating_ips.get_by_id, current["id"])
        if fip is not None:
            self.api.floating_ips.delete(fip)
        return None


class FloatingIPAssignment(HcloudResource):
    TYPE = "hcloud_floating_ip_assignment"
    REPLACE = frozenset({"floating_ip_id", "server_id"})

    def create(self, ctx, planned):
        fip = self.api.floating_ips.get_by_id(int(planned["floating_ip_id"]))
        wait(fip.assign(hc.Server(id=int(planned["server_id"]))))
        return self.read(ctx, {**planned, "id": str(fip.id)})

    def read(self, ctx, current):
        fip = self.fetch(self.api.floating_ips.get_by_id, current["id"])
        if fip is None or fip.server is None:
            return None
        return {**current, "id": str(fip.id), "floating_ip_id": fip.id,
                "server_id": fip.server.id}

    def update(self, ctx, current, planned):
        return self.read(ctx, planned)

    def delete(self, ctx, current):
        fip = self.fetch(self.api.floating_ips.get_by_id, current["id"])
        if fip is not None and fip.server is not None:
            wait(fip.unassign())
        return None


_RDNS_KINDS = {"s": "server_id", "f": "floating_ip_id", "l": "load_balancer_id",
               "p": "primary_ip_id"}


class RDNS(HcloudResource):
    TYPE = "hcloud_rdns"
    REPLACE = frozenset({"server_id", "floating_ip_id", "load_balancer_id", "primary_ip_id",
                         "ip_address"})

    def check(self, diags, config):
        given = [name for name in _RDNS_KINDS.values() if config.get(name) is not None]
        if len(given) != 1:
            diags.add_error("hcloud_rdns needs exactly one of " + ", ".join(_RDNS_KINDS.values()))

    def _owner(self, kind: str, ident):
        return {"s": self.api.servers, "f": self.api.floating_ips,
                "l": self.api.load_balancers, "p": self.api.primary_ips}[kind].get_by_id(
            int(ident))

    @staticmethod
    def _kind(state: dict) -> str:
        return next(k for k, name in _RDNS_KINDS.items() if known(state.get(name)) is not None)

    def create(self, ctx, planned):
        kind = self._kind(planned)
        owner = self._owner(kind, planned[_RDNS_KINDS[kind]])
        wait(owner.change_dns_ptr(planned["ip_address"], planned["dns_ptr"]))
        return self.read(ctx, {**planned,
                               "id": f"{kind}-{owner.id}-{planned['ip_address']}"})

    def read(self, ctx, current):
        kind, owner_id, ip = str(current["id"]).split("-", 2)
        try:
            owner = self._owner(kind, owner_id)
        except Exception:
            return None
        ptr = _find_ptr(owner, ip)
        if ptr is None:
            return None
        return {**current, _RDNS_KINDS[kind]: int(owner_id), "ip_address": ip, "dns_ptr": ptr}

    def update(self, ctx, current, planned):
        return self.create(ctx, planned)

    def delete(self, ctx, current):
        kind, owner_id, ip = str(current["id"]).split("-", 2)
        owner = self.fetch(lambda i: self._owner(kind, i), owner_id)
        if owner is not None:
            wait(owner.change_dns_ptr(ip, None))
        return None


def _find_ptr(owner, ip: str) -> str | None:
    """The PTR record the API holds for ip on a server, IP or load balancer."""
    public = getattr(owner, "public_net", None)
    if public is not None:  # server or load balancer
        if public.ipv4 is not None and public.ipv4.ip == ip:
            return public.ipv4.dns_ptr
        entries = public.ipv6.dns_ptr if public.ipv6 is not None else None
    else:  # floating or primary IP: a string or a list of {ip, dns_ptr}
        entries = owner.dns_ptr
        if isinstance(entries, str):
            return entries if owner.ip == ip else None
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("ip") == ip:
            return entry.get("dns_ptr")
    return None

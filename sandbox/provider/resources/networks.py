"""hcloud_network, hcloud_network_subnet, hcloud_network_route, hcloud_server_network."""
from __future__ import annotations


from sandbox.provider.resources import hc
from sandbox.provider.resources.base import HcloudResource, known, labels, protection, wait
from sandbox.provider.resources.server_parts import subnet_id_for


def _split(ident: str) -> tuple[int, str]:
    network_id, _, rest = str(ident).partition("-")
    return int(network_id), rest


class HcloudNetwork(HcloudResource):
    TYPE = "hcloud_network"
    DEFAULTS = {"delete_protection": False, "expose_routes_to_vswitch": False}

    def create(self, ctx, planned):
        network = self.api.networks.create(
            name=planned["name"], ip_range=planned["ip_range"],
            expose_routes_to_vswitch=planned.get("expose_routes_to_vswitch"),
            labels=labels(planned.get("labels")))
        self.created(planned, str(network.id))
        if planned.get("delete_protection"):
            wait(network.change_protection(delete=True))
        return self.read(ctx, {**planned, "id": str(network.id)})

    def read(self, ctx, current):
        network = self.fetch(self.api.networks.get_by_id, current["id"])
        if network is None:
            return None
        return {**current, "id": str(network.id), "name": network.name,
                "ip_range": network.ip_range, "labels": network.labels or {},
                "expose_routes_to_vswitch": bool(network.expose_routes_to_vswitch),
                "delete_protection": protection(network)}

    def update(self, ctx, current, planned):
        network = self.api.networks.get_by_id(int(current["id"]))
        if (planned["name"], planned.get("labels"), planned.get("expose_routes_to_vswitch")) != \
                (current["name"], current.get("labels"), current.get("expose_routes_to_vswitch")):
            network.update(name=planned["name"], labels=labels(planned.get("labels")),
                           expose_routes_to_vswitch=planned.get("expose_routes_to_vswitch"))
        if planned["ip_range"] != current["ip_range"]:
            wait(network.change_ip_range(planned["ip_range"]))
        if bool(planned.get("delete_protection")) != bool(current.get("delete_protection")):
            wait(network.change_protection(delete=bool(planned.get("delete_protection"))))
        return self.read(ctx, planned)

    def delete(self, ctx, current):
        network = self.fetch(self.api.networks.get_by_id, current["id"])
        if network is not None:
            self.api.networks.delete(network)
        return None


class NetworkSubnetResource(HcloudResource):
    TYPE = "hcloud_network_subnet"
    REPLACE = frozenset({"network_id", "type", "ip_range", "network_zone", "vswitch_id"})

    def create(self, ctx, planned):
        network = self.api.networks.get_by_id(int(planned["network_id"]))
        wait(network.add_subnet(hc.NetworkSubnet(
            ip_range=planned["ip_range"], type=planned["type"],
            network_zone=planned["network_zone"], vswitch_id=known(planned.get("vswitch_id")))))
        return self.read(ctx, {**planned, "id": f"{network.id}-{planned['ip_range']}"})

    def read(self, ctx, current):
        network_id, ip_range = _split(current["id"])
        network = self.fetch(self.api.networks.get_by_id, network_id)
        subnet = next((s for s in (network.subnets if network else None) or []
                       if s.ip_range == ip_range), None)
        if subnet is None:
            return None
        return {**current, "network_id": network_id, "ip_range": subnet.ip_range,
                "type": subnet.type, "network_zone": subnet.network_zone,
                "gateway": subnet.gateway, "vswitch_id": subnet.vswitch_id}

    def update(self, ctx, current, planned):
        return self.read(ctx, planned)

    def delete(self, ctx, current):
        network_id, ip_range = _split(current["id"])
        network = self.fetch(self.api.networks.get_by_id, network_id)
        if network is not None:
            wait(network.delete_subnet(hc.NetworkSubnet(ip_range=ip_range)))
        return None


class NetworkRouteResource(HcloudResource):
    TYPE = "hcloud_network_route"
    REPLACE = frozenset({"network_id", "destination", "gateway"})

    def create(self, ctx, planned):
        network = self.api.networks.get_by_id(int(planned["network_id"]))
        wait(network.add_route(hc.NetworkRoute(destination=planned["destination"],
                                               gateway=planned["gateway"])))
        return self.read(ctx, {**planned, "id": f"{network.id}-{planned['destination']}"})

    def read(self, ctx, current):
        network_id, destination = _split(current["id"])
        network = self.fetch(self.api.networks.get_by_id, network_id)
        route = next((r for r in (network.routes if network else None) or []
                      if r.destination == destination), None)
        if route is None:
            return None
        return {**current, "network_id": network_id, "destination": route.destination,
                "gateway": route.gateway}

    def update(self, ctx, current, planned):
        return self.read(ctx, planned)

    def delete(self, ctx, current):
        network_id, destination = _split(current["id"])
        network = self.fetch(self.api.networks.get_by_id, network_id)
        route = next((r for r in (network.routes if network else None) or []
                      if r.destination == destination), None)
        if route is not None:
            wait(network.delete_route(route))
        return None


class ServerNetwork(HcloudResource):
    TYPE = "hcloud_server_network"
    DEFAULTS = {"alias_ips": []}
    REPLACE = frozenset({"server_id", "network_id", "subnet_id", "ip"})

    def check(self, diags, config):
        if config.get("network_id") is None and config.get("subnet_id") is None:
            diags.add_error("hcloud_server_network needs `network_id` or `subnet_id`")

    def _network_id(self, state) -> int:
        if known(state.get("network_id")) is not None:
            return int(state["network_id"])
        return _split(state["subnet_id"])[0]

    def create(self, ctx, planned):
        server = self.api.servers.get_by_id(int(planned["server_id"]))
        network_id = self._network_id(planned)
        aliases = sorted(known(planned.get("alias_ips")) or [])
        wait(server.attach_to_network(hc.Network(id=network_id), ip=known(planned.get("ip")),
                                      alias_ips=aliases or None))
        return self.read(ctx, {**planned, "network_id": network_id,
                               "id": f"{server.id}-{network_id}"})

    def read(self, ctx, current):
        server_id, rest = _split(current["id"])
        server = self.fetch(self.api.servers.get_by_id, server_id)
        network_id = int(rest)
        private = next((p for p in (server.private_net if server else None) or []
                        if p.network.id == network_id), None)
        if private is None:
            return None
        return {**current, "server_id": server_id, "network_id": network_id,
                "ip": private.ip, "alias_ips": sorted(private.alias_ips or []),
                "mac_address": private.mac_address,
                "subnet_id": known(current.get("subnet_id"))
                or subnet_id_for(self.api, network_id, private.ip)}

    def update(self, ctx, current, planned):
        server = self.api.servers.get_by_id(int(current["server_id"]))
        aliases = sorted(known(planned.get("alias_ips")) or [])
        if aliases != sorted(current.get("alias_ips") or []):
            wait(server.change_alias_ips(hc.Network(id=int(current["network_id"])), aliases))
        return self.read(ctx, planned)

    def delete(self, ctx, current):
        server = self.fetch(self.api.servers.get_by_id, current["server_id"])
        if server is not None and any(p.network.id == int(current["network_id"])
                                      for p in server.private_net or []):
            wait(server.detach_from_network(hc.Network(id=int(current["network_id"]))))
        return None

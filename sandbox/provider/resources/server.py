"""hcloud_server: create, rescale in place, replace on image/keys/user data."""
from __future__ import annotations

import ipaddress

from hcloud.firewalls import Firewall, FirewallResource
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.placement_groups import PlacementGroup
from hcloud.primary_ips import PrimaryIP
from hcloud.server_types import ServerType
from hcloud.servers import Server, ServerCreatePublicNetwork
from hcloud.ssh_keys import SSHKey
from tf.types import Unknown

from sandbox.provider.resources.base import (HcloudResource, first, importing, known, labels,
                                             protection, wait, wait_all)
from sandbox.provider.resources.server_parts import networks_state, sync_networks


def _ref(cls, value):
    text = str(value)
    return cls(id=int(text)) if text.isdigit() else cls(name=text)


def _ipv6_address(network: str | None) -> str | None:
    if not network:
        return None
    return str(ipaddress.ip_network(network, strict=False).network_address + 1)


class HcloudServer(HcloudResource):
    TYPE = "hcloud_server"
    REPLACE = frozenset({"image", "location", "datacenter", "ssh_keys", "user_data"})

    def check(self, diags, config):
        delete, rebuild = config.get("delete_protection"), config.get("rebuild_protection")
        if delete is not Unknown and rebuild is not Unknown and bool(delete) != bool(rebuild):
            diags.add_error("delete_protection and rebuild_protection must be equal",
                            path=["rebuild_protection"])
        for unsupported in ("iso", "rescue"):
            if config.get(unsupported) not in (None, Unknown):
                diags.add_error(f"`{unsupported}` is not supported by the sandbox provider",
                                path=[unsupported])

    def plan(self, ctx, prior, planned):
        if prior is None:
            if known(planned.get("image")) is None and planned.get("image") is not Unknown:
                ctx.diagnostics.add_error("hcloud_server needs an `image` to be created",
                                          path=["image"])
            return planned
        changed = ctx.changed_fields
        if changed & self.REPLACE:
            return planned  # a new server: Terraform plans its creation next
        if "public_net" in changed:
            ctx.diagnostics.add_error(
                "changing public_net in place is not supported by the sandbox provider",
                path=["public_net"])
        if "backups" in changed:
            planned["backup_window"] = Unknown
        if "server_type" in changed and known(planned["server_type"]):
            self._plan_rescale(ctx, prior, planned)
        return planned

    def _plan_rescale(self, ctx, prior, planned):
        new_type = self.api.server_types.get_by_name(planned["server_type"])
        if new_type is None:
            ctx.diagnostics.add_error(f"unknown server type {planned['server_type']!r}",
                                      path=["server_type"])
            return
        current_disk = prior.get("primary_disk_size") or 0
        if planned.get("keep_disk"):
            return
        if new_type.disk < current_disk:
            ctx.diagnostics.add_error(
                f"server type {new_type.name} has a smaller disk ({new_type.disk} GB) than "
                f"the server's {current_disk} GB: set keep_disk = true to downgrade",
                path=["keep_disk"])
        elif new_type.disk != current_disk:
            planned["primary_disk_size"] = Unknown

    def create(self, ctx, planned):
        public = first(planned.get("public_net"))
        public_net = None
        if public is not None:
            public_net = ServerCreatePublicNetwork(
                enable_ipv4=public.get("ipv4_enabled") is not False,
                enable_ipv6=public.get("ipv6_enabled") is not False,
                ipv4=PrimaryIP(id=int(public["ipv4"])) if known(public.get("ipv4")) else None,
                ipv6=PrimaryIP(id=int(public["ipv6"])) if known(public.get("ipv6")) else None)
        location = known(planned.get("location"))
        group = known(planned.get("placement_group_id"))
        made = self.api.servers.create(
            name=planned["name"], server_type=ServerType(name=planned["server_type"]),
            image=_ref(Image, planned["image"]),
            ssh_keys=[_ref(SSHKey, k) for k in planned.get("ssh_keys") or []] or None,
            firewalls=[Firewall(id=int(f)) for f in known(planned.get("firewall_ids")) or []]
            or None,
            user_data=planned.get("user_data"), labels=labels(planned.get("labels")),
            location=Location(name=location) if location else None,
            placement_group=PlacementGroup(id=int(group)) if group else None,
            public_net=public_net)
        wait(made.action)
        wait_all(made.next_actions)
        server = made.server
        if planned.get("backups"):
            wait(server.enable_backup())
        if planned.get("delete_protection") or planned.get("rebuild_protection"):
            wait(server.change_protection(delete=bool(planned.get("delete_protection")),
                                          rebuild=bool(planned.get("rebuild_protection"))))
        sync_networks(self.api, server, [], planned.get("network") or [])
        return self.read(ctx, {**planned, "id": str(server.id)})

    def read(self, ctx, current):
        server = self.fetch(self.api.servers.get_by_id, current["id"])
        if server is None:
            return None
        net = server.public_net
        ipv4 = getattr(net, "ipv4", None)
        ipv6 = getattr(net, "ipv6", None)
        public = []
        blocks = current.get("public_net") or []
        if importing(current):
            blocks = [{"ipv4_enabled": ipv4 is not None, "ipv6_enabled": ipv6 is not None}]
        for block in blocks:
            public.append({
                "ipv4_enabled": block.get("ipv4_enabled"),
                "ipv6_enabled": block.get("ipv6_enabled"),
                "ipv4": net.primary_ipv4.id if getattr(net, "primary_ipv4", None) else None,
                "ipv6": net.primary_ipv6.id if getattr(net, "primary_ipv6", None) else None})
        image = known(current.get("image"))
        if image is None and server.image is not None:
            image = server.image.name or str(server.image.id)
        return {
            **current, "id": str(server.id), "name": server.name,
            "server_type": server.server_type.name, "image": image,
            "location": server.location.name if server.location else None,
            "datacenter": known(current.get("datacenter")),
            "status": server.status, "backup_window": server.backup_window,
            "backups": server.backup_window is not None,
            "ipv4_address": ipv4.ip if ipv4 else "",
            "ipv6_network": ipv6.ip if ipv6 else "",
            "ipv6_address": _ipv6_address(ipv6.ip) if ipv6 else "",
            "primary_disk_size": server.primary_disk_size,
            "labels": server.labels or {},
            "delete_protection": protection(server, "delete"),
            "rebuild_protection": protection(server, "rebuild"),
            "placement_group_id": server.placement_group.id if server.placement_group else None,
            "firewall_ids": self._firewall_ids(server, current),
            "public_net": public,
            "network": networks_state(self.api, server, current.get("network") or [
                {"network_id": p.network.id} for p in server.private_net or []
                if importing(current)]),
        }

    @staticmethod
    def _firewall_ids(server, current) -> list[int]:
        applied = {f.firewall.id for f in getattr(server.public_net, "firewalls", None) or []}
        if current.get("ignore_remote_firewall_ids"):
            # Firewalls applied from elsewhere (label selectors, attachments) are not drift.
            applied &= {int(f) for f in known(current.get("firewall_ids")) or []}
        return sorted(applied)

    def update(self, ctx, current, planned):
        server = self.api.servers.get_by_id(int(current["id"]))
        if planned["name"] != current["name"] or planned.get("labels") != current.get("labels"):
            server.update(name=planned["name"], labels=labels(planned.get("labels")))
        needs_off = planned["server_type"] != current["server_type"] or \
            known(planned.get("placement_group_id")) != current.get("placement_group_id")
        was_running = server.status == Server.STATUS_RUNNING
        if needs_off and was_running:
            wait(server.power_off())
        if planned["server_type"] != current["server_type"]:
            wait(server.change_type(ServerType(name=planned["server_type"]),
                                    upgrade_disk=not planned.get("keep_disk")))
        group = known(planned.get("placement_group_id"))
        if group != current.get("placement_group_id"):
            if current.get("placement_group_id"):
                wait(server.remove_from_placement_group())
            if group:
                wait(server.add_to_placement_group(PlacementGroup(id=int(group))))
        if needs_off and was_running:
            wait(server.power_on())
        if bool(planned.get("backups")) != bool(current.get("backups")):
            wait(server.enable_backup() if planned.get("backups") else server.disable_backup())
        if (bool(planned.get("delete_protection")), bool(planned.get("rebuild_protection"))) != \
                (bool(current.get("delete_protection")), bool(current.get("rebuild_protection"))):
            wait(server.change_protection(delete=bool(planned.get("delete_protection")),
                                          rebuild=bool(planned.get("rebuild_protection"))))
        self._sync_firewalls(server, current.get("firewall_ids") or [],
                             known(planned.get("firewall_ids")))
        sync_networks(self.api, server, current.get("network") or [],
                      planned.get("network") or [])
        return self.read(ctx, planned)

    def _sync_firewalls(self, server, have, want) -> None:
        if want is None:
            return
        target = [FirewallResource(type="server", server=Server(id=server.id))]
        for fid in set(have) - set(want):
            wait_all(self.api.firewalls.remove_from_resources(Firewall(id=int(fid)), target))
        for fid in set(want) - set(have):
            wait_all(self.api.firewalls.apply_to_resources(Firewall(id=int(fid)), target))

    def delete(self, ctx, current):
        server = self.fetch(self.api.servers.get_by_id, current["id"])
        if server is None:
            return None
        # The real provider lifts protection on destroy, and so do we.
        if protection(server, "delete") or protection(server, "rebuild"):
            wait(server.change_protection(delete=False, rebuild=False))
        if current.get("shutdown_before_deletion") and server.status == Server.STATUS_RUNNING:
            wait(server.shutdown())
        wait(self.api.servers.delete(server))
        return None

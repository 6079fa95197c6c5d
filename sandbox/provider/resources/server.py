"""hcloud_server: create, rescale in place, replace on image/keys/user data."""
from __future__ import annotations

import base64
import hashlib
import ipaddress

from tf.types import Unknown

from sandbox.provider.resources import hc
from sandbox.provider.errors import PlanRefused
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


def user_data_hash(text: str) -> str:
    """What the real provider keeps in state for user_data (its StateFunc)."""
    return base64.b64encode(hashlib.sha1(text.encode()).digest()).decode()


class HcloudServer(HcloudResource):
    TYPE = "hcloud_server"
    REPLACE = frozenset({"image", "location", "datacenter", "ssh_keys", "user_data"})
    DEFAULTS = {"keep_disk": False, "backups": False, "ignore_remote_firewall_ids": False,
                "delete_protection": False, "rebuild_protection": False,
                "shutdown_before_deletion": False,
                "public_net": {"ipv4_enabled": True, "ipv6_enabled": True}}
    LEGACY_TYPE_SYSTEM = True  # user_data is planned as its hash, like SDKv2's StateFunc

    def check(self, diags, config):
        # Unequal protection flags, a smaller disk and the like are the API's
        # to refuse at apply time, as with the real provider.
        for unsupported in ("iso", "rescue"):
            if config.get(unsupported) not in (None, Unknown):
                diags.add_error(f"`{unsupported}` is not supported by the sandbox provider",
                                path=[unsupported])

    def plan(self, ctx, prior, planned):
        self._plan_user_data(prior, planned)
        if prior is None:
            if known(planned.get("image")) is None and planned.get("image") is not Unknown:
                ctx.diagnostics.add_error("hcloud_server needs an `image` to be created",
                                          path=["image"])
            return planned
        changed = {k for k in ctx.changed_fields if planned.get(k) != prior.get(k)}
        if changed & self.REPLACE:
            return planned  # a new server: Terraform plans its creation next
        if "public_net" in changed and prior.get("public_net"):
            # An imported server has no public_net block yet; adding the one the
            # configuration gives is what the real provider does too (off, on).
            ctx.diagnostics.add_error(
                "changing public_net in place is not supported by the sandbox provider",
                path=["public_net"])
        if "backups" in changed:
            planned["backup_window"] = Unknown
        if "server_type" in changed and not planned.get("keep_disk"):
            planned["primary_disk_size"] = Unknown
        return planned

    @staticmethod
    def _plan_user_data(prior, planned) -> None:
        text = planned.get("user_data")
        if text is None:
            return
        if not isinstance(text, str):
            # Unknown until apply. Terraform may have refined it (a known
            # prefix, as for templatefile()); the hash will not keep that
            # promise, so plan a plain unknown, as SDKv2 does.
            planned["user_data"] = Unknown
            return
        if prior is not None and text == prior.get("user_data"):
            return  # unchanged, or ignore_changes handed back the stored hash
        planned["user_data"] = user_data_hash(text)

    def create(self, ctx, planned):
        public = first(planned.get("public_net"))
        public_net = None
        if public is not None:
            public_net = hc.ServerCreatePublicNetwork(
                enable_ipv4=public.get("ipv4_enabled") is not False,
                enable_ipv6=public.get("ipv6_enabled") is not False,
                ipv4=hc.PrimaryIP(id=int(public["ipv4"])) if known(public.get("ipv4")) else None,
                ipv6=hc.PrimaryIP(id=int(public["ipv6"])) if known(public.get("ipv6")) else None)
        location = known(planned.get("location"))
        group = known(planned.get("placement_group_id"))
        made = self.api.servers.create(
            name=planned["name"], server_type=hc.ServerType(name=planned["server_type"]),
            image=_ref(hc.Image, planned["image"]),
            ssh_keys=[_ref(hc.SSHKey, k) for k in planned.get("ssh_keys") or []] or None,
            firewalls=[hc.Firewall(id=int(f)) for f in known(planned.get("firewall_ids")) or []]
            or None,
            # The plan holds the hash; the API gets the text from the configuration.
            user_data=(self.config or {}).get("user_data"), labels=labels(planned.get("labels")),
            location=hc.Location(name=location) if location else None,
            placement_group=hc.PlacementGroup(id=int(group)) if group else None,
            public_net=public_net)
        self.created(planned, str(made.server.id))
        wait(made.action)
        wait_all(made.next_actions)
        server = made.server
        sync_networks(self.api, server, [], planned.get("network") or [])
        if planned.get("backups"):
            wait(server.enable_backup())
        if planned.get("delete_protection") or planned.get("rebuild_protection"):
            wait(server.change_protection(delete=bool(planned.get("delete_protection")),
                                          rebuild=bool(planned.get("rebuild_protection"))))
        return self.read(ctx, {**planned, "id": str(server.id)})

    def read(self, ctx, current):
        server = self.fetch(self.api.servers.get_by_id, current["id"])
        if server is None:
            return None
        net = server.public_net
        ipv4 = getattr(net, "ipv4", None)
        ipv6 = getattr(net, "ipv6", None)
        # Like the real read, public_net is never filled from the API: an
        # imported server has none until the configuration adds it.
        public = [{**block,
                   "ipv4": net.primary_ipv4.id if getattr(net, "primary_ipv4", None) else None,
                   "ipv6": net.primary_ipv6.id if getattr(net, "primary_ipv6", None) else None}
                  for block in current.get("public_net") or []]
        return {
            **current, "id": str(server.id), "name": server.name,
            "server_type": server.server_type.name,
            "image": self._image(server, current),
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
    def _image(server, current):
        """The image as the API reports it, so a rebuild outside Terraform is drift
        (a replacement): its name, or its id when it has no name or the
        configuration gave the id."""
        if server.image is None:
            return known(current.get("image"))
        if server.image.name and str(server.image.id) != str(current.get("image")):
            return server.image.name
        return str(server.image.id)

    @staticmethod
    def _firewall_ids(server, current) -> list[int]:
        applied = {f.firewall.id for f in getattr(server.public_net, "firewalls", None) or []}
        if current.get("ignore_remote_firewall_ids"):
            # Firewalls applied from elsewhere (label selectors, attachments) are not drift.
            applied &= {int(f) for f in known(current.get("firewall_ids")) or []}
        return sorted(applied)

    def update(self, ctx, current, planned):
        """The real provider's order: name and labels, type, backups, networks,
        firewalls, public_net, placement group, protection. A failure stops
        there and leaves the server as far as it got (off, after a refused
        type change)."""
        server = self.api.servers.get_by_id(int(current["id"]))
        if planned["name"] != current["name"] or planned.get("labels") != current.get("labels"):
            server.update(name=planned["name"], labels=labels(planned.get("labels")))
        if planned["server_type"] != current["server_type"]:
            if server.status == hc.Server.STATUS_RUNNING:
                wait(server.power_off())
            wait(server.change_type(hc.ServerType(name=planned["server_type"]),
                                    upgrade_disk=not planned.get("keep_disk")))
            # Hetzner starts the server again after change_type; the emulator
            # leaves it off, so the stand-in does the start the API would do.
            wait(server.power_on())
        if bool(planned.get("backups")) != bool(current.get("backups")):
            wait(server.enable_backup() if planned.get("backups") else server.disable_backup())
        sync_networks(self.api, server, current.get("network") or [],
                      planned.get("network") or [])
        self._sync_firewalls(server, current.get("firewall_ids") or [],
                             known(planned.get("firewall_ids")))
        if planned.get("public_net") and not current.get("public_net"):
            # Adopting an imported server's addresses: off and on again, nothing else.
            wait(self.api.servers.power_off(server))
            wait(self.api.servers.power_on(server))
        group = known(planned.get("placement_group_id"))
        if group != current.get("placement_group_id"):
            self._set_placement_group(server, group)
        if (bool(planned.get("delete_protection")), bool(planned.get("rebuild_protection"))) != \
                (bool(current.get("delete_protection")), bool(current.get("rebuild_protection"))):
            wait(server.change_protection(delete=bool(planned.get("delete_protection")),
                                          rebuild=bool(planned.get("rebuild_protection"))))
        return self.read(ctx, planned)

    def _set_placement_group(self, server, group) -> None:
        server = self.api.servers.get_by_id(server.id)  # the status now
        if server.placement_group is not None:
            if server.status != hc.Server.STATUS_OFF:
                raise PlanRefused(
                    "removing a running server from a placement group is not supported by "
                    "the provider: shut the server down, apply again, then start it")
            wait(server.remove_from_placement_group())
        if group:
            # The API refuses a running server with server_not_stopped.
            wait(server.add_to_placement_group(hc.PlacementGroup(id=int(group))))

    def _sync_firewalls(self, server, have, want) -> None:
        if want is None:
            return
        target = [hc.FirewallResource(type="server", server=hc.Server(id=server.id))]
        for fid in set(have) - set(want):
            wait_all(self.api.firewalls.remove_from_resources(hc.Firewall(id=int(fid)), target))
        for fid in set(want) - set(have):
            wait_all(self.api.firewalls.apply_to_resources(hc.Firewall(id=int(fid)), target))

    def delete(self, ctx, current):
        server = self.fetch(self.api.servers.get_by_id, current["id"])
        if server is None:
            return None
        # Delete protection stays: the API answers `protected`, as it does to
        # the real provider, which never lifts it on destroy.
        if current.get("shutdown_before_deletion") and server.status == hc.Server.STATUS_RUNNING:
            wait(server.shutdown())
        wait(self.api.servers.delete(server))
        return None

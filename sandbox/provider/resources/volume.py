"""hcloud_volume and hcloud_volume_attachment."""
from __future__ import annotations


from sandbox.provider.resources import hc
from sandbox.provider.resources.base import (HcloudResource, known, labels, protection,
                                             wait, wait_all)


class Volume(HcloudResource):
    TYPE = "hcloud_volume"
    # `format` is not ForceNew in the real provider: a change is kept in state
    # and does nothing to the volume.
    REPLACE = frozenset({"location"})
    DEFAULTS = {"delete_protection": False}

    def check(self, diags, config):
        if config.get("location") is None and config.get("server_id") is None:
            diags.add_error("hcloud_volume needs `location` or `server_id`")

    def create(self, ctx, planned):
        server_id, location = known(planned.get("server_id")), known(planned.get("location"))
        made = self.api.volumes.create(
            size=planned["size"], name=planned["name"], labels=labels(planned.get("labels")),
            location=hc.Location(name=location) if location and not server_id else None,
            server=hc.Server(id=int(server_id)) if server_id else None,
            automount=bool(planned.get("automount")) if server_id else None,
            format=known(planned.get("format")))
        self.created(planned, str(made.volume.id))
        wait(made.action)
        wait_all(made.next_actions)
        if planned.get("delete_protection"):
            wait(made.volume.change_protection(delete=True))
        return self.read(ctx, {**planned, "id": str(made.volume.id)})

    def read(self, ctx, current):
        volume = self.fetch(self.api.volumes.get_by_id, current["id"])
        if volume is None:
            return None
        return {**current, "id": str(volume.id), "name": volume.name, "size": volume.size,
                "labels": volume.labels or {}, "linux_device": volume.linux_device,
                "location": volume.location.name,
                "server_id": volume.server.id if volume.server else None,
                "delete_protection": protection(volume),
                # Not read back from the API, as in the real provider.
                "format": known(current.get("format"))}

    def update(self, ctx, current, planned):
        volume = self.api.volumes.get_by_id(int(current["id"]))
        if planned["size"] != current["size"]:
            wait(volume.resize(planned["size"]))  # a smaller size: the API refuses
        if planned["name"] != current["name"] or planned.get("labels") != current.get("labels"):
            volume.update(name=planned["name"], labels=labels(planned.get("labels")))
        if bool(planned.get("delete_protection")) != bool(current.get("delete_protection")):
            wait(volume.change_protection(delete=bool(planned.get("delete_protection"))))
        target = known(planned.get("server_id"))
        if target != current.get("server_id"):
            if current.get("server_id"):
                wait(volume.detach())
            if target:
                wait(volume.attach(hc.Server(id=int(target)),
                                   automount=bool(planned.get("automount"))))
        return self.read(ctx, planned)

    def delete(self, ctx, current):
        volume = self.fetch(self.api.volumes.get_by_id, current["id"])
        if volume is None:
            return None
        # Like the real provider: detach, then delete. Delete protection stays,
        # so the API answers `protected` (with the volume already detached).
        if volume.server is not None:
            wait(volume.detach())
        self.api.volumes.delete(volume)
        return None


class VolumeAttachment(HcloudResource):
    TYPE = "hcloud_volume_attachment"
    REPLACE = frozenset({"volume_id", "server_id"})

    def create(self, ctx, planned):
        volume = self.api.volumes.get_by_id(int(planned["volume_id"]))
        server = hc.Server(id=int(planned["server_id"]))
        if volume.server is None or volume.server.id != server.id:
            if volume.server is not None:
                wait(volume.detach())
            wait(volume.attach(server, automount=bool(known(planned.get("automount")))))
        state = {**planned, "id": str(volume.id)}
        if state.get("automount") is None or known(state["automount"]) is None:
            state["automount"] = False
        return self.read(ctx, state)

    def read(self, ctx, current):
        volume = self.fetch(self.api.volumes.get_by_id, current.get("volume_id") or current["id"])
        if volume is None or volume.server is None:
            return None
        if current.get("server_id") is not None and volume.server.id != current["server_id"]:
            return None
        return {**current, "id": str(volume.id), "volume_id": volume.id,
                "server_id": volume.server.id,
                "automount": bool(current.get("automount"))}

    def update(self, ctx, current, planned):
        # Only automount can change in place, and it matters at attach time only.
        return self.read(ctx, planned)

    def delete(self, ctx, current):
        volume = self.fetch(self.api.volumes.get_by_id, current["volume_id"])
        if volume is not None and volume.server is not None \
                and volume.server.id == current["server_id"]:
            wait(volume.detach())
        return None

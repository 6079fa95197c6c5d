"""hcloud_ssh_key and hcloud_placement_group: plain named objects."""
from __future__ import annotations

from sandbox.provider.resources.base import HcloudResource, labels, wait


class SSHKey(HcloudResource):
    TYPE = "hcloud_ssh_key"
    REPLACE = frozenset({"public_key"})

    def create(self, ctx, planned):
        key = self.api.ssh_keys.create(name=planned["name"], public_key=planned["public_key"],
                                       labels=labels(planned.get("labels")))
        return self.read(ctx, {**planned, "id": str(key.id)})

    def read(self, ctx, current):
        key = self.fetch(self.api.ssh_keys.get_by_id, current["id"])
        if key is None:
            return None
        return {**current, "id": str(key.id), "name": key.name, "public_key": key.public_key,
                "fingerprint": key.fingerprint, "labels": key.labels or {}}

    def update(self, ctx, current, planned):
        self.api.ssh_keys.update(self.api.ssh_keys.get_by_id(int(current["id"])),
                                 name=planned["name"], labels=labels(planned.get("labels")))
        return self.read(ctx, planned)

    def delete(self, ctx, current):
        key = self.fetch(self.api.ssh_keys.get_by_id, current["id"])
        if key is not None:
            self.api.ssh_keys.delete(key)


class PlacementGroup(HcloudResource):
    TYPE = "hcloud_placement_group"
    REPLACE = frozenset({"type"})

    def create(self, ctx, planned):
        made = self.api.placement_groups.create(name=planned["name"], type=planned["type"],
                                                labels=labels(planned.get("labels")))
        self.created(planned, str(made.placement_group.id))
        wait(made.action)
        return self.read(ctx, {**planned, "id": str(made.placement_group.id)})

    def read(self, ctx, current):
        group = self.fetch(self.api.placement_groups.get_by_id, current["id"])
        if group is None:
            return None
        return {**current, "id": str(group.id), "name": group.name, "type": group.type,
                "labels": group.labels or {}, "servers": sorted(group.servers or [])}

    def update(self, ctx, current, planned):
        self.api.placement_groups.update(
            self.api.placement_groups.get_by_id(int(current["id"])),
            name=planned["name"], labels=labels(planned.get("labels")))
        return self.read(ctx, planned)

    def delete(self, ctx, current):
        group = self.fetch(self.api.placement_groups.get_by_id, current["id"])
        if group is not None:
            self.api.placement_groups.delete(group)

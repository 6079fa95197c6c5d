"""hcloud_zone and hcloud_zone_rrset (Hetzner DNS), shaped like the real
provider's plugin-framework resources (internal/zone, internal/zonerrset):
the zone's id is a number; an RRSet's id is the API's `name/TYPE` and it is
imported as `<zone id or name>/<name>/<TYPE>`."""
from __future__ import annotations

from sandbox.provider.errors import is_not_found
from sandbox.provider.resources.base import HcloudResource, known, labels, wait


def _zone_or_none(api, key):
    try:
        return api.zones.get(int(key) if str(key).isdigit() else str(key))
    except Exception as exc:
        if is_not_found(exc):
            return None
        raise


class Zone(HcloudResource):
    TYPE = "hcloud_zone"
    REPLACE = frozenset({"name", "mode"})

    def check(self, diags, config):
        if known(config.get("mode")) not in (None, "primary", "secondary"):
            diags.add_error("hcloud_zone: mode must be primary or secondary")

    def create(self, ctx, planned):
        made = self.api.zones.create(name=planned["name"], mode=planned["mode"],
                                     ttl=known(planned.get("ttl")), labels=labels(planned.get("labels")))
        self.created(planned, made.zone.id)
        wait(made.action)
        if known(planned.get("delete_protection")):
            wait(self.api.zones.change_protection(made.zone, delete=True))
        return self.read(ctx, {**planned, "id": made.zone.id})

    def read(self, ctx, current):
        zone = _zone_or_none(self.api, current["id"])
        if zone is None:
            return None
        return {**current, "id": zone.id, "name": zone.name, "mode": zone.mode, "ttl": zone.ttl,
                "labels": zone.labels or {}, "delete_protection": bool((zone.protection or {}).get("delete")),
                "registrar": zone.registrar,
                "primary_nameservers": [{"address": ns.address, "port": ns.port,
                                         "tsig_algorithm": ns.tsig_algorithm, "tsig_key": ns.tsig_key}
                                        for ns in zone.primary_nameservers or []],
                "authoritative_nameservers": {"assigned": list(zone.authoritative_nameservers.assigned)}}

    def update(self, ctx, current, planned):
        zone = self.api.zones.get(int(current["id"]))
        if known(planned.get("ttl")) is not None and planned["ttl"] != current.get("ttl"):
            wait(self.api.zones.change_ttl(zone, int(planned["ttl"])))
        if known(planned.get("labels")) is not None and planned["labels"] != current.get("labels"):
            self.api.zones.update(zone, labels=labels(planned.get("labels")))
        wanted = known(planned.get("delete_protection"))
        if wanted is not None and bool(wanted) != bool(current.get("delete_protection")):
            wait(self.api.zones.change_protection(zone, delete=bool(wanted)))
        return self.read(ctx, {**planned, "id": current["id"]})

    def import_(self, ctx, id: str):
        # Like the real provider: by id or by name.
        zone = _zone_or_none(self.api, id)
        return None if zone is None else self.read(ctx, {"id": zone.id})

    def delete(self, ctx, current):
        zone = _zone_or_none(self.api, current["id"])
        if zone is not None:
            wait(self.api.zones.delete(zone).action)   # protected: the API answers `protected`


def _records(value) -> list:
    from hcloud.zones import ZoneRecord
    return [ZoneRecord(value=r["value"], comment=known(r.get("comment")) or None)
            for r in known(value) or []]


class ZoneRRSet(HcloudResource):
    TYPE = "hcloud_zone_rrset"
    REPLACE = frozenset({"zone", "name", "type"})

    def _get(self, zone_key, name, rtype):
        zone = _zone_or_none(self.api, zone_key)
        if zone is None:
            return None
        try:
            return self.api.zones.get_rrset(zone, name, rtype)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise

    def check(self, diags, config):
        records = config.get("records")
        if isinstance(records, list) and not records:   # listvalidator.SizeAtLeast(1)
            diags.add_error("hcloud_zone_rrset: records must contain at least 1 element")

    def create(self, ctx, planned):
        zone = self.api.zones.get(planned["zone"])
        if planned["type"] == "SOA":
            # The API makes a zone's SOA itself: the real provider takes it into state.
            return self.read(ctx, {**planned, "id": f"{planned['name']}/SOA"})
        made = self.api.zones.create_rrset(zone, name=planned["name"], type=planned["type"],
                                           ttl=known(planned.get("ttl")), labels=labels(planned.get("labels")),
                                           records=_records(planned["records"]))
        self.created(planned, made.rrset.id)
        wait(made.action)
        if known(planned.get("change_protection")):
            wait(self.api.zones.change_rrset_protection(made.rrset, change=True))
        return self.read(ctx, {**planned, "id": made.rrset.id})

    def read(self, ctx, current):
        name, _, rtype = str(current["id"]).rpartition("/")
        rrset = self._get(current["zone"], name, rtype)
        if rrset is None:
            return None
        records = [{"value": r.value, "comment": r.comment or None} for r in rrset.records or []]
        if rrset.type == "SOA":   # the serial moves with every change: kept at 0, as the real provider does
            for record in records:
                parts = record["value"].split(" ")
                if len(parts) > 2:
                    parts[2] = "0"
                record["value"] = " ".join(parts)
        return {**current, "id": rrset.id, "name": rrset.name, "type": rrset.type, "ttl": rrset.ttl,
                "labels": rrset.labels or {},
                "change_protection": bool((rrset.protection or {}).get("change")),
                "records": records}

    def import_(self, ctx, id: str):
        # As the real provider: "<zone id or name>/<rrset id>", the RRSet id being "<name>/<TYPE>".
        zone, sep, rrset_id = id.partition("/")
        if not sep or "/" not in rrset_id:
            raise ValueError(f"import id must be <zone id or name>/<name>/<type>, got {id!r}")
        return self.read(ctx, {"zone": zone, "id": rrset_id})

    def update(self, ctx, current, planned):
        name, _, rtype = str(current["id"]).rpartition("/")
        rrset = self._get(current["zone"], name, rtype)
        wanted_protection = known(planned.get("change_protection"))
        if current.get("change_protection") and wanted_protection is False:
            wait(self.api.zones.change_rrset_protection(rrset, change=False))
        if known(planned.get("ttl")) != current.get("ttl"):
            wait(self.api.zones.change_rrset_ttl(rrset, known(planned.get("ttl"))))
        if sorted(map(str, known(planned["records"]) or [])) != sorted(map(str, current.get("records") or [])):
            wait(self.api.zones.set_rrset_records(rrset, _records(planned["records"])))
        if known(planned.get("labels")) is not None and planned["labels"] != current.get("labels"):
            self.api.zones.update_rrset(rrset, labels=labels(planned.get("labels")))
        if wanted_protection and not current.get("change_protection"):
            wait(self.api.zones.change_rrset_protection(rrset, change=True))
        return self.read(ctx, {**planned, "id": current["id"]})

    def delete(self, ctx, current):
        name, _, rtype = str(current["id"]).rpartition("/")
        if rtype == "SOA":
            return None   # the API owns it: only dropped from state
        rrset = self._get(current["zone"], name, rtype)
        if rrset is not None:
            wait(self.api.zones.delete_rrset(rrset).action)

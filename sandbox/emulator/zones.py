"""Hetzner DNS zones (/zones) and their RRSets, as in the OpenAPI description.

A primary zone is created with the records Hetzner adds itself (SOA and the
NS set of its three nameservers at `@`); RRSets are keyed by name and type
(their id is `name/TYPE`). Every change is an action on the zone. The
sandbox DNS server (sandbox/registrar.py) serves these zones too, through
`dns_zones()`, so records created by Terraform really answer on DNS.
"""
from __future__ import annotations

import ipaddress
import re

from .apierrors import ApiFault, invalid_input, not_found, uniqueness
from .query import listing
from .routing import (Call, Router, _of_type, _one, action_list, check_labels, ensure_unprotected,
                      require)
from .store import Store, now

NAMESERVERS = ("hydrogen.ns.hetzner.com.", "oxygen.ns.hetzner.com.", "helium.ns.hetzner.de.")
RR_TYPES = ("A", "AAAA", "CAA", "CNAME", "DS", "HINFO", "HTTPS", "MX", "NS", "PTR", "RP", "SOA",
            "SRV", "SVCB", "TLSA", "TXT")
MIN_TTL, MAX_TTL = 60, 2147483647
# Lower-case labels, at least two of them, no trailing dot (the API's rule for zone names).
_ZONE_NAME = re.compile(r"^(?=.{1,255}$)([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z0-9-]{2,}$")
_RR_NAME = re.compile(r"^(@|\*|(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*)$")


def _ttl(value, field: str = "ttl", nullable: bool = True):
    if value is None and nullable:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not MIN_TTL <= value <= MAX_TTL:
        raise invalid_input(f"invalid input in field '{field}'",
                            **{field: f"must be an integer between {MIN_TTL} and {MAX_TTL}"})
    return value


def _records(rtype: str, value) -> list[dict]:
    if not isinstance(value, list) or not 1 <= len(value) <= 50:
        raise invalid_input("invalid input in field 'records'", records="must hold 1 to 50 records")
    out, seen = [], set()
    for rec in value:
        if not isinstance(rec, dict) or not isinstance(rec.get("value"), str) or not rec["value"]:
            raise invalid_input("invalid input in field 'records'", records="every record needs a value")
        if rtype in ("A", "AAAA"):
            try:
                addr = ipaddress.ip_address(rec["value"])
            except ValueError:
                addr = None
            if addr is None or addr.version != (4 if rtype == "A" else 6):
                raise invalid_input("invalid input in field 'records'",
                                    records=f"{rec['value']!r} is not an {rtype} address")
        if rec["value"] in seen:
            raise invalid_input("invalid input in field 'records'", records="record values must be distinct")
        seen.add(rec["value"])
        out.append({"value": rec["value"], "comment": str(rec.get("comment") or "")})
    return out


def _zone(call: Call) -> dict:
    key = call.params["id_or_name"]
    if key.isdigit():
        return call.store.get("zones", key, "zone")
    found = call.store.by_name("zones", key)
    if found is None:
        raise not_found("zone")
    return found


def render_rrset(zone: dict, rr: dict) -> dict:
    return {"id": f"{rr['name']}/{rr['type']}", "name": rr["name"], "type": rr["type"],
            "ttl": rr["ttl"], "labels": dict(rr["labels"]), "protection": dict(rr["protection"]),
            "records": [dict(r) for r in rr["records"]], "zone": zone["id"]}


def render(zone: dict) -> dict:
    out = {k: v for k, v in zone.items() if k != "rrsets"}
    out["labels"] = dict(zone["labels"])
    out["protection"] = dict(zone["protection"])
    out["record_count"] = sum(len(rr["records"]) for rr in zone["rrsets"].values())
    out["authoritative_nameservers"] = {"assigned": list(NAMESERVERS), "delegated": [],
                                        "delegation_last_check": None, "delegation_status": "unknown"}
    return out


def _new_rrset(name, rtype, body: dict) -> dict:
    if not isinstance(name, str) or not _RR_NAME.fullmatch(name):
        raise invalid_input("invalid input in field 'name'", name="lower case, no trailing dot; `@` for the apex")
    if rtype not in RR_TYPES:
        raise invalid_input("invalid input in field 'type'", type=f"must be one of {', '.join(RR_TYPES)}")
    if rtype == "SOA":
        raise invalid_input("invalid input in field 'type'", type="SOA records are managed by Hetzner")
    return {"name": name, "type": rtype, "ttl": _ttl(body.get("ttl")), "labels": check_labels(body),
            "protection": {"change": False}, "records": _records(rtype, body.get("records"))}


def _bump_serial(zone: dict) -> None:
    """Every change moves the SOA serial on, as Hetzner's does (the provider keeps 0 in state)."""
    soa = zone["rrsets"].get("@/SOA")
    if soa:
        parts = soa["records"][0]["value"].split(" ")
        parts[2] = str(int(parts[2]) + 1)
        soa["records"][0]["value"] = " ".join(parts)


def _zone_action(call: Call, zone: dict, command: str) -> dict:
    _bump_serial(zone)
    call.store.touch()
    # RRSet changes do not wait for each other's actions (follow_up skips the
    # `locked` check): Terraform writes a zone's RRSets in parallel, and how
    # the live API locks them is not documented (ARCHITECTURE: known differences).
    rrset_change = "rrset" in command
    return call.store.action(command, [(zone["id"], "zone")], follow_up=rrset_change)


def create(call: Call):
    store, body = call.store, call.body
    require(body, "name", "mode")
    name = body["name"]
    if not isinstance(name, str) or not _ZONE_NAME.fullmatch(name):
        raise invalid_input("invalid input in field 'name'",
                            name="a lower-case domain name without a trailing dot")
    if body["mode"] != "primary":
        # Secondary zones need a reachable primary to transfer from: not emulated.
        raise invalid_input("invalid input in field 'mode'", mode="the sandbox serves primary zones only")
    if store.by_name("zones", name) is not None:
        raise uniqueness("name")
    ttl = _ttl(body.get("ttl", 3600), nullable=False)
    if body.get("zonefile"):
        raise invalid_input("invalid input in field 'zonefile'", zonefile="zone file import is not emulated")
    rrsets = {}
    given = body.get("rrsets") or []
    if not isinstance(given, list) or not all(isinstance(item, dict) for item in given):
        raise invalid_input("invalid input in field 'rrsets'", rrsets="must be a list of RRSets")
    for item in given:
        rr = _new_rrset(item.get("name"), item.get("type"), item)
        rrsets[f"{rr['name']}/{rr['type']}"] = rr
    zid = store.new_id()
    rrsets["@/SOA"] = {"name": "@", "type": "SOA", "ttl": None, "labels": {}, "protection": {"change": False},
                       "records": [{"value": f"{NAMESERVERS[0]} dns.hetzner.com. 1 86400 10800 3600000 3600",
                                    "comment": ""}]}
    rrsets.setdefault("@/NS", {"name": "@", "type": "NS", "ttl": None, "labels": {},
                               "protection": {"change": False},
                               "records": [{"value": ns, "comment": ""} for ns in NAMESERVERS]})
    zone = {"id": zid, "name": name, "mode": "primary", "ttl": ttl, "labels": check_labels(body),
            "protection": {"delete": False}, "created": now(), "status": "ok", "registrar": "other",
            "primary_nameservers": [], "rrsets": rrsets}
    store.put("zones", zone)
    return 201, {"zone": render(zone), "action": store.action("create_zone", [(zid, "zone")])}


def update(call: Call):
    zone = _zone(call)
    if "labels" in call.body:
        zone["labels"] = check_labels(call.body)
    call.store.touch()
    return {"zone": render(zone)}


def delete(call: Call):
    zone = _zone(call)
    ensure_unprotected(zone, "zone")
    call.store.delete("zones", zone["id"])
    return 201, {"action": call.store.action("delete_zone", [(zone["id"], "zone")])}


def change_protection(call: Call):
    zone = _zone(call)
    if "delete" in call.body:
        if not isinstance(call.body["delete"], bool):
            raise invalid_input("invalid input in field 'delete'", delete="must be a boolean")
        zone["protection"]["delete"] = call.body["delete"]
    return 201, {"action": _zone_action(call, zone, "change_protection")}


def change_ttl(call: Call):
    zone = _zone(call)
    require(call.body, "ttl")
    zone["ttl"] = _ttl(call.body["ttl"], nullable=False)
    return 201, {"action": _zone_action(call, zone, "change_ttl")}


# -- rrsets ----------------------------------------------------------------
def _rrset(call: Call) -> tuple[dict, dict]:
    zone = _zone(call)
    rr = zone["rrsets"].get(f"{call.params['rr_name']}/{call.params['rr_type']}")
    if rr is None:
        raise not_found("rrset")
    return zone, rr


def _changeable(rr: dict) -> None:
    if rr["protection"]["change"]:
        raise ApiFault(423, "protected", "cannot change rrset: change protection is enabled")
    if rr["type"] == "SOA":
        raise invalid_input("SOA records are managed by Hetzner", type="SOA")


def list_rrsets(call: Call):
    zone = _zone(call)
    items = [render_rrset(zone, rr) for rr in zone["rrsets"].values()]
    return listing(call.query, "rrsets", items, sort_keys=("id", "name"),
                   filters={"type": lambda o, vs: o["type"] in vs})


def create_rrset(call: Call):
    zone = _zone(call)
    require(call.body, "name", "type", "records")
    rr = _new_rrset(call.body["name"], call.body["type"], call.body)
    key = f"{rr['name']}/{rr['type']}"
    if key in zone["rrsets"]:
        raise uniqueness("name")
    zone["rrsets"][key] = rr
    return 201, {"rrset": render_rrset(zone, rr), "action": _zone_action(call, zone, "create_rrset")}


def update_rrset(call: Call):
    zone, rr = _rrset(call)
    if "labels" in call.body:
        rr["labels"] = check_labels(call.body)
    call.store.touch()
    return {"rrset": render_rrset(zone, rr)}


def delete_rrset(call: Call):
    zone, rr = _rrset(call)
    _changeable(rr)
    if rr["name"] == "@" and rr["type"] == "NS":
        raise invalid_input("the apex NS records are managed by Hetzner", type="NS")
    del zone["rrsets"][f"{rr['name']}/{rr['type']}"]
    return 201, {"action": _zone_action(call, zone, "delete_rrset")}


def set_records(call: Call):
    zone, rr = _rrset(call)
    _changeable(rr)
    require(call.body, "records")
    rr["records"] = _records(rr["type"], call.body["records"])
    return 201, {"action": _zone_action(call, zone, "set_rrset_records")}


def add_records(call: Call):
    zone, rr = _rrset(call)
    _changeable(rr)
    require(call.body, "records")
    new = _records(rr["type"], call.body["records"])
    have = {r["value"] for r in rr["records"]}
    rr["records"] += [r for r in new if r["value"] not in have]
    if "ttl" in call.body:
        rr["ttl"] = _ttl(call.body["ttl"])
    return 201, {"action": _zone_action(call, zone, "add_rrset_records")}


def remove_records(call: Call):
    zone, rr = _rrset(call)
    _changeable(rr)
    require(call.body, "records")
    if not isinstance(call.body["records"], list):
        raise invalid_input("invalid input in field 'records'", records="must be a list of records")
    drop = {r.get("value") for r in call.body["records"] if isinstance(r, dict)}
    left = [r for r in rr["records"] if r["value"] not in drop]
    if left:
        rr["records"] = left
    else:   # the API deletes an RRSet whose last record goes
        del zone["rrsets"][f"{rr['name']}/{rr['type']}"]
    return 201, {"action": _zone_action(call, zone, "remove_rrset_records")}


def rrset_ttl(call: Call):
    zone, rr = _rrset(call)
    _changeable(rr)
    if "ttl" not in call.body:
        raise invalid_input("invalid input in field 'ttl'", ttl="Missing data for required field.")
    rr["ttl"] = _ttl(call.body["ttl"])
    return 201, {"action": _zone_action(call, zone, "change_rrset_ttl")}


def rrset_protection(call: Call):
    zone, rr = _rrset(call)
    if "change" in call.body:
        if not isinstance(call.body["change"], bool):
            raise invalid_input("invalid input in field 'change'", change="must be a boolean")
        rr["protection"]["change"] = call.body["change"]
    return 201, {"action": _zone_action(call, zone, "change_rrset_protection")}


def zonefile(call: Call):
    zone = _zone(call)
    lines = [f"$ORIGIN\t{zone['name']}.", f"$TTL\t{zone['ttl']}", ""]
    for rr in sorted(zone["rrsets"].values(), key=lambda r: (r["name"] != "@", r["name"], r["type"])):
        for rec in rr["records"]:
            ttl = "" if rr["ttl"] is None else f"{rr['ttl']}\t"
            lines.append(f"{rr['name']}\tIN\t{ttl}{rr['type']}\t{rec['value']}")
    return {"zonefile": "\n".join(lines) + "\n"}


# -- the sandbox DNS server's view ------------------------------------------
def dns_zones(store: Store) -> dict[str, dict]:
    """Zones in the Namecheap-shaped form sandbox/dns_server.py serves:
    domain -> {"hosts": [{name, type, address, ttl, mx_pref}]}."""
    out = {}
    with store.lock:
        for zone in store.all("zones"):
            hosts = []
            for rr in zone["rrsets"].values():
                if rr["type"] in ("SOA", "NS"):
                    continue   # dns_server makes its own SOA; NS would point outside the sandbox
                for rec in rr["records"]:
                    host = {"name": rr["name"], "type": rr["type"], "address": rec["value"],
                            "ttl": rr["ttl"] or zone["ttl"], "mx_pref": 10}
                    if rr["type"] == "MX":
                        pref, _, target = rec["value"].partition(" ")
                        host.update(mx_pref=int(pref) if pref.isdigit() else 10, address=target)
                    if rr["type"] == "TXT":
                        host["address"] = rec["value"].strip('"')
                    hosts.append(host)
            out[zone["name"]] = {"domain": zone["name"], "hosts": hosts}
    return out


def register(router: Router) -> None:
    router.add("GET", "/zones", lambda c: listing(
        c.query, "zones", [render(z) for z in c.store.all("zones")],
        filters={"mode": lambda o, vs: o["mode"] in vs}))
    router.add("POST", "/zones", create)
    router.add("GET", "/zones/{id_or_name}", lambda c: {"zone": render(_zone(c))})
    router.add("PUT", "/zones/{id_or_name}", update)
    router.add("DELETE", "/zones/{id_or_name}", delete)
    router.add("GET", "/zones/{id_or_name}/zonefile", zonefile)
    router.add("POST", "/zones/{id_or_name}/actions/change_protection", change_protection)
    router.add("POST", "/zones/{id_or_name}/actions/change_ttl", change_ttl)
    router.add("GET", "/zones/{id_or_name}/rrsets", list_rrsets)
    router.add("POST", "/zones/{id_or_name}/rrsets", create_rrset)
    base = "/zones/{id_or_name}/rrsets/{rr_name}/{rr_type}"
    router.add("GET", base, lambda c: {"rrset": render_rrset(*_rrset(c))})
    router.add("PUT", base, update_rrset)
    router.add("DELETE", base, delete_rrset)
    for name, fn in (("set_records", set_records), ("add_records", add_records),
                     ("remove_records", remove_records), ("change_ttl", rrset_ttl),
                     ("change_protection", rrset_protection)):
        router.add("POST", f"{base}/actions/{name}", fn)
    # A zone's own actions answer by id or name, like every /zones/{id_or_name} path.
    router.add("GET", "/zones/actions", lambda c: action_list(c, _of_type(c.store, "zone")))
    router.add("GET", "/zones/actions/{id}", lambda c: _one(c.store, _of_type(c.store, "zone"), c.params["id"]))
    router.add("GET", "/zones/{id_or_name}/actions",
               lambda c: action_list(c, _of_type(c.store, "zone", _zone(c)["id"])))
    router.add("GET", "/zones/{id_or_name}/actions/{action_id}", lambda c: _one(
        c.store, _of_type(c.store, "zone", _zone(c)["id"]), c.params["action_id"]))

"""Hetzner DNS zones in the emulator: every /zones endpoint's responses
validate against the OpenAPI description, and the official hcloud Python
client (a second, independent client) drives the same endpoints."""
from __future__ import annotations

import pytest

from sandbox.emulator import zones as zones_mod
from tests.sandbox.test_openapi import Checker, spec  # noqa: F401  (the session fixture)

Z = "/zones/{id_or_name}"
R = Z + "/rrsets/{rr_name}/{rr_type}"


@pytest.fixture
def check(spec, emulator):  # noqa: F811
    return Checker(spec, emulator)


def test_zone_and_rrset_endpoints_validate(check, emulator):
    made = check("POST", "/zones", "/zones", {"name": "example.com", "mode": "primary", "ttl": 3600,
                                              "labels": {"app": "x"}}, expect=201)
    zid = made["zone"]["id"]
    assert made["zone"]["authoritative_nameservers"]["assigned"] == list(zones_mod.NAMESERVERS)
    check("GET", "/zones", "/zones", expect=200)
    by_name = check("GET", Z, "/zones/example.com", expect=200)
    assert by_name["zone"]["id"] == zid
    check("PUT", Z, f"/zones/{zid}", {"labels": {"app": "y"}}, expect=200)
    check("POST", Z + "/actions/change_ttl", f"/zones/{zid}/actions/change_ttl", {"ttl": 300}, expect=201)
    check("POST", Z + "/actions/change_protection", f"/zones/{zid}/actions/change_protection",
          {"delete": True}, expect=201)
    rr = check("POST", Z + "/rrsets", f"/zones/{zid}/rrsets",
               {"name": "api", "type": "A", "ttl": 300, "records": [{"value": "203.0.113.5"}]}, expect=201)
    assert rr["rrset"]["id"] == "api/A"
    listed = check("GET", Z + "/rrsets", f"/zones/{zid}/rrsets", expect=200)
    assert {r["id"] for r in listed["rrsets"]} == {"@/SOA", "@/NS", "api/A"}
    check("GET", R, f"/zones/{zid}/rrsets/api/A", expect=200)
    check("PUT", R, f"/zones/{zid}/rrsets/api/A", {"labels": {"k": "v"}}, expect=200)
    for action, body in (("set_records", {"records": [{"value": "203.0.113.6", "comment": "web"}]}),
                         ("add_records", {"records": [{"value": "203.0.113.7"}]}),
                         ("remove_records", {"records": [{"value": "203.0.113.7"}]}),
                         ("change_ttl", {"ttl": 600}),
                         ("change_protection", {"change": False})):
        check("POST", R + f"/actions/{action}", f"/zones/{zid}/rrsets/api/A/actions/{action}", body, expect=201)
    got = check("GET", R, f"/zones/{zid}/rrsets/api/A", expect=200)["rrset"]
    assert got["ttl"] == 600 and got["records"] == [{"value": "203.0.113.6", "comment": "web"}]
    acts = check("GET", Z + "/actions", f"/zones/{zid}/actions", expect=200)["actions"]
    assert check("GET", Z + "/actions", "/zones/example.com/actions", expect=200)["actions"] == acts
    check("GET", Z + "/actions/{action_id}", f"/zones/example.com/actions/{acts[0]['id']}", expect=200)
    check("GET", "/zones/actions/{id}", f"/zones/actions/{acts[0]['id']}", expect=200)
    check("GET", "/zones/actions", "/zones/actions", expect=200)
    check("GET", Z + "/zonefile", f"/zones/{zid}/zonefile", expect=200)
    check("DELETE", R, f"/zones/{zid}/rrsets/api/A", expect=201)
    check("GET", R, f"/zones/{zid}/rrsets/api/A", expect=404)
    # Delete protection holds until it is switched off.
    check("DELETE", Z, f"/zones/{zid}", expect=423)
    check("POST", Z + "/actions/change_protection", f"/zones/{zid}/actions/change_protection",
          {"delete": False}, expect=201)
    check("DELETE", Z, f"/zones/{zid}", expect=201)
    check("GET", Z, f"/zones/{zid}", expect=404)
    # Every zone route the emulator serves was exercised above.
    served = {p.strip("^$").removesuffix("/?") for p in (r[1].pattern for r in emulator.server.router._routes)
              if p.startswith("^/zones")}
    exercised = {"/zones", "/zones/actions", "/zones/(?P<id_or_name>[^/]+)/zonefile",
                 "/zones/(?P<id_or_name>[^/]+)", "/zones/(?P<id_or_name>[^/]+)/actions",
                 "/zones/actions/(?P<id>[^/]+)", "/zones/(?P<id_or_name>[^/]+)/actions/(?P<action_id>[^/]+)"}
    exercised |= {f"/zones/(?P<id_or_name>[^/]+)/actions/{a}" for a in ("change_ttl", "change_protection")}
    rr = "/zones/(?P<id_or_name>[^/]+)/rrsets"
    exercised |= {rr, rr + "/(?P<rr_name>[^/]+)/(?P<rr_type>[^/]+)"}
    exercised |= {rr + f"/(?P<rr_name>[^/]+)/(?P<rr_type>[^/]+)/actions/{a}" for a in
                  ("set_records", "add_records", "remove_records", "change_ttl", "change_protection")}
    assert served == exercised


@pytest.mark.parametrize("body,field", [
    ({"name": "Example.com", "mode": "primary"}, "name"),
    ({"name": "example.com.", "mode": "primary"}, "name"),
    ({"name": "example.com\n", "mode": "primary"}, "name"),
    ({"name": "com", "mode": "primary"}, "name"),
    ({"name": "example.com", "mode": "primary", "ttl": 30}, "ttl"),
    ({"name": "example.com"}, "mode"),
    ({"name": "example.com", "mode": "primary", "rrsets": "x"}, "rrsets"),
    ({"name": "example.com", "mode": "primary", "rrsets": [{"name": "a", "type": "A", "records": "x"}]},
     "records"),
    ({"name": "example.com", "mode": "primary", "ttl": "300"}, "ttl"),
    ({"name": ["example.com"], "mode": "primary"}, "name"),
])
def test_bad_zone_input_is_refused(check, body, field):
    err = check("POST", "/zones", "/zones", body, expect=422)["error"]
    assert err["code"] == "invalid_input"
    assert field in {f["name"] for f in err["details"]["fields"]}


def test_bad_rrset_input_is_refused(check):
    zid = check("POST", "/zones", "/zones", {"name": "example.org", "mode": "primary"}, expect=201)["zone"]["id"]
    for body in ({"name": "api", "type": "A", "records": [{"value": "2001:db8::1"}]},
                 {"name": "api", "type": "A", "records": []},
                 {"name": "api.", "type": "A", "records": [{"value": "203.0.113.1"}]},
                 {"name": "api\n", "type": "A", "records": [{"value": "203.0.113.1"}]},
                 {"name": "API", "type": "A", "records": [{"value": "203.0.113.1"}]},
                 {"name": "api", "type": "A", "records": [{"value": "203.0.113.1"}, {"value": "203.0.113.1"}]},
                 {"name": "api", "type": "BOGUS", "records": [{"value": "x"}]}):
        check("POST", Z + "/rrsets", f"/zones/{zid}/rrsets", body, expect=422)
    check("POST", Z + "/rrsets", f"/zones/{zid}/rrsets",
          {"name": "api", "type": "A", "records": [{"value": "203.0.113.1"}]}, expect=201)
    check("POST", Z + "/rrsets", f"/zones/{zid}/rrsets",
          {"name": "api", "type": "A", "records": [{"value": "203.0.113.2"}]}, expect=409)
    for action, body in (("remove_records", {"records": 5}), ("set_records", {"records": [{"value": 5}]}),
                         ("change_ttl", {"ttl": "60"}), ("change_protection", {"change": "yes"})):
        check("POST", R + f"/actions/{action}", f"/zones/{zid}/rrsets/api/A/actions/{action}", body, expect=422)
    check("POST", R + "/actions/change_protection", f"/zones/{zid}/rrsets/api/A/actions/change_protection",
          {"change": True}, expect=201)
    check("POST", R + "/actions/set_records", f"/zones/{zid}/rrsets/api/A/actions/set_records",
          {"records": [{"value": "203.0.113.9"}]}, expect=423)


def test_official_client_round_trip(emulator):
    from hcloud.zones import ZoneRecord
    client = emulator.client()
    made = client.zones.create(name="example.net", mode="primary", ttl=3600)
    made.action.wait_until_finished()
    zone = client.zones.get(made.zone.name)
    assert zone.id == made.zone.id and zone.protection == {"delete": False}
    rr = client.zones.create_rrset(zone=zone, name="www", type="AAAA", ttl=300,
                                   records=[ZoneRecord(value="2001:db8::10")]).rrset
    assert rr.id == "www/AAAA"
    client.zones.set_rrset_records(rr, [ZoneRecord(value="2001:db8::11", comment="new")]).wait_until_finished()
    client.zones.change_rrset_ttl(rr, 900).wait_until_finished()
    again = client.zones.get_rrset(zone, "www", "AAAA")
    assert again.ttl == 900 and [(r.value, r.comment) for r in again.records] == [("2001:db8::11", "new")]
    names = {(r.name, r.type) for r in client.zones.get_rrset_all(zone)}
    assert names == {("@", "SOA"), ("@", "NS"), ("www", "AAAA")}
    served = zones_mod.dns_zones(emulator.server.store)["example.net"]["hosts"]
    assert {"name": "www", "type": "AAAA", "address": "2001:db8::11", "ttl": 900, "mx_pref": 10} in served
    client.zones.delete(zone)
    assert client.zones.get_all() == []


def test_rrsets_of_one_zone_change_while_its_actions_run(tmp_path):
    """With slow actions, a zone's RRSets are still written one after another
    without `locked` (Terraform creates them in parallel), but a second zone
    action while one runs is `locked`."""
    from tests.sandbox.conftest import start_emulator
    emu = start_emulator(tmp_path / "slow", action_seconds=30)
    try:
        status, body, _ = emu.api("POST", "/zones", {"name": "example.com", "mode": "primary"})
        assert status == 201
        zid = body["zone"]["id"]
        for name in ("a", "b"):
            status, _, _ = emu.api("POST", f"/zones/{zid}/rrsets",
                                   {"name": name, "type": "A", "records": [{"value": "203.0.113.1"}]})
            assert status == 201
        status, body, _ = emu.api("POST", f"/zones/{zid}/actions/change_ttl", {"ttl": 600})
        assert status == 423 and body["error"]["code"] == "locked"
    finally:
        emu.server.close()

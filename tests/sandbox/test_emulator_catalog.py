"""The dated 2026 catalogue: prices as ../shared/README.md ("Prices") gives
them, written out literally here, served by /server_types and /pricing with
net and gross (x 1.19) the way the API shapes money; deprecated and
unavailable types behave as Hetzner's rules say."""
from __future__ import annotations

import pytest

from .test_openapi import spec, validate  # noqa: F401 (spec is a fixture)


def monthly(emulator, name, location="nbg1"):
    listed = emulator.api("GET", f"/server_types?name={name}")[1]["server_types"]
    assert len(listed) == 1, name
    return next(p["price_monthly"] for p in listed[0]["prices"] if p["location"] == location)


# New orders and rescales from 15 June 2026; CCX13/CCX53 from Hetzner's table,
# CCX23-43 and CPX22/42 from mixxor/eu-cloud-prices less the 0.50 IPv4 (README).
@pytest.mark.parametrize("name,net,gross", [
    ("ccx13", "42.9900", "51.1581"),
    ("ccx23", "85.9900", "102.3281"),
    ("ccx33", "138.4900", "164.8031"),
    ("ccx43", "275.9900", "328.4281"),
    ("ccx53", "533.4900", "634.8531"),
    ("cpx22", "19.4900", "23.1931"),
    ("cpx42", "69.4900", "82.6931"),
])
def test_server_type_prices(emulator, name, net, gross):
    assert monthly(emulator, name) == {"net": net, "gross": gross}
    pricing = emulator.api("GET", "/pricing")[1]["pricing"]
    row = next(t for t in pricing["server_types"] if t["name"] == name)
    assert next(p for p in row["prices"] if p["location"] == "nbg1")["price_monthly"] == {"net": net, "gross": gross}


def test_other_prices(emulator, spec):
    status, body, _ = emulator.api("GET", "/pricing")
    validate(spec, "GET", "/pricing", status, body)
    pricing = body["pricing"]
    assert (pricing["currency"], pricing["vat_rate"]) == ("EUR", "19.00")
    assert pricing["volume"]["price_per_gb_month"] == {"net": "0.0572", "gross": "0.0681"}
    assert pricing["server_backup"]["percentage"] == "20.0000"
    lb11 = next(t for t in pricing["load_balancer_types"] if t["name"] == "lb11")
    assert lb11["prices"][0]["price_monthly"] == {"net": "7.4900", "gross": "8.9131"}
    ipv4 = next(t for t in pricing["primary_ips"] if t["type"] == "ipv4")
    assert ipv4["prices"][0]["price_monthly"] == {"net": "0.5000", "gross": "0.5950"}


def test_shared_cx_and_cax_are_not_available(emulator):
    for name in ("cx23", "cx33", "cx43", "cx53", "cax11", "cax41"):
        st = emulator.api("GET", f"/server_types?name={name}")[1]["server_types"][0]
        assert {loc["name"] for loc in st["locations"]} == {"fsn1", "nbg1", "hel1"}
        assert not any(loc["available"] for loc in st["locations"]), name
    status, err, _ = emulator.api("POST", "/servers", {"name": "x", "server_type": "cx23", "image": "debian-12",
                                                       "location": "fsn1"})
    assert (status, err["error"]["code"]) == (412, "resource_unavailable")


def test_cpx_gen2_is_orderable_everywhere(emulator):
    for name in ("cpx12", "cpx22", "cpx32", "cpx42", "cpx52", "cpx62"):
        st = emulator.api("GET", f"/server_types?name={name}")[1]["server_types"][0]
        assert [(loc["name"], loc["available"]) for loc in st["locations"]] == [
            (loc, True) for loc in ("fsn1", "nbg1", "hel1", "ash", "hil", "sin")]
    assert emulator.api("POST", "/servers", {"name": "x", "server_type": "cpx62", "image": "debian-12",
                                             "location": "sin"})[0] == 201


def test_gen1_types_are_deprecated_and_gone(emulator, spec):
    listed = {t["name"] for t in emulator.api("GET", "/server_types?per_page=50")[1]["server_types"]}
    assert not listed & {"cx22", "cx32", "cpx11", "cpx21", "cpx31"}
    # Still readable by id (servers that have one keep it), with the deprecation shown.
    status, body, _ = emulator.api("GET", "/server_types/104")
    validate(spec, "GET", "/server_types/{id}", status, body)
    cx22 = body["server_type"]
    assert cx22["name"] == "cx22" and cx22["deprecated"] is True
    assert cx22["deprecation"] == {"announced": "2025-10-16T00:00:00+00:00",
                                   "unavailable_after": "2026-01-01T00:00:00+00:00"}
    assert all(loc["deprecation"] == cx22["deprecation"] and loc["available"] is False
               for loc in cx22["locations"])
    status, err, _ = emulator.api("POST", "/servers", {"name": "x", "server_type": "cx22", "image": "debian-12"})
    assert (status, err["error"]["code"]) == (422, "invalid_input")


def test_rescaling_to_a_retired_type_is_refused(emulator):
    sid = emulator.api("POST", "/servers", {"name": "x", "server_type": "cpx22", "image": "debian-12",
                                            "start_after_create": False})[1]["server"]["id"]
    status, err, _ = emulator.api("POST", f"/servers/{sid}/actions/change_type",
                                  {"server_type": "cpx21", "upgrade_disk": False})
    assert (status, err["error"]["code"]) == (422, "invalid_input")

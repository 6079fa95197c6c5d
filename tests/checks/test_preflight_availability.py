"""Per-location availability rules of server types, images and live prices (responses-level)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import responses

from generator.config import load_config
from generator.profiles import get_profile
from checks.availability import (AVAILABLE, DEPRECATED, NOT_OFFERED, UNAVAILABLE, UNKNOWN,
                                  check_availability)
from checks.hetzner_api import open_client
from pricing.live import cost_report, live_row
from tests.checks.preflight_support import TOKEN

URL = "http://api.test/v1"
NOW = dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc)
PAGE = {"pagination": {"page": 1, "per_page": 50, "previous_page": None, "next_page": None,
                       "last_page": 1, "total_entries": 1}}


def server_type(locations):
    return {"id": 98, "name": "ccx33", "description": "CCX33", "cores": 8, "memory": 32.0,
            "disk": 240, "cpu_type": "dedicated", "architecture": "x86", "storage_type": "local",
            "deprecated": False, "deprecation": None, "prices": [], "locations": locations}


def loc(name, deprecation=None, available=True, recommended=True):
    return {"id": 2, "name": name, "deprecation": deprecation, "available": available,
            "recommended": recommended}


def serve(locations, images=("ubuntu-22.04",), datacenters=None):
    responses.get(f"{URL}/server_types", json={"server_types": [server_type(locations)],
                                               "meta": PAGE})
    responses.get(f"{URL}/images", json={"images": [
        {"id": 1, "name": n, "type": "system", "architecture": "x86", "description": n,
         "deprecation": None} for n in images], "meta": PAGE})
    if datacenters is None:
        responses.get(f"{URL}/datacenters", status=404,
                      json={"error": {"code": "not_found", "message": "gone", "details": {}}})
    else:
        responses.get(f"{URL}/datacenters", json={"datacenters": datacenters, "meta": PAGE})


def availability(image="ubuntu-22.04"):
    return check_availability(open_client(URL, TOKEN), server_types=("ccx33",),
                              location="nbg1", image=image, now=NOW)


@pytest.mark.parametrize("locations,status,orderable", [
    ([loc("nbg1")], AVAILABLE, True),
    ([loc("fsn1")], NOT_OFFERED, False),
    ([loc("nbg1", {"announced": "2026-09-01T00:00:00+00:00",
                   "unavailable_after": "2026-12-01T00:00:00+00:00"})], DEPRECATED, True),
    ([loc("nbg1", {"announced": "2026-06-01T00:00:00+00:00",
                   "unavailable_after": "2026-09-01T00:00:00+00:00"})], UNAVAILABLE, False),
    ([loc("nbg1", available=False, recommended=False)], UNAVAILABLE, False),
])
@responses.activate
def test_server_type_location_rules(locations, status, orderable):
    serve(locations)
    (t,) = availability().types
    assert t.status == status
    assert t.orderable is orderable


@responses.activate
def test_unknown_server_type_and_missing_image():
    responses.get(f"{URL}/server_types", json={"server_types": [], "meta": PAGE})
    responses.get(f"{URL}/images", json={"images": [], "meta": PAGE})
    responses.get(f"{URL}/datacenters", status=404,
                  json={"error": {"code": "not_found", "message": "gone", "details": {}}})
    av = availability("ubuntu-99.04")
    assert av.types[0].status == UNKNOWN and not av.image.found and not av.ok


@responses.activate
def test_datacenters_saying_unavailable_wins_while_the_endpoint_exists():
    serve([loc("nbg1")], datacenters=[
        {"id": 12, "name": "nbg1-dc3", "location": {"id": 2, "name": "nbg1"},
         "server_types": {"supported": [98], "available": [], "available_for_migration": []}}])
    (t,) = availability().types
    assert t.status == UNAVAILABLE and "no datacenter" in t.detail


PRICING = {
    "currency": "EUR", "vat_rate": "19.00",
    "volume": {"price_per_gb_month": {"net": "0.0440", "gross": "0.0524"}},
    "server_backup": {"percentage": "20.0000"},
    "primary_ips": [{"type": "ipv4", "prices": [
        {"location": "nbg1", "price_monthly": {"net": "0.6100", "gross": "0.7259"}}]}],
    "server_types": [{"id": 98, "name": "ccx33", "prices": [
        {"location": "nbg1", "price_monthly": {"net": "48.4900", "gross": "57.7031"}},
        {"location": "fsn1", "price_monthly": {"net": "1.0000", "gross": "1.19"}}]}],
    "load_balancer_types": [],
}


def test_live_row_reads_net_prices_for_the_location():
    row = live_row(PRICING, "nbg1", dt.date(2026, 11, 25))
    assert row.server_types == {"ccx33": Decimal("48.4900")}
    assert row.volume_per_gb_month == Decimal("0.0440")
    assert row.primary_ipv4_month == Decimal("0.6100")
    assert row.backup_percent == Decimal("20.0000")


def test_cost_report_live_then_fallbacks(make_config):
    config = load_config(make_config())
    day = dt.date(2026, 11, 25)
    live = cost_report(get_profile("ccx33"), config, PRICING, today=day)
    # 48.49 + 20% (9.698) + 50 x 0.044 (2.20) + 0.61 = 60.998
    assert live.live and str(live.estimate.total_monthly_eur.quantize(Decimal("0.01"))) == "61.00"
    # The live list lacks ccx43: the dated table answers, and says why.
    fallback = cost_report(get_profile("ccx43"), config, PRICING, today=day)
    assert not fallback.live and fallback.label == ("offline table dated 2026-04-01; "
                                                    "new servers and rescales: 2026-06-15")
    assert "ccx43" in fallback.problem
    # No API answer at all.
    offline = cost_report(get_profile("ccx33"), config, None, "API unreachable", today=day)
    assert not offline.live and offline.problem == "API unreachable"
    # Before April 2026 neither source prices 3-tier: no estimate, never a guess.
    none = cost_report(get_profile("3-tier"), config, None, today=dt.date(2026, 3, 31))
    assert none.estimate is None and "ccx23" in none.problem


def test_non_eur_live_prices_are_not_used(make_config):
    config = load_config(make_config())
    usd = dict(PRICING, currency="USD")
    report = cost_report(get_profile("ccx33"), config, usd, today=dt.date(2026, 11, 25))
    assert not report.live and "USD" in report.problem


@responses.activate
def test_an_answer_the_library_cannot_map_is_one_api_error():
    from errors import ApiError
    from checks.hetzner_api import api_errors
    # A location entry without the fields hcloud 2.27 requires.
    responses.get(f"{URL}/server_types", json={"server_types": [server_type([{"id": 2}])],
                                               "meta": PAGE})
    responses.get(f"{URL}/datacenters", status=404,
                  json={"error": {"code": "not_found", "message": "gone", "details": {}}})
    with pytest.raises(ApiError) as err:
        with api_errors(URL):
            availability()
    assert "cannot read" in str(err.value) and "\n" not in str(err.value)

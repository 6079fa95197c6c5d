"""`cost` prefers live GET /pricing when HCLOUD_TOKEN is set (here: the
emulator), and falls back to the dated table, saying why, when it cannot."""
from __future__ import annotations

import json
from decimal import Decimal

from click.testing import CliRunner

from cli import cli


def _cost(make_config, monkeypatch, endpoint, token, *args):
    monkeypatch.setenv("HCLOUD_TOKEN", token)
    monkeypatch.setenv("HCLOUD_ENDPOINT", endpoint)
    return CliRunner().invoke(cli, ["cost", "--config", str(make_config()), *args])


def test_live_prices_are_used_with_a_token(make_config, monkeypatch, emulator, hcloud_client):
    result = _cost(make_config, monkeypatch, emulator.url, emulator.token,
                   "--profile", "3-tier", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["source"].startswith("Hetzner Cloud API /pricing (live")
    # The second client: the hcloud library reads the same price list.
    ccx23 = hcloud_client.server_types.get_by_name("ccx23")
    net = next(Decimal(p["price_monthly"]["net"]) for p in ccx23.prices if p["location"] == "nbg1")
    app = doc["items"][0]
    assert app["quantity"] == 2 and Decimal(app["unit_eur"]) == net
    assert doc["new_server_table_date"] is None      # one live row: every server at list price


def test_table_answers_when_the_api_does_not(make_config, monkeypatch, emulator, fake_clock):
    result = _cost(make_config, monkeypatch, emulator.url, "wrong-token", "--profile", "ccx33")
    assert result.exit_code == 0, result.stderr
    assert "Note: Live prices not used (" in result.stdout
    assert "the dated table answers" in result.stdout
    assert "Source: mixxor/eu-cloud-prices" in result.stdout


def test_on_and_prices_ask_for_the_table(make_config, monkeypatch, emulator):
    result = _cost(make_config, monkeypatch, emulator.url, emulator.token,
                   "--profile", "ccx33", "--on", "2025-11-18", "--json")
    assert json.loads(result.stdout)["total_monthly_eur"] == "47.30"


def test_recommend_prices_every_profile_live(make_config, monkeypatch, emulator):
    monkeypatch.setenv("HCLOUD_TOKEN", emulator.token)
    monkeypatch.setenv("HCLOUD_ENDPOINT", emulator.url)
    result = CliRunner().invoke(cli, ["recommend", "--config", str(make_config()),
                                      "--calls-per-month", "25000", "--json"])
    doc = json.loads(result.stdout)
    assert doc["price_source"].startswith("Hetzner Cloud API /pricing (live")
    assert doc["live_note"] is None
    assert [p["profile"] for p in doc["profiles"] if p["monthly_cost_eur"]] == [
        "ccx33", "ccx43", "3-tier"]

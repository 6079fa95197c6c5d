import json

import pytest
from click.testing import CliRunner

from cli import cli
from tests.conftest import BASE_TOML, TEST_PRICE_TABLE



@pytest.fixture
def run(make_config, monkeypatch):
    monkeypatch.delenv("HCLOUD_TOKEN", raising=False)   # offline: the shipped table
    config = make_config()

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["recommend", "--config", str(config), *args])
    return invoke


@pytest.mark.parametrize("calls, profile", [
    ("0", "ccx33"), ("5000", "ccx33"), ("5001", "ccx43"), ("20000", "ccx43"),
    ("20001", "3-tier"), ("1000000000", "3-tier"),
])
def test_json_boundaries(run, calls, profile):
    result = run("--calls-per-month", calls, "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["profile"] == profile
    assert data["calls_per_month"] == int(calls)
    assert data["thresholds"] == {"ccx33_max_calls": 5000, "ccx43_max_calls": 20000}
    assert data["reason"]


def test_volume_defaults_to_the_config(run):
    data = json.loads(run("--json", "--on", "2025-12-01").stdout)
    assert data["calls_per_month"] == 3000
    assert data["profile"] == "ccx33"
    assert data["headroom"] == {"next_profile": "ccx43", "limit": 5000, "calls": 2000,
                                "percent": "40.0", "switch_soon": False}
    assert data["monthly_cost_eur"] == "47.30"
    assert data["price_table_date"] == "2025-11-18"


def test_thresholds_come_from_the_config(make_config):
    config = make_config(BASE_TOML + "\n[sizing]\nccx33_max_calls = 100\nccx43_max_calls = 1000\n")
    result = CliRunner().invoke(cli, ["recommend", "--config", str(config),
                                      "--calls-per-month", "101", "--json"])
    data = json.loads(result.stdout)
    assert data["profile"] == "ccx43"
    assert data["thresholds"] == {"ccx33_max_calls": 100, "ccx43_max_calls": 1000}


def test_human_output_has_profile_reason_and_cost(run):
    result = run("--calls-per-month", "4500", "--on", "2025-12-01")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "Recommended profile: ccx33"
    assert lines[1] == "Why: 4,500 calls a month is within ccx33's range (0 to 5,000)"
    assert "Headroom: 500 more calls a month (10.0% of 5,000) before ccx43" in lines
    assert any(line.startswith("Warning: less than 20% headroom") for line in lines)
    assert any(ln.startswith("Estimated cost: 47.30 EUR a month (prices dated 2025-11-18")
               for ln in lines)
    # On the plan's prices ccx33 saves money and ccx43 does not, and it says so plainly.
    assert "ccx43 now costs more than Railway: 92.90 against 78.00 a month, 14.90 more." in lines
    assert not any(ln.startswith("ccx33 now costs more") for ln in lines)


def test_three_tier_cost_unknown_before_april_2026(run):
    result = run("--calls-per-month", "25000", "--on", "2026-03-31")
    assert result.exit_code == 0
    assert "Recommended profile: 3-tier" in result.stdout
    assert "Estimated cost: unknown:" in result.stdout
    assert "ccx23, lb11" in result.stdout
    data = json.loads(run("--calls-per-month", "25000", "--json", "--on", "2026-03-31").stdout)
    assert data["monthly_cost_eur"] is None
    assert "ccx23" in data["cost_error"]


def test_every_profile_priced_at_current_prices_against_railway(run):
    data = json.loads(run("--calls-per-month", "25000", "--json", "--on", "2026-11-25").stdout)
    # 3 app servers for 25,000 calls: 3 x 85.99 + 138.49 + 27.698 + 2.86 + 4 x 0.50 + 7.49
    assert data["profile"] == "3-tier" and data["monthly_cost_eur"] == "436.51"
    assert data["new_server_table_date"] == "2026-06-15"
    # New ccx33 138.49 + backups 27.698 + volume 2.86 + IPv4 0.50 = 169.548
    assert data["profiles"][0] == {
        "profile": "ccx33", "monthly_cost_eur": "169.55", "current_host_monthly_eur": "78.00",
        "difference_eur": "-91.55", "costs_more_than_current_host": True, "cost_error": None}
    assert [p["profile"] for p in data["profiles"]] == ["ccx33", "ccx43", "3-tier"]
    assert all(p["costs_more_than_current_host"] for p in data["profiles"])
    human = run("--calls-per-month", "4000", "--on", "2026-11-25").stdout.splitlines()
    assert "Headroom: 1,000 more calls a month (20.0% of 5,000) before ccx43" in human
    assert "ccx33 now costs more than Railway: 169.55 against 78.00 a month, 91.55 more." in human


def test_three_tier_cost_with_override_table(run, tmp_path):
    table = tmp_path / "prices.toml"
    table.write_text(TEST_PRICE_TABLE)
    data = json.loads(run("--calls-per-month", "25000", "--json", "--prices", str(table)).stdout)
    # 25,000 calls at 10,000 per app server: 3 app servers.
    # 3 x 20 + 40 + backups 8 + volume 2.50 + 4 x IPv4 0.50 + lb 6 = 118.50
    assert data["monthly_cost_eur"] == "118.50"
    assert data["cost_error"] is None


@pytest.mark.parametrize("value, message", [
    ("-1", "--calls-per-month: must not be negative (got -1)"),
    ("abc", "--calls-per-month: expected a whole number of calls (got 'abc')"),
    ("2.5", "--calls-per-month: expected a whole number"),
    ("", "--calls-per-month: expected a whole number"),
])
def test_bad_volume_is_one_line(run, value, message):
    result = run(f"--calls-per-month={value}", "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {message}")
    assert result.stderr.count("\n") == 1


def test_negative_volume_as_separate_argument(run):
    result = run("--calls-per-month", "-5")
    assert result.exit_code == 2
    assert result.stderr == "error: --calls-per-month: must not be negative (got -5)\n"


def test_malformed_table_is_an_error_not_a_shrug(run, tmp_path):
    table = tmp_path / "bad.toml"
    table.write_text("[[rows]\n")
    result = run("--prices", str(table))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: bad.toml: invalid TOML")
    assert result.stderr.count("\n") == 1


def test_pinned_profile_that_no_longer_fits_is_pointed_out(make_config):
    config = make_config(BASE_TOML.replace('image = "ubuntu-22.04"',
                                           'image = "ubuntu-22.04"\nprofile = "ccx33"'))
    args = ["recommend", "--config", str(config), "--calls-per-month", "9000"]
    human = CliRunner().invoke(cli, args)
    assert "Note: deploy.toml pins profile ccx33; this volume fits ccx43." in human.stdout
    data = json.loads(CliRunner().invoke(cli, [*args, "--json"]).stdout)
    assert (data["profile"], data["pinned_profile"]) == ("ccx43", "ccx33")
    fits = CliRunner().invoke(cli, ["recommend", "--config", str(config), "--calls-per-month", "10"])
    assert "pins" not in fits.stdout


def test_three_tier_headroom_is_to_the_next_app_server(run):
    data = json.loads(run("--calls-per-month", "25000", "--json").stdout)
    assert data["headroom"] is None                      # no tier above 3-tier
    assert data["app_servers"] == {"count": 3, "pinned": False, "calls_per_app_server": 10000,
                                   "headroom_calls": 5000}
    human = run("--calls-per-month", "25000").stdout.splitlines()
    assert ("App servers: 3 (10,000 calls a month each); headroom: 5,000 more calls a month "
            "before another app server is needed") in human
    assert json.loads(run("--calls-per-month", "100", "--json").stdout)["app_servers"] is None

import json

import pytest
from click.testing import CliRunner

from cli import cli
from tests.conftest import BASE_TOML, TEST_PRICE_TABLE



@pytest.fixture
def run(make_config, monkeypatch):
    # Offline tests: a token in the developer's shell would switch cost to live prices.
    monkeypatch.delenv("HCLOUD_TOKEN", raising=False)
    config = make_config()

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["cost", "--config", str(config), *args])
    return invoke


def test_plan_figures_human(run):
    result = run("--profile", "ccx33", "--on", "2025-11-18")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "prices dated 2025-11-18" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert lines["server"].split()[-1] == "37.00"
    assert lines["backups"].split()[-1] == "7.40"
    assert lines["volume"].split()[-1] == "2.90"
    assert lines["total"].split()[-1] == "47.30"
    assert "Railway today: 78.00 a month. ccx33 saves 30.70 a month (368.40 a year" in out
    assert result.stderr == ""


def test_plan_figures_json(run):
    result = run("--profile", "ccx33", "--json", "--on", "2025-11-18")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["total_monthly_eur"] == "47.30"
    assert data["difference_eur"] == "30.70"
    assert data["table_date"] == "2025-11-18"
    assert [(i["name"], i["monthly_eur"]) for i in data["items"]] == [
        ("server ccx33", "37.00"), ("backups (20% of ccx33)", "7.40"), ("volume 50 GB", "2.90")]
    assert all(isinstance(i["unit_eur"], str) for i in data["items"])


def test_stale_table_is_said_out_loud(run):
    result = run("--profile", "ccx33", "--on", "2026-11-25")
    assert result.exit_code == 0
    assert "Note: These prices are dated 2026-04-01, 238 days ago" in result.stdout


def test_profile_defaults_to_the_recommended_one(make_config, tmp_path):
    config = make_config(BASE_TOML.replace("calls_per_month = 3000", "calls_per_month = 9000"))
    result = CliRunner().invoke(cli, ["cost", "--config", str(config), "--json",
                                      "--stacks-dir", str(tmp_path / "no-stacks")])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["profile"] == "ccx43" and doc["profile_source"] == "sizing"
    human = CliRunner().invoke(cli, ["cost", "--config", str(config),
                                     "--stacks-dir", str(tmp_path / "no-stacks")])
    assert human.stdout.splitlines()[0] == "profile ccx43 (recommended for 9000 calls/month)"


def test_pinned_profile_is_the_default(make_config):
    config = make_config(BASE_TOML.replace('image = "ubuntu-22.04"',
                                           'image = "ubuntu-22.04"\nprofile = "ccx43"'))
    result = CliRunner().invoke(cli, ["cost", "--config", str(config), "--json"])
    assert json.loads(result.stdout)["profile"] == "ccx43"


def test_three_tier_with_override_table(run, tmp_path):
    table = tmp_path / "prices.toml"
    table.write_text(TEST_PRICE_TABLE)
    result = run("--profile", "3-tier", "--prices", str(table), "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert [(i["name"], i["quantity"], i["monthly_eur"]) for i in data["items"]] == [
        ("app server ccx23", 2, "40.00"),
        ("database server ccx33", 1, "40.00"),
        ("backups (20% of ccx33, database server only)", 1, "8.00"),
        ("volume 50 GB", 50, "2.50"),
        ("primary IPv4", 3, "1.50"),
        ("load balancer lb11", 1, "6.00"),
    ]
    assert data["total_monthly_eur"] == "98.00"
    assert data["table_date"] == "2026-01-01"


def test_three_tier_before_april_2026_is_one_line(run):
    result = run("--profile", "3-tier", "--on", "2026-03-31")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: prices.toml: the row dated 2025-11-18 has no price for ccx23, lb11")
    assert result.stderr.count("\n") == 1


def test_three_tier_with_shipped_table_says_which_row_prices_what(run):
    result = run("--profile", "3-tier", "--on", "2026-11-25")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "app server ccx23 (new: 2026-06-15 prices)" in lines[2]
    assert lines[2].split()[-4:] == ["2", "x", "85.99", "171.98"]
    assert any(ln.split()[:3] == ["load", "balancer", "lb11"] and ln.endswith("7.49") for ln in lines)
    assert any(ln.split()[:2] == ["primary", "IPv4"] and ln.split()[2] == "3" for ln in lines)
    assert any(ln.split()[0] == "total" and ln.split()[-1] == "350.02" for ln in lines)
    assert "3-tier costs 272.02 a month more." in result.stdout
    assert "Note: Servers ordered or rescaled from 2026-06-15 on pay" in result.stdout
    doc = json.loads(run("--profile", "3-tier", "--on", "2026-11-25", "--json").stdout)
    assert doc["new_server_table_date"] == "2026-06-15"
    assert {i["price_row"] for i in doc["items"]} == {"2026-04-01", "2026-06-15"}
    assert [i["basis"] for i in doc["items"][:2]] == ["new", "new"]


@pytest.mark.parametrize("args", [
    ["--profile", "cx11"],
    ["--profile", ""],
])
def test_unknown_profile_is_one_line_and_no_stdout(run, args):
    result = run(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: unknown profile")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_malformed_table_file_is_one_line(run, tmp_path):
    table = tmp_path / "broken.toml"
    table.write_text(TEST_PRICE_TABLE.replace("ccx33 = 40.00", "ccx33 = -3"))
    result = run("--profile", "ccx33", "--prices", str(table))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == ("error: broken.toml: rows[0].server_types: ccx33: "
                             "must be an amount >= 0 (got -3)\n")


def test_missing_table_file(run, tmp_path):
    result = run("--profile", "ccx33", "--prices", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2
    assert "price table not found" in result.stderr


@pytest.mark.parametrize("day, message", [
    ("yesterday", "--on: expected a date like 2025-11-18"),
    ("2024-01-01", "no price row on or before 2024-01-01"),
])
def test_bad_day(run, day, message):
    result = run("--profile", "ccx33", "--on", day)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_bad_config_is_one_line(make_config):
    config = make_config(BASE_TOML.replace("volume_size_gb = 50", "volume_size_gb = 5"))
    result = CliRunner().invoke(cli, ["cost", "--config", str(config), "--profile", "ccx33"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "storage.volume_size_gb" in result.stderr


def test_running_servers_keep_their_price(run):
    new = json.loads(run("--profile", "ccx33", "--on", "2026-11-25", "--json").stdout)
    kept = json.loads(run("--profile", "ccx33", "--on", "2026-11-25", "--json", "--running").stdout)
    assert (new["items"][0]["unit_eur"], new["items"][0]["basis"]) == ("138.49", "new")
    assert (kept["items"][0]["unit_eur"], kept["items"][0]["basis"]) == ("62.49", "running")
    # 62.49 + 12.498 + 2.86 + 0.50: the server of the plan, today, still under Railway.
    assert kept["total_monthly_eur"] == "78.35" and kept["difference_eur"] == "-0.35"
    human = run("--profile", "3-tier", "--on", "2026-11-25", "--running").stdout
    assert "app server ccx23 (running, keeps its price: 2026-04-01 prices)" in human

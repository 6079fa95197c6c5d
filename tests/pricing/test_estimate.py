import dataclasses
import re
import os
import datetime as dt
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from errors import ConfigError
from generator.config import DeployConfig, load_config
from pricing.table import DEFAULT_TABLE, load_price_table, parse_price_table
from pricing.estimate import cents, estimate, plain
from generator.profiles import PROFILE_NAMES, get_profile
from tests.conftest import TEST_PRICE_TABLE

ROOT = Path(__file__).resolve().parents[2]
PLAN_DAY = dt.date(2025, 11, 18)



def config_with(**changes) -> DeployConfig:
    base = DeployConfig(domain="app.example.com", ssh_public_key=Path("k.pub"),
                        source=Path("deploy.toml"))
    return dataclasses.replace(base, **changes)


def table_file(tmp_path, text, name="prices.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def amounts(est):
    return [(i.name, i.quantity, cents(i.monthly_eur)) for i in est.items]


def test_plan_figures_november_2025_ccx33():
    est = estimate("ccx33", config_with(), on=PLAN_DAY)
    assert amounts(est) == [
        ("server ccx33", 1, Decimal("37.00")),
        ("backups (20% of ccx33)", 1, Decimal("7.40")),
        ("volume 50 GB", 50, Decimal("2.90")),
    ]
    assert est.items[2].unit_eur == Decimal("0.058")
    assert est.total_monthly_eur == Decimal("47.30")
    assert est.current_host == "Railway"
    assert est.current_host_monthly_eur == Decimal("78.00")
    assert est.difference_eur == Decimal("30.70")
    assert est.annual_difference_eur == Decimal("368.40")
    assert cents(est.difference_percent) == Decimal("39.36")
    assert est.table_date == PLAN_DAY
    assert "infra-check-2025-11-18" in est.source


def test_example_config_gives_the_plan_total():
    config = load_config(ROOT / "deploy.example.toml")
    est = estimate(get_profile("ccx33"), config, load_price_table(), on=PLAN_DAY)
    assert est.total_monthly_eur == Decimal("47.30")
    assert est.difference_eur == Decimal("30.70")


def test_ccx43_line_items_from_the_plan_row():
    est = estimate("ccx43", config_with(), on=PLAN_DAY)
    assert amounts(est) == [
        ("server ccx43", 1, Decimal("75.00")),
        ("backups (20% of ccx43)", 1, Decimal("15.00")),
        ("volume 50 GB", 50, Decimal("2.90")),
    ]
    assert est.total_monthly_eur == Decimal("92.90")
    assert est.difference_eur == Decimal("-14.90")


def test_three_tier_is_refused_by_the_plan_row_naming_what_is_missing():
    with pytest.raises(ConfigError) as err:
        estimate("3-tier", config_with(), on=PLAN_DAY)
    assert "ccx23, lb11" in str(err.value)
    assert "--prices" in str(err.value)


def test_three_tier_line_items_from_an_override_table(tmp_path):
    table = load_price_table(table_file(tmp_path, TEST_PRICE_TABLE))
    est = estimate("3-tier", config_with(), table, on=dt.date(2026, 2, 1))
    assert amounts(est) == [
        ("app server ccx23", 2, Decimal("40.00")),
        ("database server ccx33", 1, Decimal("40.00")),
        ("backups (20% of ccx33, database server only)", 1, Decimal("8.00")),
        ("volume 50 GB", 50, Decimal("2.50")),
        ("primary IPv4", 3, Decimal("1.50")),
        ("load balancer lb11", 1, Decimal("6.00")),
    ]
    assert est.total_monthly_eur == Decimal("98.00")
    assert est.difference_eur == Decimal("-20.00")
    assert est.table_date == dt.date(2026, 1, 1)
    assert est.source == "test figures"


def test_override_table_charges_primary_ipv4_on_a_single_server(tmp_path):
    table = load_price_table(table_file(tmp_path, TEST_PRICE_TABLE))
    est = estimate("ccx33", config_with(volume_size_gb=100), table, on=dt.date(2026, 1, 1))
    assert amounts(est) == [
        ("server ccx33", 1, Decimal("40.00")),
        ("backups (20% of ccx33)", 1, Decimal("8.00")),
        ("volume 100 GB", 100, Decimal("5.00")),
        ("primary IPv4", 1, Decimal("0.50")),
    ]
    assert est.total_monthly_eur == Decimal("53.50")


def test_no_backup_item_when_backups_are_off():
    est = estimate("ccx33", config_with(backups=False), on=PLAN_DAY)
    assert [i.name for i in est.items] == ["server ccx33", "volume 50 GB"]
    assert est.total_monthly_eur == Decimal("39.90")


def test_current_host_figures_come_from_the_config():
    est = estimate("ccx33", config_with(current_host="Heroku",
                                        current_host_monthly_eur=Decimal("40")), on=PLAN_DAY)
    assert est.current_host == "Heroku"
    assert est.difference_eur == Decimal("-7.30")


def test_zero_current_cost_has_no_percentage():
    est = estimate("ccx33", config_with(current_host_monthly_eur=Decimal("0")), on=PLAN_DAY)
    assert est.difference_percent is None
    assert est.as_json()["difference_percent"] is None


def test_row_in_force_on_a_day(tmp_path):
    newer = TEST_PRICE_TABLE.replace("2026-01-01", "2026-06-01").replace("ccx33 = 40.00", "ccx33 = 45.00")
    table = load_price_table(table_file(tmp_path, TEST_PRICE_TABLE + newer))
    assert [r.date for r in table.rows] == [dt.date(2026, 1, 1), dt.date(2026, 6, 1)]
    cfg = config_with(backups=False, volume_size_gb=10)
    assert estimate("ccx33", cfg, table, on=dt.date(2026, 5, 31)).items[0].monthly_eur == 40
    assert estimate("ccx33", cfg, table, on=dt.date(2026, 6, 1)).items[0].monthly_eur == 45
    with pytest.raises(ConfigError, match="no price row on or before 2025-12-31"):
        estimate("ccx33", cfg, table, on=dt.date(2025, 12, 31))


def test_stale_prices_are_flagged():
    fresh = estimate("ccx33", config_with(), on=PLAN_DAY)
    stale = estimate("ccx33", config_with(), on=dt.date(2026, 3, 31))
    assert not any("days ago" in n for n in fresh.notes)
    assert not any("days ago" in n for n in stale.notes)   # 133 days: within the limit
    later = estimate("ccx33", config_with(), on=dt.date(2026, 11, 25))
    assert any(n.startswith("These prices are dated 2026-04-01, 238 days ago") for n in later.notes)
    assert stale.total_monthly_eur == fresh.total_monthly_eur


def test_location_mismatch_is_noted():
    est = estimate("ccx33", config_with(location="hel1"), on=PLAN_DAY)
    assert any("prices nbg1" in n and "hel1" in n for n in est.notes)


def test_json_money_is_strings():
    data = estimate("ccx33", config_with(), on=PLAN_DAY).as_json()
    assert data["total_monthly_eur"] == "47.30"
    assert data["difference_eur"] == "30.70"
    assert data["table_date"] == "2025-11-18"
    assert data["items"][1] == {"name": "backups (20% of ccx33)", "quantity": 1,
                                "unit_eur": "7.40", "monthly_eur": "7.40", "basis": None,
                                "price_row": "2025-11-18"}
    assert data["new_server_table_date"] is None
    assert data["items"][2]["unit_eur"] == "0.058"


@pytest.mark.parametrize("value, expected", [
    ("2.345", "2.35"), ("2.344", "2.34"), ("0.005", "0.01"), ("2.9000", "2.90"), ("-14.905", "-14.91"),
])
def test_cents_round_half_up(value, expected):
    assert str(cents(Decimal(value))) == expected


def test_shipped_table_has_the_2026_rows_from_the_reference_readme():
    table = load_price_table()
    assert table.path == DEFAULT_TABLE
    # Before April 2026 the plan's row still answers, and it cannot price 3-tier.
    assert table.row_on(dt.date(2026, 3, 31)).date == PLAN_DAY
    april = table.row_on(dt.date(2026, 11, 25))
    assert april.date == dt.date(2026, 4, 1) and april.applies_to == "all"
    assert april.server_types == {"ccx13": Decimal("15.99"), "ccx23": Decimal("31.49"),
                                  "ccx33": Decimal("62.49"), "ccx43": Decimal("124.99")}
    assert april.load_balancer_types == {"lb11": Decimal("7.49")}
    assert april.volume_per_gb_month == Decimal("0.0572")
    june = table.rows[-1]
    assert june.date == dt.date(2026, 6, 15) and june.applies_to == "new-and-rescaled"
    assert june.server_types["ccx13"] == Decimal("42.99")
    assert june.server_types["ccx33"] == Decimal("138.49")
    assert not june.load_balancer_types and june.volume_per_gb_month is None
    assert all(r.source.strip() for r in table.rows)
    every = {t for name in PROFILE_NAMES for t in get_profile(name).server_types}
    assert every <= set(april.server_types) and every <= set(june.server_types)


def _shared_reference_readme() -> str:
    return (ROOT.parent / "shared" / "README.md").read_text(encoding="utf-8")


def test_shipped_figures_agree_with_the_reference_readme():
    """The independent oracle: every 2026 figure appears in ../shared/README.md."""
    text = _shared_reference_readme()
    table = load_price_table()
    april, june = table.rows[1:]
    april_text = text[text.index("From 1 April 2026"):text.index("From 15 June 2026")]
    june_text = text[text.index("From 15 June 2026"):text.index("Availability as of")]
    for row, section in ((april, april_text), (june, june_text)):
        for name, price in {**row.server_types, **row.load_balancer_types}.items():
            # "CCX23 €31.49", "CCX13 €15.99 → €42.99", "CCX33 about €138.49"
            pattern = rf"{name.upper()} (?:about |€[\d.]+ → )?€{re.escape(plain(price))}\b"
            assert re.search(pattern, section), (row.date, name, price)
    assert f"volume €{plain(april.volume_per_gb_month)} per GB" in april_text


def test_three_tier_today_pays_new_order_prices_for_every_server():
    est = estimate("3-tier", config_with(), on=dt.date(2026, 11, 25))
    assert amounts(est) == [
        ("app server ccx23 (new: 2026-06-15 prices)", 2, Decimal("171.98")),
        ("database server ccx33 (new: 2026-06-15 prices)", 1, Decimal("138.49")),
        ("backups (20% of ccx33, database server only; new: 2026-06-15 prices)", 1,
         Decimal("27.70")),
        ("volume 50 GB", 50, Decimal("2.86")),
        ("primary IPv4", 3, Decimal("1.50")),
        ("load balancer lb11", 1, Decimal("7.49")),
    ]
    assert cents(est.total_monthly_eur) == Decimal("350.02")
    assert est.new_server_row_date == dt.date(2026, 6, 15)
    assert est.notes[0].startswith("Servers ordered or rescaled from 2026-06-15 on pay")
    assert "costs" not in est.notes[0] and est.difference_eur < 0


def test_running_servers_keep_their_price_and_rescaled_ones_pay_the_new_one():
    day = dt.date(2026, 11, 25)
    running = {"autoscale-ai-production-app-1": "ccx23", "autoscale-ai-production-app-2": "ccx13",
               "autoscale-ai-production-db": "ccx33"}
    est = estimate("3-tier", config_with(backups=False), on=day, existing=running)
    assert amounts(est)[:3] == [
        ("app server ccx23 (running, keeps its price: 2026-04-01 prices)", 1, Decimal("31.49")),
        ("app server ccx23 (rescaled: 2026-06-15 prices)", 1, Decimal("85.99")),
        ("database server ccx33 (running, keeps its price: 2026-04-01 prices)", 1,
         Decimal("62.49")),
    ]
    assert [i.basis for i in est.items[:3]] == ["running", "rescaled", "running"]
    # Before 15 June both rules give the April price, so no basis is named.
    before = estimate("3-tier", config_with(backups=False), on=dt.date(2026, 6, 14))
    assert before.items[0].name == "app server ccx23" and before.items[0].quantity == 2
    assert before.new_server_row_date is None


def test_on_the_plan_day_new_and_running_cost_the_same():
    running = {"autoscale-ai-production": "ccx33"}
    assert (estimate("ccx33", config_with(), on=PLAN_DAY, existing=running).total_monthly_eur
            == estimate("ccx33", config_with(), on=PLAN_DAY).total_monthly_eur
            == Decimal("47.30"))


NEW_ROW = """
[[rows]]
date = 2026-06-15
applies_to = "new-and-rescaled"
currency = "EUR"
source = "test"
[rows.server_types]
ccx33 = 90.00
"""

BAD_TABLES = [
    (TEST_PRICE_TABLE + NEW_ROW.replace('source = "test"', 'source = "test"\nvolume_per_gb_month = 1'),
     "rows[1]: a new-and-rescaled row prices servers only (remove volume_per_gb_month)"),
    (TEST_PRICE_TABLE + NEW_ROW.replace("new-and-rescaled", "some"), "rows[1].applies_to: must be one of"),
    (TEST_PRICE_TABLE.replace("backup_percent = 20\n", ""), "rows[0]: missing required key backup_percent"),
    ("[[rows]\n", "invalid TOML"),
    ("title = 'x'\n", "unknown key title"),
    ("", "no [[rows]]"),
    ("rows = 3\n", "no [[rows]]"),
    (TEST_PRICE_TABLE.replace('currency = "EUR"\n', ""), "rows[0]: missing required key currency"),
    (TEST_PRICE_TABLE.replace('ccx33 = 40.00', 'ccx33 = -1'), "rows[0].server_types: ccx33: must be an amount >= 0"),
    (TEST_PRICE_TABLE.replace('ccx33 = 40.00', 'ccx33 = "40"'), "rows[0].server_types: ccx33: must be an amount"),
    (TEST_PRICE_TABLE.replace('ccx33 = 40.00', 'ccx33 = true'), "ccx33: must be an amount"),
    (TEST_PRICE_TABLE.replace('currency = "EUR"', 'currency = "USD"'), "only EUR is supported"),
    (TEST_PRICE_TABLE.replace('backup_percent = 20', 'backup_percent = 120'), "between 0 and 100"),
    (TEST_PRICE_TABLE.replace('date = 2026-01-01', 'date = "2026-01-01"'), "must be a TOML date"),
    (TEST_PRICE_TABLE.replace('date = 2026-01-01', 'date = 2026-01-01T10:00:00'), "must be a TOML date"),
    (TEST_PRICE_TABLE.replace('source = "test figures"', 'source = "test figures"\nprice = 3'),
     "rows[0]: unknown key price"),
    (TEST_PRICE_TABLE.replace('source = "test figures"', 'source = ""'), "rows[0].source: must be a non-empty"),
    (TEST_PRICE_TABLE.replace('source = "test figures"', 'source = "x"\nnotes = "one"'), "notes: must be a list"),
    (TEST_PRICE_TABLE + TEST_PRICE_TABLE, "two rows dated 2026-01-01"),
]


@pytest.mark.parametrize("text, message", BAD_TABLES)
def test_malformed_table_is_one_config_error_line(tmp_path, text, message):
    path = table_file(tmp_path, text, name="mine.toml")
    with pytest.raises(ConfigError) as err:
        load_price_table(path)
    line = str(err.value)
    assert message in line
    assert line.startswith("mine.toml: ")
    assert "\n" not in line


def test_missing_table_file(tmp_path):
    with pytest.raises(ConfigError, match="price table not found"):
        load_price_table(tmp_path / "nope.toml")


def test_table_parses_money_exactly():
    row = parse_price_table(TEST_PRICE_TABLE, Path("t.toml")).rows[0]
    assert row.volume_per_gb_month == Decimal("0.05")
    assert isinstance(row.server_types["ccx23"], Decimal)


def _fifo(path):
    os.mkfifo(path)
    return path


def _sparse(path):
    with path.open("wb") as f:      # 2 MiB on paper, nothing on disk
        f.truncate(2 * 1024 * 1024)
    return path


def _loop(path):
    path.symlink_to(path)
    return path


@pytest.mark.parametrize("make, message", [
    (lambda p: (p.mkdir(), p)[1], "is a directory, not a price table file"),
    (_fifo, "is a FIFO, not a regular file"),
    (_sparse, "is larger than 1 MiB"),
    (_loop, "is a symlink loop"),
    (lambda p: (p.write_bytes(b"[[rows]]\nsource = '\xff'\n"), p)[1], "mine.toml: not UTF-8 text (byte 19)"),
    (lambda p: (p.write_text("rows = " + "[" * 100_000), p)[1], "mine.toml: invalid TOML"),
    (lambda p: (p.write_text("[[rows]]\n" + '"a\\nb" = 1\n'), p)[1], "rows[0]: unknown key 'a\\nb'"),
])
def test_table_file_faults_are_one_line_and_never_hang(tmp_path, make, message):
    path = make(tmp_path / "mine.toml")
    with pytest.raises(ConfigError) as err:
        load_price_table(path)
    line = str(err.value)
    assert message in line
    assert len(line.splitlines()) == 1

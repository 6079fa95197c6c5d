"""cost/recommend --chart: the SVG parses, is the same bytes for the same
inputs, and its recommended-cost line crosses the current host's line where
the cost table (pricing.estimate + generator.sizing) says it does."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from click.testing import CliRunner
from defusedxml import ElementTree

from cli import cli
from commands.common import load
from generator.sizing import recommend
from ops.chart import chart_data, figure, write
import pytest

from pricing.estimate import estimate


def _gids(svg_path):
    root = ElementTree.parse(svg_path).getroot()
    return {el.get("id") for el in root.iter() if el.get("id")}


def _crossing_from_table(config, on):
    """The oracle: walk calls upward, one tier at a time, with pricing's own estimate."""
    host = estimate("ccx33", config, None, on).current_host_monthly_eur
    for calls in range(0, config.thresholds.ccx43_max_calls + 2):
        profile = recommend(calls, config.thresholds).profile
        if profile == "3-tier":
            return None
        if estimate(profile, config, None, on).total_monthly_eur > host:
            return calls, host


# 2025 prices: ccx33 is cheaper than the current host and ccx43 is not (a crossing at the
# threshold); today's new-order prices (June 2026): even ccx33 costs more (crossing at 0).
@pytest.mark.parametrize("on,expected", [(dt.date(2025, 12, 1), 5001), (None, 0)],
                         ids=["2025-prices", "today"])
def test_plotted_lines_cross_where_the_cost_table_says(tmp_path, on, expected):
    config = load(None)
    data = chart_data(config, on=on)
    calls, host = _crossing_from_table(config, on)
    assert data.crossing == calls == expected
    lines = {line.get_gid(): line for line in figure(data).axes[0].get_lines()}
    xs, ys = lines["recommended"].get_data()
    host_y = lines["current-host"].get_ydata()[0]
    assert Decimal(str(host_y)) == host
    # the plotted step line: last x at or below the host cost, first x above it
    above = [x for x, y in zip(xs, ys) if y > host_y]
    below = [x for x, y in zip(xs, ys) if y <= host_y]
    assert min(above) == calls
    assert (max(below) == calls - 1) if calls else not below
    assert lines["today"].get_xdata()[0] == config.calls_per_month
    assert {lines["threshold-0"].get_xdata()[0], lines["threshold-1"].get_xdata()[0]} == \
        {config.thresholds.ccx33_max_calls, config.thresholds.ccx43_max_calls}


def test_svg_parses_names_its_lines_and_is_deterministic(tmp_path):
    data = chart_data(load(None))
    svg, png = write(data, tmp_path / "a.svg")
    first = svg.read_bytes()
    write(data, tmp_path / "a.svg")
    assert svg.read_bytes() == first
    assert png.read_bytes().startswith(b"\x89PNG")
    assert {"recommended", "current-host", "today", "threshold-0", "crossing"} <= _gids(svg)
    assert b"<dc:date>" not in first


def test_cost_and_recommend_write_the_chart(tmp_path):
    for argv in (["cost", "--chart", str(tmp_path / "cost.svg")],
                 ["recommend", "--calls-per-month", "12000", "--chart", str(tmp_path / "rec.svg")]):
        result = CliRunner().invoke(cli, argv)
        assert result.exit_code == 0, result.output
    assert "profile-ccx33" in _gids(tmp_path / "cost.svg")
    assert (tmp_path / "rec.png").is_file()

from decimal import Decimal

import pytest

from errors import ConfigError
from generator.config import Thresholds
from generator.sizing import recommend

HUGE = 10**12


@pytest.mark.parametrize("calls, profile", [
    (0, "ccx33"),
    (1, "ccx33"),
    (5000, "ccx33"),
    (5001, "ccx43"),
    (12345, "ccx43"),
    (20000, "ccx43"),
    (20001, "3-tier"),
    (HUGE, "3-tier"),
])
def test_default_thresholds(calls, profile):
    rec = recommend(calls)
    assert rec.profile == profile
    assert rec.calls_per_month == calls
    assert rec.thresholds == Thresholds(5000, 20000)


@pytest.mark.parametrize("calls, profile", [
    (0, "ccx33"),
    (100, "ccx33"),
    (101, "ccx43"),
    (1000, "ccx43"),
    (1001, "3-tier"),
])
def test_custom_thresholds(calls, profile):
    assert recommend(calls, Thresholds(100, 1000)).profile == profile


def test_zero_lower_threshold_sends_any_traffic_to_ccx43():
    t = Thresholds(0, 10)
    assert recommend(0, t).profile == "ccx33"
    assert recommend(1, t).profile == "ccx43"
    assert recommend(0, t).headroom.percent == 0


def test_reason_names_the_volume_and_range():
    assert recommend(3000).reason == "3,000 calls a month is within ccx33's range (0 to 5,000)"
    assert "5,001 to 20,000" in recommend(6000).reason
    assert "above 20,000" in recommend(25000).reason


@pytest.mark.parametrize("calls, next_profile, limit, left, percent, soon", [
    (3000, "ccx43", 5000, 2000, Decimal("40.0"), False),
    (4000, "ccx43", 5000, 1000, Decimal("20.0"), False),
    (4001, "ccx43", 5000, 999, Decimal("20.0"), True),   # 19.98 shows as 20.0 but is under 20
    (4500, "ccx43", 5000, 500, Decimal("10.0"), True),
    (5000, "ccx43", 5000, 0, Decimal("0.0"), True),
    (5001, "3-tier", 20000, 14999, Decimal("75.0"), False),
    (20000, "3-tier", 20000, 0, Decimal("0.0"), True),
])
def test_headroom(calls, next_profile, limit, left, percent, soon):
    h = recommend(calls).headroom
    assert (h.next_profile, h.limit, h.calls, h.percent) == (next_profile, limit, left, percent)
    assert h.switch_soon is soon


def test_no_headroom_above_the_largest_profile():
    assert recommend(20001).headroom is None


@pytest.mark.parametrize("bad", [-1, -5000, 2.5, "100", True, None])
def test_bad_volume_is_a_config_error(bad):
    with pytest.raises(ConfigError):
        recommend(bad)


@pytest.mark.parametrize("thresholds", [Thresholds(5000, 5000), Thresholds(9, 3), Thresholds(-1, 3)])
def test_inconsistent_thresholds_are_refused(thresholds):
    with pytest.raises(ConfigError, match="sizing"):
        recommend(10, thresholds)

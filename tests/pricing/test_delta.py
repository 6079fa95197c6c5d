from decimal import Decimal
from pathlib import Path

import pytest

from errors import RefusedError
from generator.config import load_config
from pricing.delta import cost_delta
from pipeline.review import decide
from runner.plan import summarize


def _change(rtype, actions, before=None, after=None, replace_paths=()):
    return {"address": f"{rtype}.main", "type": rtype, "mode": "managed",
            "change": {"actions": actions, "before": before, "after": after,
                       "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {},
                       "replace_paths": [list(p) for p in replace_paths]}}


UPDATE = summarize({"resource_changes": [_change("hcloud_server", ["update"],
                                                 {"server_type": "ccx33"},
                                                 {"server_type": "ccx43"})]})
REPLACE = summarize({"resource_changes": [_change("hcloud_server", ["delete", "create"],
                                                  {"image": "a"}, {"image": "b"}, [["image"]])]})
NOTHING = summarize({"resource_changes": []})


@pytest.mark.parametrize("summary, kind, auto, tty, allow, expected", [
    (NOTHING, "hetzner", False, False, False, "nothing"),
    (UPDATE, "sandbox", False, False, False, "apply"),     # CI: sandbox applies safe plans
    (UPDATE, "sandbox", False, True, False, "ask"),
    (UPDATE, "hetzner", True, False, False, "apply"),
    (UPDATE, "hetzner", False, True, False, "ask"),
    (REPLACE, "sandbox", False, False, True, "apply"),
    (REPLACE, "hetzner", True, False, True, "apply"),
])
def test_decision_table(summary, kind, auto, tty, allow, expected):
    assert decide(summary, target_kind=kind, auto_approve=auto, interactive=tty,
                  allow_replace=allow).action == expected


@pytest.mark.parametrize("kind, auto", [("sandbox", False), ("sandbox", True), ("hetzner", True)])
def test_replace_is_refused_whatever_the_approval(kind, auto):
    with pytest.raises(RefusedError) as err:
        decide(REPLACE, target_kind=kind, auto_approve=auto, interactive=False,
               allow_replace=False)
    assert "hcloud_server.main would be replaced because image changed" in str(err.value)


def test_real_target_without_terminal_needs_auto_approve():
    with pytest.raises(RefusedError, match="--auto-approve"):
        decide(UPDATE, target_kind="hetzner", auto_approve=False, interactive=False,
               allow_replace=False)


def _labels(profile, name="autoscale-ai-production"):
    return {"name": name, "server_type": profile, "labels": {"profile": profile}}


# make_config's project/environment give the server name autoscale-ai-production.
def test_cost_delta_from_profile_labels(make_config):
    config = load_config(make_config())
    doc = {"resource_changes": [_change("hcloud_server", ["update"], _labels("ccx33"),
                                        _labels("ccx43"))]}
    delta = cost_delta(doc, config)
    # Shipped table, today (after 2026-06-15), 50 GB volume, backups on, 1 primary IPv4:
    # before: ccx33 running keeps the 2026-04-01 price 62.49 + backups 12.498
    #         + volume 50 x 0.0572 = 2.86 + IPv4 0.50                       -> 78.348
    # after: the rescale pays the 2026-06-15 price: ccx43 275.99 + 55.198 + 2.86 + 0.50
    assert (delta.before_eur, delta.after_eur) == (Decimal("78.348"), Decimal("334.548"))
    assert delta.note == "ccx33 -> ccx43"
    created = cost_delta({"resource_changes": [_change("hcloud_server", ["create"], None,
                                                       _labels("ccx33"))]}, config)
    # A new ccx33 pays 138.49 + 27.698 + 2.86 + 0.50
    assert created.before_eur == Decimal(0) and created.after_eur == Decimal("169.548")
    unchanged_type = cost_delta({"resource_changes": [_change(
        "hcloud_server", ["update"], _labels("ccx33"), _labels("ccx33"))]}, config)
    assert unchanged_type.before_eur == unchanged_type.after_eur == Decimal("78.348")
    gone = cost_delta({"resource_changes": [_change("hcloud_server", ["delete"],
                                                    _labels("ccx33"), None)]}, config, destroy=True)
    assert gone.delta_eur == Decimal("-78.348")
    assert cost_delta({"resource_changes": []}, config) is None


def _server(name, server_type, role, actions, exists=True, stays=True):
    values = {"name": f"autoscale-ai-production-{name}", "server_type": server_type,
              "labels": {"profile": "3-tier", "role": role}}
    change = _change("hcloud_server", actions, values if exists else None,
                     dict(values) if stays else None)
    change["address"] = f'hcloud_server.{role}["{name}"]'
    return change


def test_three_tier_scale_out_prices_only_the_new_servers(make_config):
    config = load_config(make_config())
    running = [_server("app-1", "ccx23", "app", ["no-op"]), _server("app-2", "ccx23", "app", ["no-op"]),
               _server("db", "ccx33", "db", ["no-op"])]
    new = [_server(f"app-{i}", "ccx23", "app", ["create"], exists=False) for i in (3, 4)]
    delta = cost_delta({"resource_changes": running + new}, config)
    # Two more ccx23 at the new-order price 85.99, each with a primary IPv4 0.50;
    # the running ones keep 31.49 on both sides.
    assert delta.delta_eur == Decimal("172.98")
    # Scaling back in: the same two leave, and the delta is the same amount back.
    gone = [_server(f"app-{i}", "ccx23", "app", ["delete"], stays=False) for i in (3, 4)]
    back = cost_delta({"resource_changes": running + gone}, config)
    # They were running, so they are priced at the kept (2026-04-01) price: 2 x (31.49 + 0.50).
    assert back.delta_eur == Decimal("-63.98")


def test_the_plan_delta_reads_the_configured_price_table(make_config, tmp_path):
    """[pricing] table prices the plan's cost line, as it prices `cost` and `switch`."""
    from tests.conftest import BASE_TOML
    shipped = (Path(__file__).resolve().parents[2] / "pricing" / "prices.toml").read_text()
    assert "ccx43 = 275.99" in shipped
    own = tmp_path / "own-prices.toml"
    own.write_text(shipped.replace("ccx43 = 275.99", "ccx43 = 300.00"))
    doc = {"resource_changes": [_change("hcloud_server", ["update"], _labels("ccx33"),
                                        _labels("ccx43"))]}
    shipped_delta = cost_delta(doc, load_config(make_config()))
    config = load_config(make_config(BASE_TOML + f'\n[pricing]\ntable = "{own}"\n'))
    own_delta = cost_delta(doc, config)
    assert own_delta.before_eur == shipped_delta.before_eur
    # 24.01 more for the server, and its backups (20 %) follow: 4.802.
    assert own_delta.after_eur - shipped_delta.after_eur == Decimal("28.812")


def test_the_one_server_renamed_into_the_db_server_keeps_its_price(make_config):
    """ccx33 -> 3-tier: the server is moved and renamed (-db) in place, not new: it keeps
    the price it runs at; the app servers are new and pay today's."""
    from pricing.estimate import estimate
    config = load_config(make_config())
    before = {"name": "autoscale-ai-production", "server_type": "ccx33",
              "labels": {"profile": "ccx33"}}
    after = {"name": "autoscale-ai-production-db", "server_type": "ccx33",
             "labels": {"profile": "3-tier", "role": "db"}}
    apps = [_server(f"app-{i}", "ccx23", "app", ["create"], exists=False) for i in (1, 2)]
    delta = cost_delta({"resource_changes": [_change("hcloud_server", ["update"], before, after),
                                             *apps]}, config)
    kept = estimate("3-tier", config, existing={"autoscale-ai-production-db": "ccx33"},
                    app_servers=2).total_monthly_eur
    as_new = estimate("3-tier", config, existing={}, app_servers=2).total_monthly_eur
    assert delta.after_eur == kept and kept < as_new
    assert delta.before_eur == estimate("ccx33", config, existing={
        "autoscale-ai-production": "ccx33"}).total_monthly_eur

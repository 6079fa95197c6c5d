from decimal import Decimal

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


def _labels(profile):
    return {"server_type": profile, "labels": {"profile": profile}}


def test_cost_delta_from_profile_labels(make_config):
    config = load_config(make_config())
    doc = {"resource_changes": [_change("hcloud_server", ["update"], _labels("ccx33"),
                                        _labels("ccx43"))]}
    delta = cost_delta(doc, config)
    # From the shipped table's 2025-11-18 row, 50 GB volume and backups on:
    # ccx33 37.00 + backups 20% 7.40 + volume 50 x 0.058 = 2.90  -> 47.30
    # ccx43 75.00 + backups 20% 15.00 + volume 2.90              -> 92.90
    assert (delta.before_eur, delta.after_eur) == (Decimal("47.30"), Decimal("92.90"))
    assert delta.delta_eur == Decimal("45.60") and delta.note == "ccx33 -> ccx43"
    created = cost_delta({"resource_changes": [_change("hcloud_server", ["create"], None,
                                                       _labels("ccx33"))]}, config)
    assert created.before_eur == Decimal(0) and created.after_eur == Decimal("47.30")
    gone = cost_delta({"resource_changes": [_change("hcloud_server", ["delete"],
                                                    _labels("ccx33"), None)]}, config, destroy=True)
    assert gone.delta_eur == Decimal("-47.30")
    assert cost_delta({"resource_changes": []}, config) is None

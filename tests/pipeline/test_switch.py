"""pipeline/switch.py without a cloud: what is refused, the stack diff, the preview's
cost lines and price rows, and the stack put back when a switch is refused."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from errors import ApiError, RefusedError
from generator.config import load_config
from generator.render import generate
from pipeline import switch
from tests.conftest import TEST_PRICE_TABLE


@pytest.mark.parametrize("target", ["ccx33", "ccx43"])
def test_3_tier_to_one_server_is_a_switch_that_keeps_the_db_server(target):
    switch.refuse_unsupported("3-tier", target)
    path = switch._data_path("3-tier", target, "x", "x-data", "ccx33")
    assert "the volume x-data stays on the db server x-db, which becomes the single server x" \
        in path
    # ccx33 is the db server's type: no rescale; ccx43 is one, with its stop said.
    assert ("rescaled in place from ccx33 to ccx43" in path) == (target == "ccx43")
    assert ("kept as ccx33, not rescaled" in path) == (target == "ccx33")


def test_a_switch_to_an_unknown_profile_is_refused_in_one_line():
    with pytest.raises(RefusedError, match=r"switching 3-tier -> cx22 is not built") as refused:
        switch.refuse_unsupported("3-tier", "cx22")
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("current", ["ccx33", "ccx43"])
def test_one_server_to_3_tier_is_a_switch(current):
    switch.refuse_unsupported(current, "3-tier")
    assert "becomes the db server" in switch._data_path(current, "3-tier", "x", "x-data")


@pytest.mark.parametrize("current,target", [("ccx33", "ccx43"), ("ccx43", "ccx33")])
def test_ccx33_and_ccx43_switch_both_ways(current, target):
    switch.refuse_unsupported(current, target)


def _stack(tmp_path, make_config, profile="ccx33"):
    config = load_config(make_config())
    stacks = tmp_path / "stacks"
    generate(config, profile, stacks_dir=stacks)
    return config, stacks / config.environment


def _files(stack: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in stack.iterdir() if p.is_file()}


def test_the_stack_diff_shows_what_changes_and_folds_header_only_files(tmp_path, make_config):
    config, stack = _stack(tmp_path, make_config)
    before = _files(stack)
    diffs = {d.name: d for d in switch.stack_diff(config, "ccx43", stack)}
    assert _files(stack) == before                       # nothing written
    tfvars = diffs["terraform.tfvars"]
    assert tfvars.status == "update" and not tfvars.note
    changed = [line for line in tfvars.lines if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert any(line.startswith("-server_type") and '"ccx33"' in line for line in changed)
    assert any(line.startswith("+server_type") and '"ccx43"' in line for line in changed)
    assert diffs["main.tf"].note == "only the generate command in its header differs"
    assert diffs["main.tf"].lines == ()
    assert diffs["manifest.json"].status == "update"
    assert switch.stack_diff(config, "ccx33", stack) == ()   # the same profile: no diff


def test_a_refused_switch_puts_the_stack_back(tmp_path, make_config):
    config, stack = _stack(tmp_path, make_config)
    before = _files(stack)
    (stack / "terraform.tfstate").write_text("{}")     # the real target's state sits here
    with pytest.raises(RefusedError):
        with switch.stack_restored_on_refusal(stack):
            generate(config, "ccx43", stacks_dir=stack.parent)
            (stack / "terraform.tfstate").write_text('{"serial": 2}')
            assert _files(stack)["terraform.tfvars"] != before["terraform.tfvars"]
            raise RefusedError("not applied: the plan was not confirmed")
    after = _files(stack)
    assert after.pop("terraform.tfstate") == b'{"serial": 2}'   # never ours to put back
    assert after == before


@pytest.mark.parametrize("applied,error", [(True, RefusedError), (False, ApiError)])
def test_the_new_stack_stays_once_applied_or_on_other_failures(tmp_path, make_config, applied, error):
    config, stack = _stack(tmp_path, make_config)
    with pytest.raises(error):
        with switch.stack_restored_on_refusal(stack, applied=lambda: applied):
            generate(config, "ccx43", stacks_dir=stack.parent)
            raise error("stopped")
    assert '"ccx43"' in (stack / "terraform.tfvars").read_text()


# The shared test table, plus a June row for new orders and rescales.
TABLE = TEST_PRICE_TABLE + """
[[rows]]
date = 2026-06-15
applies_to = "new-and-rescaled"
currency = "EUR"
source = "test figures, new orders and rescales"
[rows.server_types]
ccx33 = 100.00
ccx43 = 200.00
"""


def test_the_preview_prices_the_running_server_at_its_row_and_the_rescaled_one_at_the_new(tmp_path, make_config):
    from generator.sizing import recommend
    from pricing.estimate import estimate
    from pricing.table import load_price_table
    (tmp_path / "prices.toml").write_text(TABLE)
    config = load_config(make_config())
    table = load_price_table(tmp_path / "prices.toml")
    running = {"autoscale-ai-production": "ccx33"}
    day = dt.date(2026, 11, 28)
    preview = switch.SwitchPreview(
        "ccx33", "ccx43", recommend(3000, config.thresholds), (),
        estimate("ccx33", config, table, day, existing=running),
        estimate("ccx43", config, table, day, existing=running), "",
        "the volume stays attached")
    text = "\n".join(preview.lines())
    # 40 + 8 backups + 2.50 volume + 0.50 IPv4 = 51.00; 200 + 40 + 2.50 + 0.50 = 243.00
    assert "cost: 51.00 -> 243.00 EUR a month (+192.00)" in text
    assert "now: 1 x server ccx33 (running, keeps its price: 2026-01-01 prices) at 40.00" in text
    assert "after: 1 x server ccx43 (rescaled: 2026-06-15 prices) at 200.00" in text
    assert "a rescaled server pays the 2026-06-15 row" in text
    assert "recommendation: ccx33" in text and "ccx43 is not the recommended profile" in text
    assert text.index("recommendation") < text.index("stack diff") < text.index("cost:") \
        < text.index("data path: the volume stays attached")


@pytest.mark.parametrize("target,price", [("ccx33", 40.00), ("ccx43", 200.00)])
def test_the_way_down_prices_the_db_server_as_running_unless_rescaled(tmp_path, make_config,
                                                                      target, price):
    from pricing.estimate import estimate
    from pricing.table import load_price_table
    (tmp_path / "prices.toml").write_text(TABLE)
    config = load_config(make_config())
    table = load_price_table(tmp_path / "prices.toml")
    name = "autoscale-ai-production"
    running = {f"{name}-db": "ccx33", f"{name}-app-1": "cpx21", f"{name}-app-2": "cpx21"}
    after = switch.running_after("3-tier", target, name, running)
    assert after == {name: "ccx33"}           # the app servers go, the db server stays
    est = estimate(target, config, table, dt.date(2026, 11, 28), existing=after)
    (server,) = [item for item in est.items if item.basis and item.name.startswith("server")]
    assert server.unit_eur == price
    # ccx33 keeps the running server's (January) row; ccx43 is a rescale: the June row.
    assert ("keeps its price" in server.name) == (target == "ccx33")
    assert switch.running_after("ccx33", "3-tier", name, {name: "ccx33"}) == {f"{name}-db": "ccx33"}


def test_a_preview_without_prices_says_why():
    from generator.sizing import recommend
    preview = switch.SwitchPreview("ccx43", "ccx33", recommend(3000), (), None, None,
                                   "the table has no price for ccx43", "x")
    assert "cost: unknown (the table has no price for ccx43)" in preview.lines()


@pytest.mark.parametrize("profile", ["ccx33", "ccx43"])
def test_the_rendered_server_keeps_its_disk_as_the_real_provider_schema_allows(tmp_path, make_config, profile):
    """keep_disk is the real hcloud provider's attribute (../shared schema) and the
    single server sets it, so change_type runs with upgrade_disk = false both ways."""
    import json

    import hcl2
    from tests.conftest import SHARED
    schema = json.loads((SHARED / "hcloud_provider_schema.json").read_text())
    (provider,) = schema["provider_schemas"].values()
    assert provider["resource_schemas"]["hcloud_server"]["block"]["attributes"]["keep_disk"] == \
        {"type": "bool", "optional": True}
    _, stack = _stack(tmp_path, make_config, profile)
    parsed = hcl2.loads((stack / "main.tf").read_text())
    servers = [body for block in parsed["resource"] for kind, named in block.items()
               if kind == "hcloud_server" for body in named.values()]
    assert len(servers) == 1 and servers[0]["keep_disk"] is True

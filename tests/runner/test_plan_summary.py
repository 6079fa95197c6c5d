"""PlanSummary from real `terraform show -json` of a terraform_data stack."""
import json

import pytest

from runner.plan import SENSITIVE, summarize
from runner.plan_format import to_dict, to_markdown, to_text
from runner.redact import Redactor, sensitive_values
from tests.runner.conftest import SECRET, write_stack


@pytest.fixture
def applied(tf, stack):
    tf.init()
    run = tf.plan(stack / "p.tfplan")
    assert run.has_changes
    tf.apply(run.planfile)
    return tf, stack


def _plan(tf, stack, **vars_):
    write_stack(stack, **vars_)
    run = tf.plan(stack / "p.tfplan")
    return run, tf.show(run.planfile)


def test_create_plan_lists_every_resource(tf, stack):
    tf.init()
    run = tf.plan(stack / "p.tfplan")
    s = summarize(tf.show(run.planfile), secrets=[SECRET])
    assert [(c.address, c.action) for c in s.changes] == [
        ("terraform_data.server", "create"), ("terraform_data.volume", "create")]
    assert s.counts == {"create": 2, "update": 0, "replace": 0, "delete": 0}
    server = s.changes[0]
    assert {a.name: a.after for a in server.attributes}["input"] == '"small"'


def test_no_changes_after_apply(applied):
    tf, stack = applied
    run = tf.plan(stack / "p.tfplan")
    assert not run.has_changes
    s = summarize(tf.show(run.planfile))
    assert not s.has_changes and "No changes" in to_text(s)


def test_update_in_place_and_replace_with_paths(applied):
    tf, stack = applied
    run, doc = _plan(tf, stack, size="large", generation="2")
    s = summarize(doc, secrets=[SECRET])
    by = {c.address: c for c in s.changes}
    server, volume = by["terraform_data.server"], by["terraform_data.volume"]
    assert server.action == "update"
    assert [(a.name, a.before, a.after) for a in server.attributes if a.name == "input"] == \
        [("input", '"small"', '"large"')]
    assert volume.action == "replace" and volume.replace_paths == ("triggers_replace",)
    assert [a.name for a in volume.attributes if a.forces_replacement] == ["triggers_replace"]
    assert s.counts["update"] == 1 and s.counts["replace"] == 1
    assert "forces replacement" in to_text(s) and "| replace |" in to_markdown(s)


def test_sensitive_values_never_rendered(applied):
    tf, stack = applied
    run, doc = _plan(tf, stack, generation="3")
    assert SECRET in json.dumps(doc)  # terraform itself puts it in show -json
    assert SECRET in sensitive_values(doc)
    # Even without being told the token, the plan's own markers mask it,
    # including terraform_data.output which echoes it without a marker.
    s = summarize(doc)
    rendered = to_text(s) + to_markdown(s) + json.dumps(to_dict(s))
    assert SECRET not in rendered
    volume = next(c for c in s.changes if c.address == "terraform_data.volume")
    shown = {a.name: a.before for a in volume.attributes}
    assert shown["output"] == SENSITIVE


def test_redactor_masks_longest_first():
    r = Redactor(["abcd", "abcdef", None, "x"])
    assert r("key=abcdef and abcd and x") == "key=*** and *** and x"
    assert r.contains_secret("..abcd..") and not r.contains_secret("abc")


def test_protected_types_warned():
    doc = {"resource_changes": [
        {"address": "hcloud_server.main", "type": "hcloud_server", "mode": "managed",
         "change": {"actions": ["delete", "create"], "before": {"user_data": "a"},
                    "after": {"user_data": "b"}, "after_unknown": {}, "before_sensitive": {},
                    "after_sensitive": {}, "replace_paths": [["user_data"]]}},
        {"address": "hcloud_volume.data", "type": "hcloud_volume", "mode": "managed",
         "change": {"actions": ["delete"], "before": {"size": 50}, "after": None}},
        {"address": "hcloud_firewall.main", "type": "hcloud_firewall", "mode": "managed",
         "change": {"actions": ["delete"], "before": {}, "after": None}},
    ]}
    s = summarize(doc)
    assert [c.address for c in s.destructive_on()] == ["hcloud_server.main", "hcloud_volume.data"]
    assert s.warnings == ("hcloud_server.main will be replaced (forced by user_data)",
                          "hcloud_volume.data will be deleted")


def test_drift_is_a_warning():
    doc = {"resource_drift": [
        {"address": "hcloud_firewall.main", "change": {"actions": ["update"]}},
        {"address": "hcloud_server.main", "change": {"actions": ["delete"]}}]}
    assert summarize(doc).warnings == (
        "hcloud_firewall.main was changed outside Terraform",
        "hcloud_server.main was deleted outside Terraform")


def _shape(summary):
    return [(c.address, c.type, c.action) for c in summary.changes], summary.counts


@pytest.mark.parametrize("size, generation, delete", [
    ("small", "1", False),   # nothing changes
    ("large", "1", False),   # update in place
    ("small", "2", False),   # replace (triggers_replace)
    ("large", "2", True),    # update + replace + delete
])
def test_stream_summary_agrees_with_show(applied, size, generation, delete):
    """The plan -json stream gives the same actions and counts as `show -json` (the oracle)."""
    from runner.plan import summarize_events
    tf, stack = applied
    write_stack(stack, size=size, generation=generation)
    if delete:
        (stack / "main.tf").write_text((stack / "main.tf").read_text().replace(
            'resource "terraform_data" "server"', 'resource "terraform_data" "renamed"').replace(
            "terraform_data.server.", "terraform_data.renamed."))
    run = tf.plan(stack / "q.tfplan")
    quick = summarize_events(run.events)
    full = summarize(tf.show(run.planfile))
    assert _shape(quick) == _shape(full)
    assert quick.detailed is False and full.detailed is True
    assert all(not c.attributes for c in quick.changes)
    if generation == "2":
        replaced = [c for c in quick.changes if c.action == "replace"]
        assert [c.address for c in replaced] == ["terraform_data.volume"]
        assert replaced[0].action_reason == "cannot_update"  # as terraform gives it


def test_stream_summary_warns_on_protected_types_without_show():
    from runner.events import parse_line
    from runner.plan import summarize_events
    line = ('{"type":"planned_change","@level":"info","@message":"x","change":{"resource":'
            '{"addr":"module.m.hcloud_server.main[0]","resource_type":"hcloud_server"},'
            '"action":"replace","reason":"cannot_update"}}')
    s = summarize_events([parse_line(line)])
    assert s.counts["replace"] == 1 and s.destructive_on()[0].type == "hcloud_server"
    assert s.warnings == ("module.m.hcloud_server.main[0] will be replaced",)

"""ops.drift's pure parts: classification of `resource_drift` entries, orphans
by labels and state ids, the report formats; and the CLI's exit codes."""
from __future__ import annotations

from click.testing import CliRunner

from checks.inventory import FamilyInventory, Inventory, Resource
from cli import cli
from ops.drift import DriftReport, Finding, classify, from_plan, orphans, to_markdown

OURS = (("environment", "production"), ("managed-by", "hetzner-deploy"), ("project", "autoscale-ai"))


def _entry(type_, before, after, actions=("update",)):
    return {"address": f"{type_}.main", "type": type_, "mode": "managed",
            "change": {"actions": list(actions), "before": before, "after": after}}


def test_labels_image_and_other_attributes_are_told_apart():
    found = classify(_entry("hcloud_server", {"labels": {"a": "1", "b": "2"}, "image": "ubuntu-24.04",
                                              "server_type": "ccx33", "status": "running"},
                            {"labels": {"a": "9", "c": "3"}, "image": "debian-12",
                             "server_type": "ccx43", "status": "off"}))
    assert [(f.kind, f.detail) for f in found] == [
        ("labels", "a: 1 -> 9, -b, +c=3"),
        ("image", "rebuilt: image ubuntu-24.04 -> debian-12"),
        ("attributes", "changed: server_type")]   # status is noise, never drift


def test_firewall_rule_diff_and_deleted_resource():
    rule = {"direction": "in", "protocol": "tcp", "port": "22", "source_ips": ["10.0.0.0/8"]}
    added = dict(rule, port="5432", source_ips=["0.0.0.0/0", "::/0"])
    (f,) = classify(_entry("hcloud_firewall", {"rule": [rule]}, {"rule": [rule, added]}))
    assert (f.kind, f.detail) == ("firewall_rules", "+ in tcp/5432 0.0.0.0/0,::/0")
    (gone,) = classify(_entry("hcloud_volume", {"size": 10}, None, actions=("delete",)))
    assert gone.kind == "deleted"


def test_backreferences_set_by_the_stack_are_not_drift():
    assert classify(_entry("hcloud_placement_group", {"servers": []}, {"servers": [5]})) == []
    assert from_plan({"resource_drift": [
        {**_entry("hcloud_server", {"image": "a"}, {"image": "b"}), "mode": "data"}]}) == []


def test_orphans_need_all_three_labels_and_an_id_outside_state():
    inv = Inventory((FamilyInventory("servers", "Servers", (
        Resource(1, "known", OURS), Resource(2, "stray", OURS),
        Resource(3, "foreign", (("managed-by", "hetzner-deploy"), ("project", "x"))))),))
    state = {"values": {"root_module": {"resources": [
        {"address": "hcloud_server.main", "mode": "managed", "type": "hcloud_server",
         "name": "main", "values": {"id": "1"}}]}}}
    (f,) = orphans(inv, state, project="autoscale-ai", environment="production")
    assert (f.address, f.kind) == ("servers/2", "orphan")


def test_markdown_escapes_cells():
    text = to_markdown(DriftReport((Finding("a.b", "labels", "x|y"),)))
    assert "| `a.b` | labels | x\\|y |" in text


def test_usage_error_is_not_read_as_drift():
    result = CliRunner().invoke(cli, ["drift", "--no-such-option"])
    assert result.exit_code == 64 and "No such option" in result.output
    assert CliRunner().invoke(cli, ["plan", "--no-such-option"]).exit_code == 2


def test_config_errors_exit_64_not_2(tmp_path):
    bad_env = CliRunner().invoke(cli, ["drift", "--env", "Bad Env!"])
    assert bad_env.exit_code == 64 and "--env" in bad_env.output
    missing = CliRunner().invoke(cli, ["drift", "--config", str(tmp_path / "none.toml")])
    assert missing.exit_code == 64 and "config file not found" in missing.output
    assert "Traceback" not in bad_env.output + missing.output

"""Plan warnings for the PR comment, on show -json shaped plans."""
from __future__ import annotations

import pytest

from ops.plan_warnings import review_warnings, ssh_open_to_world
from runner.plan import summarize
from runner.plan_format import to_markdown


def _rc(type_, actions, after):
    return {"address": f"{type_}.main", "mode": "managed", "type": type_,
            "change": {"actions": actions, "before": {}, "after": after, "after_unknown": {},
                       "before_sensitive": {}, "after_sensitive": {}}}


@pytest.mark.parametrize("port, sources, open_", [
    ("22", ["0.0.0.0/0"], True), ("20-30", ["::/0"], True), (None, ["0.0.0.0/0"], True),
    ("22", ["198.51.100.0/24"], False), ("2222", ["0.0.0.0/0"], False),
    ("23-30", ["0.0.0.0/0"], False)])
def test_ssh_open_to_world(port, sources, open_):
    assert ssh_open_to_world([{"direction": "in", "protocol": "tcp", "port": port,
                               "source_ips": sources}]) is open_


def test_replaced_server_destroyed_volume_and_open_ssh_reach_the_markdown():
    plan = {"format_version": "1.2", "resource_changes": [
        _rc("hcloud_server", ["delete", "create"], {"name": "a"}),
        _rc("hcloud_volume", ["delete"], None),
        _rc("hcloud_firewall", ["update"], {"rule": [
            {"direction": "in", "protocol": "tcp", "port": "22", "source_ips": ["::/0"]}]}),
        _rc("hcloud_ssh_key", ["delete", "create"], {"name": "k"})]}
    warnings = review_warnings(plan)
    assert warnings == ["hcloud_firewall.main lets SSH (port 22) in from the whole Internet"]
    text = to_markdown(summarize(plan, warnings=warnings))
    # the replaced server and the deleted volume come from runner.plan itself
    for line in ("> hcloud_firewall.main lets SSH (port 22) in from the whole Internet",
                 "> hcloud_server.main will be replaced", "> hcloud_volume.main will be deleted"):
        assert line in text, text
    assert "hcloud_ssh_key.main will be" not in text


def test_quiet_plan_has_no_warnings():
    assert review_warnings({"resource_changes": [
        _rc("hcloud_server", ["update"], {"name": "a"}),
        _rc("hcloud_firewall", ["delete"], None)]}) == []

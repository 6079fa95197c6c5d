"""The stand-in behaves as hetznercloud/hcloud v1.68.0 does, case by case.

Each case was read in the real provider's source (internal/server/resource.go,
internal/volume/resource.go and their schemas) and is checked here with real
Terraform against the emulator; the official hcloud client is the second
witness of what happened in the "cloud".
"""
from __future__ import annotations

import base64
import hashlib
import json

import pytest
from hcloud.images import Image

from tests.sandbox.tfharness import FIXTURES, Terraform, copy_stack

pytestmark = pytest.mark.e2e


def _server_stack(tmp_path, emulator, name="server"):
    stack = copy_stack(tmp_path / "stack", FIXTURES / name)
    tf = Terraform(stack, tmp_path, emulator)
    tf.init()
    return tf


def _edit(path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def _errors(proc) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("Error:")]


def _state_resource(tf, address: str) -> dict:
    state = json.loads(tf.run("show", "-json").stdout)
    found = [r for r in state["values"]["root_module"]["resources"] if r["address"] == address]
    assert found, address
    return found[0]


def test_destroy_does_not_lift_delete_protection(tmp_path, emulator):
    # resourceVolumeDelete detaches, then deletes: the API answers `protected`.
    tf = _server_stack(tmp_path, emulator, "protected")
    tf.apply()
    client = emulator.client()
    failed = tf.run("destroy", "-auto-approve", "-input=false", check=False)
    assert failed.returncode == 1
    # One refusal per protected kind: volume, server, primary IP.
    refused = sorted(e.split(":")[1].strip() for e in _errors(failed) if "protected" in e)
    assert refused == ["hcloud_primary_ip", "hcloud_server", "hcloud_volume"], failed.stderr
    (volume,) = client.volumes.get_all()
    assert volume.protection["delete"] is True and volume.server is None  # detached first
    assert len(client.servers.get_all()) == 2
    primary = client.primary_ips.get_by_name("p-ip")
    assert primary.protection["delete"] is True
    # The way out is the one `hetzner-deploy destroy --destroy-volume` takes:
    # apply delete_protection = false, then destroy.
    _edit(tf.workdir / "main.tf", "protect = true", "protect = false")
    tf.apply()
    tf.run("destroy", "-auto-approve", "-input=false")
    for family in ("servers", "volumes", "primary_ips"):
        assert getattr(client, family).get_all() == [], family


def test_image_rebuilt_out_of_band_shows_as_a_replacement(tmp_path, emulator):
    tf = _server_stack(tmp_path, emulator)
    tf.apply()
    client = emulator.client()
    server = client.servers.get_by_id(int(tf.outputs()["server_id"]))
    client.servers.rebuild(server, Image(name="debian-12")).action.wait_until_finished()
    actions = tf.planned_actions()
    assert actions["hcloud_server.web"] in (["delete", "create"], ["create", "delete"])
    (change,) = tf.show_plan("check.tfplan")["resource_changes"]
    assert change["change"]["before"]["image"] == "debian-12"
    assert change["change"]["replace_paths"] == [["image"]]


def test_running_server_leaves_its_placement_group_only_when_off(tmp_path, emulator):
    tf = _server_stack(tmp_path, emulator, "grouped")
    tf.apply()
    client = emulator.client()
    server_id = int(tf.outputs()["server_id"])
    group_id = int(tf.outputs()["group_id"])
    refused = tf.run("apply", "-input=false", "-auto-approve", "-var", "in_group=false",
                     check=False)
    assert refused.returncode == 1
    assert any("removing a running server from a placement group" in e
               for e in _errors(refused)), refused.stderr
    server = client.servers.get_by_id(server_id)
    assert server.status == "running" and server.placement_group.id == group_id
    # Off, the same change goes through; nothing powers the server on again.
    client.servers.power_off(server).wait_until_finished()
    tf.apply("-var", "in_group=false")
    server = client.servers.get_by_id(server_id)
    assert server.placement_group is None and server.status == "off"


def test_adding_a_running_server_to_a_group_is_refused_by_the_api(tmp_path, emulator):
    tf = _server_stack(tmp_path, emulator, "grouped")
    tf.apply("-var", "in_group=false")
    server_id = int(tf.outputs()["server_id"])
    refused = tf.run("apply", "-input=false", "-auto-approve", check=False)
    assert refused.returncode == 1
    assert any("server_not_stopped" in e for e in _errors(refused)), refused.stderr
    server = emulator.client().servers.get_by_id(server_id)
    assert server.status == "running" and server.placement_group is None


def test_downgrade_without_keep_disk_fails_at_apply_and_leaves_the_server_off(tmp_path, emulator):
    tf = _server_stack(tmp_path, emulator)
    tf.apply("-var", "server_type=cpx22")
    server_id = int(tf.outputs()["server_id"])
    # The plan is an ordinary in-place update: the real provider knows no better.
    assert tf.planned_actions("-var", "server_type=cpx12")["hcloud_server.web"] == ["update"]
    failed = tf.run("apply", "-input=false", "check.tfplan", check=False)
    assert failed.returncode == 1
    assert any("invalid_server_type" in e for e in _errors(failed)), failed.stderr
    server = emulator.client().servers.get_by_id(server_id)
    assert server.status == "off" and server.server_type.name == "cpx22"
    assert _state_resource(tf, "hcloud_server.web")["values"]["server_type"] == "cpx22"


def test_create_whose_action_fails_is_kept_in_state_and_converges(tmp_path, emulator):
    tf = _server_stack(tmp_path, emulator)
    emulator.admin("POST", "/_sandbox/action_failures",
                   {"count": 1, "code": "action_failed", "message": "injected"})
    failed = tf.run("apply", "-input=false", "-auto-approve", check=False)
    assert failed.returncode == 1
    client = emulator.client()
    (orphan,) = client.servers.get_all()
    state = json.loads((tf.workdir / "terraform.tfstate").read_text())
    (entry,) = [r for r in state["resources"] if r["type"] == "hcloud_server"]
    (instance,) = entry["instances"]
    assert instance["attributes"]["id"] == str(orphan.id)
    assert instance["status"] == "tainted"
    # The next apply replaces the tainted server: no uniqueness_error on its name.
    again = tf.apply()
    assert "uniqueness_error" not in again.stdout + again.stderr
    (server,) = client.servers.get_all()
    assert server.id != orphan.id and server.name == "replace-me"
    assert tf.plan_exitcode().returncode == 0


def test_user_data_is_stored_as_its_hash_and_defaults_are_planned(tmp_path, emulator):
    tf = _server_stack(tmp_path, emulator, "defaults")
    tf.run("plan", "-input=false", "-out=first.tfplan")
    planned = tf.show_plan("first.tfplan")["resource_changes"][0]["change"]["after"]
    # Schema Defaults of the real provider, shown although the config omits them.
    for name in ("keep_disk", "backups", "ignore_remote_firewall_ids", "delete_protection",
                 "rebuild_protection", "shutdown_before_deletion"):
        assert planned[name] is False, name
    assert planned["public_net"] == [{"ipv4_enabled": True, "ipv6_enabled": True}]
    text = "#cloud-config\nruncmd: [echo one]\n"
    digest = base64.b64encode(hashlib.sha1(text.encode()).digest()).decode()
    assert planned["user_data"] == digest
    tf.run("apply", "-input=false", "first.tfplan")
    assert _state_resource(tf, "hcloud_server.web")["values"]["user_data"] == digest
    assert tf.plan_exitcode().returncode == 0
    # A changed text is a new hash: replacement, as before.
    actions = tf.planned_actions("-var", "user_data=#cloud-config\nruncmd: [echo two]\n")
    assert actions["hcloud_server.web"] in (["delete", "create"], ["create", "delete"])


def test_volume_format_change_is_in_place_and_shrink_is_left_to_the_api(tmp_path, emulator):
    tf = _server_stack(tmp_path, emulator, "volume")
    tf.apply()
    volume_id = int(tf.outputs()["volume_id"])
    assert tf.planned_actions("-var", "format=xfs")["hcloud_volume.v"] == ["update"]
    tf.run("apply", "-input=false", "check.tfplan")
    assert int(tf.outputs()["volume_id"]) == volume_id
    # Shrinking plans as an update; Hetzner refuses it at apply time.
    assert tf.planned_actions("-var", "format=xfs", "-var", "size=10")["hcloud_volume.v"] \
        == ["update"]
    failed = tf.run("apply", "-input=false", "check.tfplan", check=False)
    assert failed.returncode == 1 and any("invalid_input" in e for e in _errors(failed))
    assert emulator.client().volumes.get_by_id(volume_id).size == 20

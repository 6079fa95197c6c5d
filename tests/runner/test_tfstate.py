"""The typed state reader, against states terraform itself writes and hand-made corrupt ones."""
import json
import subprocess

import pytest

from runner.tfstate import StateError, TfState, load_state_file, parse_state, parse_state_text

RAW = {
    "version": 4, "terraform_version": "1.11.4", "serial": 7, "lineage": "abc-123",
    "resources": [
        {"mode": "managed", "type": "hcloud_server", "name": "main", "provider": "p",
         "instances": [{"attributes": {"id": "42", "name": "srv"}, "status": "tainted",
                        "dependencies": ["hcloud_firewall.main"]}]},
        {"mode": "managed", "type": "hcloud_server", "name": "app", "provider": "p",
         "instances": [{"index_key": 0, "attributes": {"id": "1"}},
                       {"index_key": 1, "attributes": {"id": "2"}}]},
        {"mode": "managed", "type": "hcloud_volume", "name": "data", "module": "module.db",
         "provider": "p", "instances": [{"index_key": "a", "attributes": {"id": 3}}]},
        {"mode": "data", "type": "hcloud_image", "name": "ubuntu", "provider": "p",
         "instances": [{"attributes": {"id": "99"}}]},
    ],
}


def test_raw_state_file_fields():
    state = parse_state(RAW)
    assert (state.lineage, state.serial, state.version) == ("abc-123", 7, 4)
    server = state.get("hcloud_server.main")
    assert server.tainted and server.dependencies == ("hcloud_firewall.main",)
    assert server.numeric_id == 42 and server.attributes["name"] == "srv"
    assert [r.address for r in state.of_type("hcloud_server")] == \
        ["hcloud_server.main", "hcloud_server.app[0]", "hcloud_server.app[1]"]
    assert state.get('module.db.hcloud_volume.data["a"]').numeric_id == 3
    assert state.get("data.hcloud_image.ubuntu").mode == "data"
    assert state.ids_by_type() == {"hcloud_server": {42, 1, 2}, "hcloud_volume": {3}}
    assert not state.is_empty and "data.hcloud_image.ubuntu" not in state.addresses()
    with pytest.raises(TypeError):
        server.attributes["id"] = "0"        # frozen all the way down


def test_show_json_shape_with_child_modules():
    show = {"format_version": "1.0", "terraform_version": "1.11.4", "values": {"root_module": {
        "resources": [{"address": "hcloud_volume_attachment.data", "mode": "managed",
                       "type": "hcloud_volume_attachment", "name": "data",
                       "values": {"id": "5", "automount": True}, "tainted": True}],
        "child_modules": [{"address": "module.net", "resources": [
            {"mode": "managed", "type": "hcloud_network", "name": "n", "index": 0,
             "values": {"id": "8"}}]}]}}}
    state = parse_state(show)
    assert state.get("hcloud_volume_attachment.data").attributes["automount"] is True
    assert state.get("hcloud_volume_attachment.data").tainted
    assert state.get("module.net.hcloud_network.n[0]").numeric_id == 8


def test_a_state_terraform_wrote_is_read_as_terraform_lists_it(stack, tf):
    tf.init()
    run = tf.plan(stack / "p.tfplan")
    assert run.has_changes
    tf.apply(stack / "p.tfplan")
    _doc, state = load_state_file(stack / "terraform.tfstate")
    listed = subprocess.run([tf.binary, "state", "list"], cwd=stack, capture_output=True,
                            text=True, env={**__import__("os").environ, **tf.env}, check=True)
    assert state.addresses() == set(listed.stdout.split())     # terraform is the oracle
    assert state.serial >= 1 and state.lineage
    assert parse_state(tf.show()).addresses() == state.addresses()


@pytest.mark.parametrize("text", ["", "   \n"])
def test_empty_file_is_no_state(tmp_path, text):
    path = tmp_path / "terraform.tfstate"
    path.write_text(text)
    assert load_state_file(path) == ({}, TfState())
    assert load_state_file(tmp_path / "missing.tfstate")[1].is_empty


@pytest.mark.parametrize("text,reason", [
    ("{not json", "Expecting property name"),
    ('{"version": 3, "serial": 1}', "state format version 3"),
    ('{"version": 4, "serial": "x"}', "serial is not a number"),
    ('{"version": 4, "resources": [5]}', "not an object"),
    ('"just a string"', "not a JSON object"),
])
def test_corrupt_state_is_one_line_naming_the_file_and_backups(tmp_path, text, reason):
    path = tmp_path / "terraform.tfstate"
    path.write_text(text)
    with pytest.raises(StateError) as info:
        load_state_file(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and reason in message
    assert str(tmp_path / ".work" / "state-backups") in message


def test_binary_garbage_and_a_directory_are_one_line(tmp_path):
    path = tmp_path / "terraform.tfstate"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(StateError, match="cannot be read"):
        load_state_file(path)
    path.unlink()
    path.mkdir()
    with pytest.raises(StateError, match="cannot be read"):
        load_state_file(path)


def test_parse_text_from_a_backend():
    doc, state = parse_state_text(json.dumps(RAW), "from the pg backend")
    assert doc["lineage"] == "abc-123" and len(state.managed) == 4


def test_the_former_walkers_read_through_the_typed_reader():
    from checks.after import _automount
    from checks.inventory import has_resources, state_ids
    attach = {"version": 4, "resources": [
        {"mode": "managed", "type": "hcloud_volume_attachment", "name": "data",
         "instances": [{"attributes": {"id": "5", "automount": False}}]}]}
    assert _automount(attach) is False and _automount(parse_state(attach)) is False
    assert _automount({}) is None and _automount(parse_state(RAW)) is None
    ids = state_ids(parse_state(RAW))
    assert ids["servers"] == {42, 1, 2} and ids["volumes"] == {3}
    assert state_ids(RAW) == ids and has_resources(RAW) and not has_resources({})

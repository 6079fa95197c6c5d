"""The schema Terraform reads from the stand-in is the project's (= the real one's)."""
from __future__ import annotations

import json

import pytest

from generator import provider_schema
from sandbox.provider import schema as served
from sandbox.provider.blocks import ModeBlock
from tf.gen import tfplugin_pb2 as pb
from tests.sandbox.tfharness import Terraform

MODES = pb.Schema.NestedBlock.NestingMode


def _without_kinds(node):
    # Terraform adds description_kind for every block; it carries no meaning here.
    if isinstance(node, dict):
        return {k: _without_kinds(v) for k, v in node.items() if k != "description_kind"}
    return node


def test_list_blocks_go_on_the_wire_as_list_nesting():
    service = served.resource("hcloud_load_balancer_service").to_pb()
    blocks = {b.type_name: b for b in service.block.block_types}
    assert blocks["health_check"].nesting == MODES.LIST
    assert blocks["health_check"].max_items == 1
    inner = {b.type_name: b for b in blocks["health_check"].block.block_types}
    assert inner["http"].nesting == MODES.LIST
    server = {b.type_name: b for b in served.resource("hcloud_server").to_pb().block.block_types}
    assert server["timeouts"].nesting == MODES.SINGLE
    assert server["network"].nesting == MODES.SET


def test_requires_replace_names_must_exist():
    with pytest.raises(KeyError):
        served.resource("hcloud_server", frozenset({"no_such_argument"}))


def test_mode_block_encodes_each_mode():
    block = served.resource("hcloud_load_balancer").block_types[0]
    assert isinstance(block, ModeBlock) and block.mode == "list"
    assert block.encode([{"type": "round_robin"}]) == [{"type": "round_robin"}]
    assert block.decode(None) is None
    assert block.semantically_equal([{"type": "a"}], [{"type": "a"}])


@pytest.mark.e2e
def test_terraform_reads_our_schema(tmp_path, emulator):
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "main.tf").write_text(
        'terraform {\n  required_providers {\n    hcloud = {\n'
        '      source  = "hetznercloud/hcloud"\n      version = "~> 1.68"\n    }\n  }\n}\n')
    tf = Terraform(stack, tmp_path, emulator)
    tf.init()
    data = json.loads(tf.run("providers", "schema", "-json").stdout)
    hcloud = data["provider_schemas"][provider_schema.PROVIDER_SOURCE]
    assert _without_kinds(hcloud["provider"]) == provider_schema.provider_block()
    assert sorted(hcloud["resource_schemas"]) == list(provider_schema.RESOURCE_TYPES)
    for name in provider_schema.RESOURCE_TYPES:
        assert _without_kinds(hcloud["resource_schemas"][name]) == \
            provider_schema.resource_schema(name), name
    lock = (stack / ".terraform.lock.hcl").read_text()
    assert f'version     = "{provider_schema.PROVIDER_VERSION}"' in lock


@pytest.mark.e2e
def test_plugin_starts_without_a_writable_home(tmp_path, emulator):
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "main.tf").write_text(
        'terraform {\n  required_providers {\n    hcloud = {\n'
        '      source  = "hetznercloud/hcloud"\n      version = "~> 1.68"\n    }\n  }\n}\n\n'
        'resource "hcloud_placement_group" "pg" {\n  name = "pg"\n  type = "spread"\n}\n')
    tf = Terraform(stack, tmp_path, emulator)
    tf.env["HOME"] = str(tmp_path / "no-such-home" / "file-not-dir")
    (tmp_path / "no-such-home").write_text("a file, so nothing can be created below it")
    tf.init()
    assert tf.planned_actions() == {"hcloud_placement_group.pg": ["create"]}

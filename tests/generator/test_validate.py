"""`check`: each of its five checks catches what it is for."""
from __future__ import annotations

import pytest

from generator.config import load_config
from generator.render import generate
from generator.validate import check_all, schema_problems, parse_stack


@pytest.fixture
def stack(make_config, tmp_path):
    config = load_config(make_config())
    stacks = tmp_path / "stacks"
    result = generate(config, "ccx33", stacks_dir=stacks)
    return config, stacks, result.stack_dir


def problems(config, stacks) -> dict[str, tuple[str, ...]]:
    return {r.name.split(" ")[0]: r.problems for r in check_all(config, stacks)}


def test_fresh_stack_passes_every_check(stack):
    config, stacks, _ = stack
    assert all(not p for p in problems(config, stacks).values()), problems(config, stacks)


def edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_unparsable_hcl(stack):
    config, stacks, stack_dir = stack
    edit(stack_dir / "main.tf", 'resource "hcloud_placement_group" "main" {',
         'resource "hcloud_placement_group" "main" {{')
    found = problems(config, stacks)
    assert any("main.tf: does not parse" in p for p in found["parse"])
    assert found["format"] and "could not read" in found["format"][0]


def test_unformatted(stack):
    config, stacks, stack_dir = stack
    edit(stack_dir / "main.tf", '  type   = "spread"', '  type = "spread"')
    assert problems(config, stacks)["format"] == ("production/main.tf: not formatted (run terraform fmt)",)


@pytest.mark.parametrize("old,new,needle", [
    ('  type   = "spread"', '  type   = "spread"\n  colour = "blue"', "unknown argument 'colour'"),
    ('  type   = "spread"\n', '', "required argument 'type' is missing"),
    ('  automount = true', '  automount = true\n  id        = "1"',
     None),  # id is optional+computed on SDK resources: allowed
    ('  format            = "ext4"', '  linux_device      = "/dev/sdb"',
     "linux_device is read-only"),
    ('resource "hcloud_placement_group"', 'resource "hcloud_placement_groups"',
     "unknown resource type 'hcloud_placement_groups'"),
    ('    port        = "22"', '    port        = "22"\n    colour      = "red"',
     "hcloud_firewall.main.rule: unknown argument 'colour'"),
    ('  public_net {', '  public_net {\n    ipv5_enabled = true', "unknown argument 'ipv5_enabled'"),
])
def test_schema_violations(stack, old, new, needle):
    config, stacks, stack_dir = stack
    edit(stack_dir / "main.tf", old, new)
    parsed, parse_errors = parse_stack(stack_dir)
    assert not parse_errors
    found = schema_problems(parsed, "production")
    if needle is None:
        assert found == []
    else:
        assert any(needle in p for p in found), found


def test_invalid_cloud_init(stack):
    config, stacks, stack_dir = stack
    edit(stack_dir / "user-data.yaml", "package_update: true", "package_update: maybe")
    assert any("user-data.yaml: invalid cloud-config" in p
               for p in problems(config, stacks)["cloud-init"])


def test_stale_files_are_named(stack):
    config, stacks, stack_dir = stack
    edit(stack_dir / "terraform.tfvars", "volume_size_gb  = 50", "volume_size_gb  = 60")
    assert problems(config, stacks)["up"] == (
        "production/terraform.tfvars: stale, differs from what `generate` writes now",)


def test_no_stacks_is_a_failure(make_config, tmp_path):
    config = load_config(make_config())
    assert problems(config, tmp_path / "none")["parse"]

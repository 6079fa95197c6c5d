"""`check`: each of its five checks catches what it is for."""
from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from generator.config import BackendConfig, load_config
from generator.render import generate
from generator.manifest import read_manifest
from generator.validate import (check_all, forbidden_problems, hand_written_problems,
                                manifest_problems, parse_stack, schema_problems,
                                structure_problems)


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


def rehash(stack_dir) -> None:
    """Make manifest.json agree with the files on disk, as if `generate` had written
    them: only the structure check can then tell that something was added."""
    path = stack_dir / "manifest.json"
    doc = json.loads(path.read_text())
    doc["files"] = {n: hashlib.sha256((stack_dir / n).read_bytes()).hexdigest()
                    for n in doc["files"]}
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


INJECTED = '''
resource "terraform_data" "pwn" {
  provisioner "local-exec" {
    command = "env > /tmp/token"
  }
}
'''


@pytest.mark.parametrize("file,old,new,needles", [
    # The reported exploit, as unescaped templates rendered it: a resource, a provisioner.
    ("versions.tf", "\n}\n", "\n}\n" + INJECTED,
     ["resource: not rendered by the templates (terraform_data.pwn)",
      "resource.terraform_data.pwn.provisioner: refused",
      "provisioner.local-exec: refused: local-exec runs commands"]),
    ("main.tf", 'resource "hcloud_volume_attachment"',
     'resource "hcloud_network" "net" {\n  name     = "n"\n  ip_range = "10.0.0.0/16"\n}\n\n'
     'resource "hcloud_volume_attachment"',
     ["resource.hcloud_network: not rendered by the templates (net)"]),
    ("main.tf", 'resource "hcloud_volume_attachment"',
     'data "hcloud_image" "x" {\n  name = "debian-12"\n}\n\nresource "hcloud_volume_attachment"',
     ["data: not rendered by the templates (hcloud_image.x)"]),
    ("main.tf", 'resource "hcloud_volume_attachment"',
     'module "m" {\n  source = "./m"\n}\n\nresource "hcloud_volume_attachment"',
     ["module: not rendered by the templates (m)"]),
    ("main.tf", "  automount = true\n",
     '  automount = true\n\n  provisioner "remote-exec" {\n    inline = ["id"]\n  }\n',
     ["hcloud_volume_attachment.data.provisioner: refused",
      "provisioner.remote-exec: refused"]),
    ("terraform.tfvars", 'image           = "ubuntu-22.04"',
     'image           = "${file("/etc/passwd")}"',
     ["image: a template expression where the templates render a plain string"]),
    ("terraform.tfvars", 'backups         = true', 'backups         = true\nextra = 1',
     ["extra: not rendered by the templates"]),
])
def test_structure_refuses_what_the_templates_do_not_render(stack, file, old, new, needles):
    config, stacks, stack_dir = stack
    edit(stack_dir / file, old, new)
    rehash(stack_dir)
    found = shape_and_files(config, stack_dir)
    assert found["files"] == []  # the hashes agree: only the structure check can see it
    for needle in needles:
        assert any(needle in p for p in found["structure"]), (needle, found["structure"])


def test_backend_arguments_we_do_not_render_are_refused(make_config, tmp_path):
    config = load_config(make_config())
    config = dataclasses.replace(config, backend=BackendConfig(
        kind="s3", endpoint="https://s3.example", bucket="b"))
    stacks = tmp_path / "stacks"
    stack_dir = generate(config, "ccx33", stacks_dir=stacks).stack_dir
    assert all(not p for p in problems(config, stacks).values())
    edit(stack_dir / "versions.tf", "    use_path_style              = true\n",
         "    use_path_style              = true\n    shared_config_files         = [\"/x\"]\n")
    rehash(stack_dir)
    assert any("terraform.backend.s3.shared_config_files: not rendered by the templates" in p
               for p in shape_and_files(config, stack_dir)["structure"])


def shape_and_files(config, stack_dir) -> dict[str, list[str]]:
    """The structure and files checks alone (check_all also runs fmt and cloud-init)."""
    parsed, errors = parse_stack(stack_dir)
    assert not errors
    manifest = read_manifest(stack_dir)
    name = stack_dir.name
    files, _ = manifest_problems(stack_dir, manifest, parsed)
    return {"files": files,
            "structure": forbidden_problems(parsed, name) + hand_written_problems(parsed, name)
            + structure_problems(config, stack_dir, manifest, parsed)}


def test_stray_file_fails_check_by_name(stack):
    config, stacks, stack_dir = stack
    (stack_dir / "network.tf").write_text('resource "hcloud_network" "main" {\n'
                                          '  name     = "n"\n  ip_range = "10.0.0.0/16"\n}\n')
    (stack_dir / "notes").mkdir()
    found = problems(config, stacks)
    assert found["files"] == (
        "production/network.tf: not generated (not in manifest.json); delete it, or rename "
        "it to *.local.tf to keep it as hand-written",
        "production/notes/: not generated (not in manifest.json); delete it, or rename "
        "it to *.local.tf to keep it as hand-written")


def test_terraform_and_runner_files_are_not_strays(stack):
    config, stacks, stack_dir = stack
    for name in (".terraform.lock.hcl", "terraform.tfstate", "terraform.tfstate.backup"):
        (stack_dir / name).write_text("{}\n")
    (stack_dir / ".terraform").mkdir()
    (stack_dir / ".work").mkdir()
    assert problems(config, stacks)["files"] == ()


def test_hand_written_local_tf_is_kept_and_reported(stack):
    config, stacks, stack_dir = stack
    (stack_dir / "dns.local.tf").write_text(
        'output "extra" {\n  value = hcloud_server.main.ipv4_address\n}\n')
    results = {r.name.split(" ")[0]: r for r in check_all(config, stacks)}
    assert all(r.ok for r in results.values()), {k: r.problems for k, r in results.items()}
    assert results["files"].notes == ("production/dns.local.tf: hand-written, kept as is",)


@pytest.mark.parametrize("text,needle", [
    (INJECTED, "provisioner: refused"),
    ('resource "terraform_data" "x" {\n  input = 1\n}\n', "resource type 'terraform_data'"),
    ('data "external" "x" {\n  program = ["id"]\n}\n', "data type 'external'"),
    ('module "m" {\n  source = "./m"\n}\n', "module 'm': not allowed"),
    ('terraform {\n  backend "local" {\n    path = "/tmp/s"\n  }\n}\n',
     "terraform 'terraform': not allowed"),
    ('provider "aws" {\n  region = "x"\n}\n', "provider 'aws'"),
])
def test_hand_written_files_cannot_run_code_or_move_state(stack, text, needle):
    config, stacks, stack_dir = stack
    (stack_dir / "extra.local.tf").write_text(text)
    found = shape_and_files(config, stack_dir)["structure"]
    assert any(needle in p for p in found), found


def test_an_edited_generated_file_is_named(stack):
    config, stacks, stack_dir = stack
    edit(stack_dir / "main.tf", '  type   = "spread"', '  type   = "spread" # ok?')
    assert shape_and_files(config, stack_dir)["files"] == [
        "production/main.tf: edited since `generate` (its sha256 differs from manifest.json)"]


def test_missing_manifest_fails_check(stack):
    config, stacks, stack_dir = stack
    (stack_dir / "manifest.json").unlink()
    assert problems(config, stacks)["files"] == (
        "production: no manifest.json; run `hetzner-deploy generate --env production` "
        "to write it",)


def test_protection_removed_by_hand_is_named(stack):
    config, stacks, stack_dir = stack
    edit(stack_dir / "main.tf", "    prevent_destroy = true\n", "    prevent_destroy = false\n")
    rehash(stack_dir)
    assert any("lists protected resources hcloud_volume.data[delete_protection,prevent_destroy]"
               ", the stack protects hcloud_volume.data[delete_protection]" in p
               for p in shape_and_files(config, stack_dir)["files"])

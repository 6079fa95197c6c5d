"""manifest.json: what `generate` wrote, how later runs learn the profile and
the files to delete, and what `check` holds a stack to."""
from __future__ import annotations

import dataclasses
import hashlib
import json

import hcl2
import pytest

from generator.config import load_config
from generator.manifest import (ManifestError, Protected, protected_resources, read_manifest,
                                stack_profile)
from generator.render import STACK_FILES, generate, stale_files


@pytest.fixture
def stack(make_config, tmp_path):
    config = load_config(make_config())
    stacks = tmp_path / "stacks"
    return config, stacks, generate(config, "ccx33", stacks_dir=stacks).stack_dir


def list_in_manifest(stack_dir, name: str) -> None:
    """As if an older `generate` (say, another profile) had rendered `name` too."""
    path = stack_dir / "manifest.json"
    doc = json.loads(path.read_text())
    doc["files"][name] = hashlib.sha256((stack_dir / name).read_bytes()).hexdigest()
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def test_manifest_lists_every_rendered_file_with_its_hash(stack):
    _, _, stack_dir = stack
    raw = (stack_dir / "manifest.json").read_text()
    doc = json.loads(raw)
    assert raw == json.dumps(doc, indent=2, sort_keys=True) + "\n"  # deterministic, sorted
    assert doc["profile"] == "ccx33" and doc["version"] == 1
    assert doc["files"] == {name: hashlib.sha256((stack_dir / name).read_bytes()).hexdigest()
                            for name in STACK_FILES}
    assert doc["protected"] == [{"address": "hcloud_volume.data", "delete_protection": True,
                                 "prevent_destroy": True}]


def test_protected_list_matches_what_the_rendered_hcl_protects(stack):
    _, _, stack_dir = stack
    parsed = {"main.tf": hcl2.loads((stack_dir / "main.tf").read_text())}
    assert protected_resources(parsed) == read_manifest(stack_dir).protected


def test_read_manifest_is_a_frozen_record(stack):
    _, _, stack_dir = stack
    manifest = read_manifest(stack_dir)
    assert manifest.profile == "ccx33"
    assert manifest.names == tuple(sorted(STACK_FILES))
    assert manifest.protected == (Protected("hcloud_volume.data", True, True),)
    with pytest.raises(dataclasses.FrozenInstanceError):
        manifest.profile = "ccx43"


def test_profile_comes_from_the_manifest_not_the_tfvars(make_config, tmp_path):
    config = load_config(make_config())
    stack_dir = generate(config, "ccx43", stacks_dir=tmp_path).stack_dir
    tfvars = stack_dir / "terraform.tfvars"
    tfvars.write_text(tfvars.read_text().replace('"ccx43"', '"ccx33"'))
    assert stack_profile(stack_dir) == "ccx43"
    assert stack_profile(tmp_path / "nowhere") is None
    assert stale_files(config, stacks_dir=tmp_path) == ["terraform.tfvars"]


def test_generate_deletes_what_it_rendered_before_and_no_longer_renders(stack):
    config, stacks, stack_dir = stack
    (stack_dir / "network.tf").write_text('resource "hcloud_network" "main" {}\n')
    list_in_manifest(stack_dir, "network.tf")
    assert "network.tf" in stale_files(config, stacks_dir=stacks)
    dry = generate(config, "ccx33", stacks_dir=stacks, dry_run=True)
    assert ("network.tf", "delete") in [(f.name, f.status) for f in dry.files]
    assert (stack_dir / "network.tf").exists()
    result = generate(config, "ccx33", stacks_dir=stacks)
    assert ("network.tf", "delete") in [(f.name, f.status) for f in result.files]
    assert not (stack_dir / "network.tf").exists()
    assert "network.tf" not in read_manifest(stack_dir).names
    assert stale_files(config, stacks_dir=stacks) == []


def test_generate_keeps_files_it_never_rendered(stack):
    config, stacks, stack_dir = stack
    (stack_dir / "dns.local.tf").write_text("# mine\n")
    (stack_dir / "network.tf").write_text("# nobody's\n")
    result = generate(config, "ccx33", stacks_dir=stacks)
    statuses = {f.name: f.status for f in result.files}
    assert statuses["dns.local.tf"] == "kept" and statuses["network.tf"] == "unknown"
    assert not result.changed
    assert (stack_dir / "dns.local.tf").exists() and (stack_dir / "network.tf").exists()


@pytest.mark.parametrize("doc,needle", [
    ("{", "unreadable"),
    ('{"version": 2}', "not a version 1 manifest"),
    ('{"version": 1, "files": {}}', "names no profile"),
    ('{"version": 1, "profile": "ccx33", "files": {"../../x": "' + "0" * 64 + '"}}',
     "plain file names"),
    ('{"version": 1, "profile": "ccx33", "files": {"main.tf": "abc"}}', "sha256"),
    ('{"version": 1, "profile": "ccx33", "files": {}, "protected": [1]}', "protected"),
])
def test_a_malformed_manifest_is_one_line(stack, doc, needle):
    _, _, stack_dir = stack
    (stack_dir / "manifest.json").write_text(doc)
    with pytest.raises(ManifestError, match=needle) as info:
        read_manifest(stack_dir)
    assert "\n" not in str(info.value)
    assert stack_profile(stack_dir) is None


def test_a_listed_path_outside_the_stack_is_never_deleted(stack, tmp_path):
    config, stacks, stack_dir = stack
    victim = tmp_path / "victim.tf"
    victim.write_text("keep me\n")
    doc = json.loads((stack_dir / "manifest.json").read_text())
    doc["files"]["../../victim.tf"] = "0" * 64
    (stack_dir / "manifest.json").write_text(json.dumps(doc))
    generate(config, "ccx33", stacks_dir=stacks)
    assert victim.read_text() == "keep me\n"
    assert read_manifest(stack_dir).profile == "ccx33"  # rewritten whole

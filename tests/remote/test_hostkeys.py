"""Pinned host keys: made by generate, outside the repo, 0600, reaching terraform only by env."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
import yaml
from click.testing import CliRunner

from cli import cli
from errors import ConfigError
from remote import hostkeys
from sandbox.machines import cloudinit


def test_fingerprint_matches_ssh_keygen(tmp_path):
    key, created = hostkeys.ensure("production", "web-1", tmp_path)
    assert created
    if not shutil.which("ssh-keygen"):
        pytest.fail("ssh-keygen (openssh-client) is a test dependency")
    out = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "production" / "web-1" / hostkeys.PUBLIC_NAME)],
                         capture_output=True, text=True, check=True).stdout
    assert out.split()[1] == key.fingerprint
    # ssh-keygen derives the same public key from the private file: the pair is consistent.
    derived = subprocess.run(["ssh-keygen", "-y", "-f", str(tmp_path / "production" / "web-1" / hostkeys.PRIVATE_NAME)],
                             capture_output=True, text=True, check=True).stdout.split()[:2]
    assert " ".join(derived) == key.public


def test_modes_and_idempotence(tmp_path):
    key, _ = hostkeys.ensure("production", "web-1", tmp_path)
    again, created = hostkeys.ensure("production", "web-1", tmp_path)
    assert not created and again.public == key.public
    for folder in (tmp_path, tmp_path / "production", tmp_path / "production" / "web-1"):
        assert folder.stat().st_mode & 0o777 == 0o700
    for name in (hostkeys.PRIVATE_NAME, hostkeys.PUBLIC_NAME):
        assert (tmp_path / "production" / "web-1" / name).stat().st_mode & 0o777 == 0o600
    assert "PRIVATE" not in repr(key)


def test_a_loose_private_key_is_refused(tmp_path):
    hostkeys.ensure("production", "web-1", tmp_path)
    os.chmod(tmp_path / "production" / "web-1" / hostkeys.PRIVATE_NAME, 0o644)
    with pytest.raises(ConfigError, match="mode 0644; it must be 0600"):
        hostkeys.load("production", "web-1", tmp_path)


@pytest.mark.parametrize("bad", ["../etc", "", "A B", "x/y"])
def test_names_cannot_escape_the_store(tmp_path, bad):
    with pytest.raises(ConfigError, match="not a valid name"):
        hostkeys.ensure("production", bad, tmp_path)


def test_terraform_env_carries_every_key(tmp_path):
    a, _ = hostkeys.ensure("production", "web-1", tmp_path)
    hostkeys.ensure("staging", "web-2", tmp_path)
    value = json.loads(hostkeys.terraform_env("production", tmp_path)[hostkeys.TF_VAR])
    assert value == {"web-1": {"private_key": a.private_openssh, "public_key": a.public}}


def test_generate_pins_a_key_outside_the_stack(make_config, tmp_path, monkeypatch):
    keys = tmp_path / "keys"
    monkeypatch.setenv("HETZNER_DEPLOY_KEYS_DIR", str(keys))
    stacks = tmp_path / "stacks"
    result = CliRunner().invoke(cli, ["generate", "--profile", "ccx33", "--config", str(make_config()),
                                      "--stacks-dir", str(stacks)])
    assert result.exit_code == 0, result.output
    assert "host key  autoscale-ai-production: created" in result.stdout
    key = hostkeys.load("production", "autoscale-ai-production", keys)
    assert key is not None
    body = key.private_openssh.splitlines()[1]
    for path in stacks.rglob("*"):
        if path.is_file():
            assert body not in path.read_text(encoding="utf-8"), path
    again = CliRunner().invoke(cli, ["generate", "--profile", "ccx33", "--config", str(make_config()),
                                     "--stacks-dir", str(stacks)])
    assert "host key" not in again.stdout
    assert hostkeys.load("production", "autoscale-ai-production", keys).public == key.public


def test_terraform_renders_the_key_into_cloud_init_and_the_machine_takes_it(make_config, tmp_path):
    """terraform's own templatefile() over the generated user-data, read by the sandbox machine."""
    stacks = tmp_path / "stacks"
    CliRunner().invoke(cli, ["generate", "--profile", "ccx33", "--config", str(make_config()),
                             "--stacks-dir", str(stacks)])
    key = hostkeys.load("production", "autoscale-ai-production")
    work = tmp_path / "tf"
    work.mkdir()
    shutil.copy(stacks / "production" / "user-data.yaml", work / "user-data.yaml")
    (work / "main.tf").write_text(
        'variable "host_keys" {\n  type = map(object({ private_key = string, public_key = string }))\n}\n'
        'output "ud" { value = templatefile("user-data.yaml", { volume_device = "/dev/sdb",\n'
        '  host_key_private = try(var.host_keys["autoscale-ai-production"].private_key, ""),\n'
        '  host_key_public = try(var.host_keys["autoscale-ai-production"].public_key, "") }) }\n')
    env = {**os.environ, **hostkeys.terraform_env("production"), "TF_CLI_CONFIG_FILE": os.devnull}
    for argv in (["terraform", "apply", "-auto-approve", "-input=false", "-no-color"],
                 ["terraform", "output", "-raw", "ud"]):
        done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    doc = yaml.safe_load(done.stdout)
    assert doc["ssh_keys"] == {"ed25519_private": key.private_openssh, "ed25519_public": key.public}
    plan = cloudinit.parse(done.stdout)
    assert plan.host_keys["ed25519"] == {"private": key.private_openssh, "public": key.public}
    # Without keys the user data has no ssh_keys at all (not an empty key file).
    env.pop(hostkeys.TF_VAR)
    env["TF_VAR_host_keys"] = "{}"
    subprocess.run(["terraform", "apply", "-auto-approve", "-input=false"], cwd=work, env=env,
                   capture_output=True, check=True, timeout=120)
    bare = subprocess.run(["terraform", "output", "-raw", "ud"], cwd=work, env=env,
                          capture_output=True, text=True, check=True).stdout
    assert "ssh_keys" not in yaml.safe_load(bare)

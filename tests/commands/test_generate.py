"""CLI behaviour of generate/check: exit codes, one-line errors, nothing written on bad input."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli import cli
from tests.conftest import BASE_TOML


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


def test_generate_then_check(make_config, tmp_path):
    config = make_config()
    stacks = tmp_path / "stacks"
    result = invoke("generate", "--profile", "ccx33", "--config", str(config),
                    "--stacks-dir", str(stacks), "--check")
    assert result.exit_code == 0, result.output
    assert "create    production/main.tf" in result.stdout
    assert "ok   up to date with templates" in result.stdout
    again = invoke("generate", "--profile", "ccx33", "--config", str(config),
                   "--stacks-dir", str(stacks))
    assert again.exit_code == 0
    assert "identical production/main.tf" in again.stdout
    assert invoke("check", "--config", str(config), "--stacks-dir", str(stacks)).exit_code == 0


def test_generate_dry_run_writes_nothing(make_config, tmp_path):
    result = invoke("generate", "--profile", "ccx43", "--config", str(make_config()),
                    "--stacks-dir", str(tmp_path / "stacks"), "--dry-run")
    assert result.exit_code == 0
    assert "(would write)" in result.stdout
    assert not (tmp_path / "stacks").exists()


def test_profile_defaults_to_the_recommendation(make_config, tmp_path):
    config = make_config(BASE_TOML.replace("calls_per_month = 3000", "calls_per_month = 9000"))
    result = invoke("generate", "--config", str(config), "--stacks-dir", str(tmp_path / "s"))
    assert result.exit_code == 0, result.output
    assert "profile ccx43 (recommended for 9000 calls/month)" in result.stdout


def test_check_fails_on_a_stale_stack(make_config, tmp_path):
    config = make_config()
    stacks = tmp_path / "stacks"
    assert invoke("generate", "--profile", "ccx33", "--config", str(config),
                  "--stacks-dir", str(stacks)).exit_code == 0
    # deploy.toml changes after generate: the stack no longer matches it.
    config.write_text(config.read_text().replace("volume_size_gb = 50", "volume_size_gb = 80"))
    result = invoke("check", "--config", str(config), "--stacks-dir", str(stacks))
    assert result.exit_code == 3
    assert result.stderr.strip().splitlines() == [
        "error: check failed: up to date with templates: production/terraform.tfvars: "
        "stale, differs from what `generate` writes now (+1 more)"]
    assert "production/manifest.json: stale" in result.stdout  # its hash of the tfvars


def test_check_names_a_hand_edited_file(make_config, tmp_path):
    config = make_config()
    stacks = tmp_path / "stacks"
    assert invoke("generate", "--profile", "ccx33", "--config", str(config),
                  "--stacks-dir", str(stacks)).exit_code == 0
    tfvars = stacks / "production" / "terraform.tfvars"
    tfvars.write_text(tfvars.read_text().replace("= 50", "= 80"))
    result = invoke("check", "--config", str(config), "--stacks-dir", str(stacks))
    assert result.exit_code == 3
    assert result.stderr.strip().splitlines() == [
        "error: check failed: files (manifest.json or *.local.tf): production/terraform.tfvars: "
        "edited since `generate` (its sha256 differs from manifest.json) (+1 more)"]
    assert "production/terraform.tfvars: stale" in result.stdout


def test_open_ssh_warns(make_config, tmp_path):
    config = make_config(BASE_TOML.replace('["203.0.113.7/32"]', '["0.0.0.0/0"]'))
    result = invoke("generate", "--profile", "ccx33", "--config", str(config),
                    "--stacks-dir", str(tmp_path / "s"))
    assert result.exit_code == 0
    assert "SSH (port 22) is open to the world" in result.stderr


BAD_INPUT = [
    (["--profile", "ccx99"], BASE_TOML, True, "Invalid value for '--profile'"),
    ([], BASE_TOML.replace("calls_per_month = 3000", "calls_per_month = -1"), True,
     "traffic.calls_per_month: must not be negative"),
    ([], BASE_TOML.replace("calls_per_month = 3000", 'calls_per_month = "many"'), True,
     "traffic.calls_per_month: must be a whole number"),
    ([], "[project\n", True, "invalid TOML"),
    ([], BASE_TOML + "\n[hetzner.extra]\n", True, "unknown key hetzner.extra"),
    ([], BASE_TOML, False, "ssh.public_key: file not found"),
    ([], BASE_TOML.replace('"203.0.113.7/32"', '"203.0.113.300/32"'), True,
     "ssh.allow: '203.0.113.300/32' is not a network in CIDR notation"),
    ([], BASE_TOML.replace("volume_size_gb = 50", "volume_size_gb = 9"), True,
     "storage.volume_size_gb: must be between 10 and 10240 GB"),
    ([], BASE_TOML.replace('location = "nbg1"', 'location = "fra1"'), True,
     "hetzner.location: unknown location 'fra1'"),
    (["--env", "Prod!"], BASE_TOML, True, "--env: must be lowercase"),
]


@pytest.mark.parametrize("args,toml,with_key,needle", BAD_INPUT)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, make_config, args, toml,
                                                   with_key, needle):
    config = make_config(toml, key=None) if not with_key else make_config(toml)
    stacks = tmp_path / "stacks"
    result = invoke("generate", "--config", str(config), "--stacks-dir", str(stacks), *args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines
    assert not stacks.exists()


def test_a_stray_file_fails_check_and_generate_names_it(make_config, tmp_path):
    config = make_config()
    stacks = tmp_path / "stacks"
    assert invoke("generate", "--profile", "ccx33", "--config", str(config),
                  "--stacks-dir", str(stacks)).exit_code == 0
    (stacks / "production" / "network.tf").write_text("# left over\n")
    (stacks / "production" / "dns.local.tf").write_text("# mine\n")
    again = invoke("generate", "--profile", "ccx33", "--config", str(config),
                   "--stacks-dir", str(stacks))
    assert again.exit_code == 0
    assert "kept      production/dns.local.tf (hand-written)" in again.stdout
    assert "unknown   production/network.tf (not generated" in again.stdout
    result = invoke("check", "--config", str(config), "--stacks-dir", str(stacks))
    assert result.exit_code == 3
    assert result.stderr.strip().splitlines() == [
        "error: check failed: files (manifest.json or *.local.tf): production/network.tf: "
        "not generated (not in manifest.json); delete it, or rename it to *.local.tf to keep "
        "it as hand-written"]
    assert "note: production/dns.local.tf: hand-written, kept as is" in result.stdout


def test_generate_reports_delete_for_files_it_no_longer_renders(make_config, tmp_path):
    import hashlib
    import json
    config = make_config()
    stacks = tmp_path / "stacks"
    invoke("generate", "--profile", "ccx33", "--config", str(config), "--stacks-dir", str(stacks))
    stack = stacks / "production"
    (stack / "network.tf").write_text("# rendered by an older profile\n")
    doc = json.loads((stack / "manifest.json").read_text())
    doc["files"]["network.tf"] = hashlib.sha256((stack / "network.tf").read_bytes()).hexdigest()
    (stack / "manifest.json").write_text(json.dumps(doc))
    result = invoke("generate", "--profile", "ccx33", "--config", str(config),
                    "--stacks-dir", str(stacks))
    assert result.exit_code == 0, result.output
    assert "delete    production/network.tf (rendered before, not by this profile)" in result.stdout
    assert not (stack / "network.tf").exists()
    assert invoke("check", "--config", str(config), "--stacks-dir", str(stacks)).exit_code == 0

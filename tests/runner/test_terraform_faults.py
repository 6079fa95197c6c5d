"""A terraform that is not one: one line and exit 4 through the CLI, never a traceback or hang.

Each fake is a small shell script reached through TERRAFORM_BIN, as a user's
broken install would be.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import cli
from errors import TerraformError
from runner.terraform import Terraform, terraform_env, version_of
from tests.runner.conftest import SECRET, write_full_stack
from tests.runner.test_process import wait_gone

GOOD_VERSION = """echo '{"terraform_version": "1.11.4"}'"""

FAKES = {
    # bytes that are neither text nor JSON, exit 0, whatever the subcommand
    "garbage": "printf '\\377\\376\\001garbage \\033[31m\\000 more'\nexit 0",
    # a valid version, then nothing at all on stdout, exit 0
    "no-json": f'if [ "$1" = version ]; then {GOOD_VERSION}; fi\nexit 0',
    # Terraform before 0.13 ignores -json and prints text
    "too-old": "echo 'Terraform v0.12.31'\necho\necho 'Your version of Terraform is out of date!'",
    # answers version, then never returns
    "hangs": f'if [ "$1" = version ]; then {GOOD_VERSION}; exit 0; fi\n'
             'echo $$ > "$(dirname "$0")/pid"\nexec sleep 600',
    # never returns, not even to version
    "hangs-on-version": 'echo $$ > "$(dirname "$0")/pid"\nexec sleep 600',
}


def fake(tmp_path: Path, kind: str) -> Path:
    folder = tmp_path / "fake-bin"
    folder.mkdir(exist_ok=True)
    path = folder / "terraform"
    path.write_text("#!/bin/sh\n" + FAKES[kind] + "\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def cli_with(tmp_path, make_config, monkeypatch):
    stacks = tmp_path / "stacks"
    write_full_stack(stacks / "production")
    config = make_config()
    monkeypatch.setenv("TARGET", "hetzner")
    monkeypatch.setenv("HCLOUD_TOKEN", SECRET)
    monkeypatch.setenv("HCLOUD_ENDPOINT", "http://127.0.0.1:9/v1")

    def invoke(kind: str, *args: str):
        monkeypatch.setenv("TERRAFORM_BIN", str(fake(tmp_path, kind)))
        result = CliRunner().invoke(cli, [*args, "--stacks-dir", str(stacks),
                                          "--config", str(config)])
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output
        assert len(errors) == 1, result.output
        return result.exit_code, errors[0]
    return invoke


@pytest.mark.parametrize("command", [["plan"], ["outputs"], ["apply", "--auto-approve"]])
def test_garbage_binary(cli_with, command):
    code, line = cli_with("garbage", *command)
    assert code == 4
    assert "does not look like Terraform" in line and "Terraform ≥ 1.5 needed" in line


def test_exit_0_without_json_on_plan(cli_with):
    code, line = cli_with("no-json", "plan")
    assert code == 4 and "error: terraform plan printed no JSON" in line


def test_too_old_for_json(cli_with):
    code, line = cli_with("too-old", "plan")
    assert code == 4 and "Terraform ≥ 1.5 needed, found 0.12.31" in line


@pytest.mark.parametrize("kind, what", [("hangs", "terraform init"),
                                        ("hangs-on-version", "terraform version")])
def test_never_returns(cli_with, monkeypatch, tmp_path, kind, what):
    monkeypatch.setenv("HETZNER_DEPLOY_TERRAFORM_TIMEOUT", "1")
    code, line = cli_with(kind, "plan")
    assert code == 4 and f"{what}: no answer within 1s; stopped it" in line
    assert wait_gone(int((tmp_path / "fake-bin" / "pid").read_text()))


@pytest.mark.parametrize("method, what", [("show", "show"), ("output", "output"),
                                          ("state_pull", "state pull")])
def test_no_json_from_read_commands(tmp_path, method, what):
    tf = Terraform(tmp_path, terraform_env(), binary=str(fake(tmp_path, "garbage")))
    with pytest.raises(TerraformError) as err:
        getattr(tf, method)()
    assert f"terraform {what} printed no JSON" in str(err.value)
    assert "\n" not in str(err.value)


def test_plan_exit_0_without_a_plan_file(tmp_path):
    # JSON on stdout, exit 0, but no plan written: not silently "no changes".
    path = fake(tmp_path, "no-json")
    path.write_text('#!/bin/sh\necho \'{"type": "version", "@level": "info"}\'\nexit 0\n')
    tf = Terraform(tmp_path, terraform_env(), binary=str(path))
    with pytest.raises(TerraformError, match="wrote no plan file"):
        tf.plan(tmp_path / "p.tfplan")


def test_version_of_honours_terraform_bin(tmp_path, monkeypatch):
    monkeypatch.setenv("TERRAFORM_BIN", str(fake(tmp_path, "too-old")))
    with pytest.raises(TerraformError, match="found 0.12.31"):
        version_of()

"""plan/apply/outputs/destroy/deploy through click, on a terraform_data stack.

TARGET=hetzner with a token and a 127.0.0.1 endpoint selects the real-target
code path (work in place, no sandbox); terraform_data never calls the endpoint. Tests that run terraform
init/plan/apply are marked e2e; refusals that stop before terraform stay quick.
"""
import json

import pytest
from click.testing import CliRunner

from cli import cli
from tests.runner.conftest import SECRET, write_full_stack

ENV = "production"


@pytest.fixture
def run(tmp_path, make_config, monkeypatch):
    stacks = tmp_path / "stacks"
    write_full_stack(stacks / ENV)
    config = make_config()
    monkeypatch.setenv("TARGET", "hetzner")
    monkeypatch.setenv("HCLOUD_TOKEN", SECRET)
    monkeypatch.setenv("HCLOUD_ENDPOINT", "http://127.0.0.1:9/v1")

    def invoke(*args, input=None):
        argv = [*args, "--stacks-dir", str(stacks), "--config", str(config)]
        return CliRunner().invoke(cli, argv, input=input)
    invoke.stacks = stacks
    return invoke


def _all(result):
    return result.output + (result.stderr if result.stderr_bytes is not None else "")


@pytest.mark.e2e
def test_plan_formats_and_no_secret_anywhere(run):
    text = run("plan")
    assert text.exit_code == 0, text.output
    assert "+ terraform_data.volume: create" in text.output
    assert "init: ran (first run in this directory)" in text.output
    again = run("plan", "--markdown")
    assert again.exit_code == 0 and "init: skipped" in again.output
    assert "| create | `terraform_data.server` |" in again.output
    as_json = run("plan", "--json")
    doc = json.loads(as_json.stdout)
    assert doc["counts"]["create"] == 2 and doc["has_changes"] is True
    for result in (text, again, as_json):
        assert SECRET not in _all(result)


@pytest.fixture
def tty(monkeypatch):
    monkeypatch.setattr("commands.terraform.stdin_is_tty", lambda: True)


@pytest.mark.e2e
def test_apply_without_terminal_needs_auto_approve(run):
    assert run("plan").exit_code == 0
    result = run("apply")
    assert result.exit_code == 7 and "rerun with --auto-approve" in result.output


@pytest.mark.e2e
def test_apply_needs_yes_then_applies_and_outputs(run, tty):
    assert run("plan").exit_code == 0
    no = run("apply", input="no\n")
    assert no.exit_code == 7 and "not confirmed" in no.output
    assert run("plan").exit_code == 0
    yes = run("apply", input="yes\n")
    assert yes.exit_code == 0, yes.output
    assert "terraform_data.server: Creation complete" in yes.output
    assert SECRET not in yes.output
    out = run("outputs", "--json")
    assert json.loads(out.stdout)["hosts"][0]["name"] == "demo-small"
    text = run("outputs")
    assert ("all-in-one   demo-small  203.0.113.9  2001:db8::9  volume "
            "/dev/disk/by-id/scsi-0HC_Volume_12") in text.output.splitlines()


def test_apply_without_plan_is_one_line(run):
    result = run("apply", "--auto-approve")
    assert result.exit_code == 7
    errors = [l for l in result.output.splitlines() if l.startswith("error:")]
    assert errors == ["error: no saved plan for production: run `hetzner-deploy plan "
                      "--env production` first"]
    assert "Traceback" not in result.output


def test_outputs_before_apply_names_what_exists(run):
    result = run("outputs")
    assert result.exit_code == 4
    (error,) = [l for l in result.output.splitlines() if l.startswith("error:")]
    assert error.startswith("error: stack outputs missing: hosts, volume_id, ssh_key_id; ")
    assert error.endswith("; outputs present: none (has the stack been applied?)")


@pytest.mark.e2e
def test_destroy_confirmation(run, tty):
    assert run("plan").exit_code == 0 and run("apply", "--auto-approve").exit_code == 0
    wrong = run("destroy", input="prod\n")
    assert wrong.exit_code == 7 and "does not match" in wrong.output
    done = run("destroy", "--confirm", ENV)
    assert done.exit_code == 0, done.output
    assert "destroyed: 2 resource(s)" in done.output
    assert json.loads((run.stacks / ENV / "terraform.tfstate").read_text())["resources"] == []


@pytest.mark.e2e
def test_terraform_error_is_one_line_with_exit_4(run):
    (run.stacks / ENV / "broken.tf").write_text('output "x" { value = var.nope }\n')
    result = run("plan")
    assert result.exit_code == 4
    assert "error: terraform plan failed (exit 1): Reference to undeclared input variable" \
        in result.output
    assert "Traceback" not in result.output


def test_hetzner_target_without_token_fails_clearly(run, monkeypatch):
    monkeypatch.delenv("HCLOUD_TOKEN")
    result = run("plan")
    assert result.exit_code == 2 and "TARGET=hetzner needs HCLOUD_TOKEN" in result.output


def test_destroy_without_terminal_needs_confirm_flag(run):
    result = run("destroy")
    assert result.exit_code == 7 and "pass --confirm production" in result.output


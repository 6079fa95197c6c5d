import json
import os
import stat
from pathlib import Path

import pytest

from errors import TerraformError
from runner.terraform import (MIN_VERSION, Terraform, build_argv, parse_version,
                              terraform_env)


@pytest.mark.parametrize("op, kwargs, expected", [
    ("version", {}, ["terraform", "version", "-json"]),
    ("init", {}, ["terraform", "init", "-input=false", "-no-color"]),
    ("init", {"reconfigure": True, "lock_timeout": "60s"},
     ["terraform", "init", "-input=false", "-no-color", "-reconfigure", "-lock-timeout=60s"]),
    ("plan", {"planfile": "p.tfplan"},
     ["terraform", "plan", "-json", "-input=false", "-out=p.tfplan"]),
    ("plan", {"planfile": "p.tfplan", "detailed_exitcode": True, "lock_timeout": "5s"},
     ["terraform", "plan", "-json", "-input=false", "-detailed-exitcode",
      "-lock-timeout=5s", "-out=p.tfplan"]),
    ("plan-destroy", {"planfile": "d.tfplan", "detailed_exitcode": True},
     ["terraform", "plan", "-json", "-input=false", "-destroy", "-detailed-exitcode",
      "-out=d.tfplan"]),
    ("plan-refresh-only", {"planfile": "r.tfplan", "detailed_exitcode": True},
     ["terraform", "plan", "-json", "-input=false", "-refresh-only", "-detailed-exitcode",
      "-out=r.tfplan"]),
    ("apply", {"planfile": "p.tfplan"},
     ["terraform", "apply", "-json", "-input=false", "p.tfplan"]),
    ("apply", {"planfile": "p.tfplan", "lock_timeout": "60s"},
     ["terraform", "apply", "-json", "-input=false", "-lock-timeout=60s", "p.tfplan"]),
    ("show", {"planfile": "p.tfplan"}, ["terraform", "show", "-json", "p.tfplan"]),
    ("show", {}, ["terraform", "show", "-json"]),
    ("output", {}, ["terraform", "output", "-json"]),
    ("state-pull", {}, ["terraform", "state", "pull"]),
    ("version", {"binary": "/opt/tf"}, ["/opt/tf", "version", "-json"]),
    ("fmt", {"paths": ["/tmp/stage"]}, ["terraform", "fmt", "-list=false", "-no-color",
                                        "/tmp/stage"]),
    ("fmt", {"fmt_check": True, "paths": ["."]},
     ["terraform", "fmt", "-check", "-recursive", "-list=true", "-no-color", "."]),
])
def test_build_argv_table(op, kwargs, expected):
    assert build_argv(op, **kwargs) == expected


@pytest.mark.parametrize("op, kwargs", [
    ("apply", {}),           # apply never runs without a saved plan
    ("plan", {}),            # a plan is always saved
    ("destroy", {}),         # destroy goes through plan-destroy + apply
    ("import", {}),
])
def test_build_argv_refuses(op, kwargs):
    with pytest.raises(ValueError):
        build_argv(op, **kwargs)


def test_no_argv_ever_carries_auto_approve_or_force():
    for op in ("init", "plan", "plan-destroy", "apply", "show", "output"):
        argv = build_argv(op, planfile="x")
        assert "-auto-approve" not in argv and "-force" not in argv


def test_env_defaults_silence_cli_config_warning():
    env = terraform_env()
    assert env["TF_IN_AUTOMATION"] == "1" and env["CHECKPOINT_DISABLE"] == "1"
    assert env["TF_INPUT"] == "0" and env["TF_CLI_CONFIG_FILE"] == os.devnull
    assert terraform_env("/x/cli.tfrc", {"A": "b"})["TF_CLI_CONFIG_FILE"] == "/x/cli.tfrc"
    assert terraform_env(extra={"A": "b"})["A"] == "b"


def test_parse_version():
    assert parse_version('{"terraform_version": "1.11.4"}') == (1, 11, 4)
    assert parse_version('{"terraform_version": "1.6.0-beta1"}') == (1, 6, 0)
    # before 0.13, `version -json` ignored -json and printed text
    assert parse_version("Terraform v0.12.31\n\nYour version is out of date") == (0, 12, 31)


@pytest.mark.parametrize("text", ["", "garbage", "{}", '{"terraform_version": 3}', "[1]",
                                  '{"terraform_version": "1.x"}', "Terraform vX"])
def test_parse_version_refuses_what_is_not_a_version(text):
    with pytest.raises(ValueError):
        parse_version(text)


def test_real_terraform_version_is_supported(tmp_path):
    assert Terraform(tmp_path, terraform_env()).version() >= MIN_VERSION


def test_missing_binary_is_one_clear_line(tmp_path):
    tf = Terraform(tmp_path, terraform_env(), binary="terraform-not-installed-here")
    with pytest.raises(TerraformError) as err:
        tf.version()
    assert "not found" in str(err.value) and "\n" not in str(err.value)


def _fake_terraform(tmp_path: Path, version: str) -> str:
    fake = tmp_path / "old-terraform"
    fake.write_text("#!/bin/sh\necho '" + json.dumps({"terraform_version": version}) + "'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return str(fake)


def test_too_old_version_is_refused(tmp_path):
    tf = Terraform(tmp_path, terraform_env(), binary=_fake_terraform(tmp_path, "1.4.7"))
    with pytest.raises(TerraformError) as err:
        tf.version()
    assert "Terraform ≥ 1.5 needed, found 1.4.7" in str(err.value)


def test_import_argv_ends_options_before_the_address_and_id():
    assert build_argv("import", args=("hcloud_firewall.main", "42"), lock_timeout="60s") == [
        "terraform", "import", "-input=false", "-no-color", "-lock-timeout=60s", "--",
        "hcloud_firewall.main", "42"]
    with pytest.raises(ValueError, match="address and an id"):
        build_argv("import", args=("hcloud_firewall.main",))

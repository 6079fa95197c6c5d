"""Local prerequisites and security warnings (no API involved)."""
from __future__ import annotations

import os
import stat
from datetime import date

import pytest

from checks import prerequisites
from checks import security
from checks.base import FAIL, NOT_CHECKED, OK, WARN
from runner.process import run


def _keypair(tmp_path, passphrase: str):
    key = tmp_path / "id_test"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-f", str(key), "-C", "t"])
    return key


@pytest.mark.parametrize("passphrase,status", [("", WARN), ("s3cret-phrase", OK)])
def test_passphrase_detection(tmp_path, passphrase, status):
    key = _keypair(tmp_path, passphrase)
    pub, phrase = prerequisites.check_ssh_key(key.with_suffix(".pub"))
    assert pub.status == OK
    assert phrase.status == status
    if status == WARN:
        assert phrase.action == f"ssh-keygen -p -f {key}"


def test_passphrase_detection_agrees_with_ssh_keygen(tmp_path):
    for phrase in ("", "x-y-z-1234"):
        sub = tmp_path / (phrase or "none")
        sub.mkdir()
        key = _keypair(sub, phrase)
        asked = run(["ssh-keygen", "-y", "-P", "", "-f", str(key)], check=False)
        assert prerequisites.private_key_has_passphrase(key) is (asked.returncode != 0)


def test_missing_public_key_fails_with_the_command_to_make_one(tmp_path):
    (check,) = prerequisites.check_ssh_key(tmp_path / "nope.pub")
    assert check.status == FAIL
    assert check.action.startswith(f"ssh-keygen -t ed25519 -f {tmp_path / 'nope'}")


def test_private_key_missing_is_not_checked(tmp_path):
    (tmp_path / "k.pub").write_text("ssh-ed25519 AAAA t\n")
    _, phrase = prerequisites.check_ssh_key(tmp_path / "k.pub")
    assert phrase.status == NOT_CHECKED


def test_env_file_missing_is_a_warning(tmp_path):
    (check,) = prerequisites.check_env_file(tmp_path / ".env")
    assert check.status == WARN and "chmod 600" in check.action


def test_env_file_mode_and_git_tracking(tmp_path):
    run(["git", "init", "-q", str(tmp_path)])
    env = tmp_path / ".env"
    env.write_text("SECRET=1\n")
    env.chmod(0o644)
    present, git, mode = prerequisites.check_env_file(env)
    assert (present.status, git.status, mode.status) == (OK, OK, WARN)
    assert mode.action == f"chmod 600 {env}"
    run(["git", "-C", str(tmp_path), "add", "-f", ".env"])
    env.chmod(0o600)
    _, git, mode = prerequisites.check_env_file(env)
    assert git.status == FAIL and git.action == f"git rm --cached {env}"
    assert mode.status == OK


def test_env_file_outside_git_is_not_checked(tmp_path):
    env = tmp_path / ".env"
    env.write_text("A=1\n")
    os.chmod(env, stat.S_IRUSR | stat.S_IWUSR)
    _, git, _ = prerequisites.check_env_file(env)
    assert git.status == NOT_CHECKED


def test_terraform_version_found():
    check = prerequisites.check_terraform()
    assert check.status == OK and prerequisites._version_tuple(check.detail) >= (1, 5)


def test_terraform_missing_and_too_old(tmp_path):
    assert prerequisites.check_terraform(str(tmp_path / "no-terraform")).status == FAIL
    old = tmp_path / "terraform"
    old.write_text('#!/bin/sh\necho \'{"terraform_version": "1.4.7"}\'\n')
    old.chmod(0o755)
    check = prerequisites.check_terraform(str(old))
    assert check.status == FAIL and "1.4.7" in check.detail


def test_stack_check():
    assert prerequisites.check_stack(None, "production").status == NOT_CHECKED
    stale = prerequisites.check_stack(lambda: ["main.tf"], "production")
    assert stale.status == WARN and "main.tf" in stale.detail
    assert stale.action == "hetzner-deploy generate --env production"
    assert prerequisites.check_stack(lambda: [], "production").status == OK


def test_ssh_open_to_world_warns():
    assert security.check_ssh_allow(("0.0.0.0/0",)).status == WARN
    assert security.check_ssh_allow(("::/0", "203.0.113.7/32")).status == WARN
    assert security.check_ssh_allow(("203.0.113.7/32",)).status == OK


@pytest.mark.parametrize("created,status", [
    ("2026-01-01", WARN), ("2026-11-01", OK), ("01/11/2026", WARN), ("", NOT_CHECKED)])
def test_token_age(created, status):
    env = {"HCLOUD_TOKEN_CREATED": created} if created else {}
    check = security.check_token_age(env, sandbox=False, today=date(2026, 11, 25))
    assert check.status == status
    if not created:
        assert "rotate" in check.detail


def test_token_age_not_checked_for_sandbox():
    env = {"HCLOUD_TOKEN_CREATED": "2020-01-01"}
    assert security.check_token_age(env, sandbox=True).status == NOT_CHECKED

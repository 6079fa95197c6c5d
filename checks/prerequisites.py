"""Local prerequisites of a deploy: Terraform, the SSH key, .env, the stack.

Each function returns one Check and never raises for an expected problem.
"""
from __future__ import annotations

import base64
import re
import stat
from pathlib import Path
from typing import Callable

from errors import CommandError, DeployError
from checks.base import FAIL, NOT_CHECKED, OK, WARN, Check
from runner.process import run

MIN_TERRAFORM = (1, 5)
SECTION = "prerequisites"


def _version_tuple(text: str) -> tuple[int, ...] | None:
    m = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text.strip())
    return tuple(int(g) for g in m.groups() if g is not None) if m else None


def check_terraform(binary: str | None = None) -> Check:
    """`binary` None: TERRAFORM_BIN, else terraform on PATH (runner.terraform decides)."""
    from runner import terraform
    name = f"Terraform >= {'.'.join(map(str, MIN_TERRAFORM))}"
    try:
        found = terraform.version_of(binary)
    except CommandError as exc:
        if "not found" in str(exc):
            return Check(SECTION, name, FAIL, "terraform not found on PATH",
                         "install Terraform 1.5 or newer and put it on PATH")
        return Check(SECTION, name, FAIL, str(exc), "install Terraform 1.5 or newer")
    return Check(SECTION, name, OK, ".".join(map(str, found)))


def _openssh_cipher(text: str) -> str | None:
    """The cipher field of an OpenSSH-format private key ("none" = no passphrase)."""
    m = re.search(r"-----BEGIN OPENSSH PRIVATE KEY-----(.*?)-----END OPENSSH PRIVATE KEY-----",
                  text, re.S)
    if not m:
        return None
    try:
        blob = base64.b64decode("".join(m.group(1).split()))
    except ValueError:
        return None
    magic = b"openssh-key-v1\x00"
    if not blob.startswith(magic) or len(blob) < len(magic) + 4:
        return None
    size = int.from_bytes(blob[len(magic):len(magic) + 4], "big")
    start = len(magic) + 4
    return blob[start:start + size].decode("ascii", "replace")


def private_key_has_passphrase(private: Path) -> bool | None:
    """True/False when it can tell, None when it cannot.

    The OpenSSH format states its cipher in clear; legacy PEM keys say
    ENCRYPTED in a header; anything else is asked of `ssh-keygen -y -P ""`,
    which succeeds only for a key without a passphrase.
    """
    try:
        text = private.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    cipher = _openssh_cipher(text)
    if cipher is not None:
        return cipher != "none"
    if "-----BEGIN" in text and "PRIVATE KEY-----" in text:
        if "ENCRYPTED" in text:
            return True
    try:
        done = run(["ssh-keygen", "-y", "-P", "", "-f", str(private)], check=False, timeout=10)
    except CommandError:
        return None
    return done.returncode != 0


def check_ssh_key(public: Path) -> list[Check]:
    public = Path(public).expanduser()
    if not public.is_file():
        stem = public.with_suffix("") if public.suffix == ".pub" else public
        return [Check(SECTION, "SSH public key", FAIL, f"not found: {public}",
                      f'ssh-keygen -t ed25519 -f {stem} -C "hetzner-deploy"')]
    checks = [Check(SECTION, "SSH public key", OK, str(public))]
    private = public.with_suffix("") if public.suffix == ".pub" else None
    if private is None or not private.is_file():
        checks.append(Check(SECTION, "SSH key passphrase", NOT_CHECKED,
                            "private key not found next to the public key"))
        return checks
    protected = private_key_has_passphrase(private)
    if protected is None:
        checks.append(Check(SECTION, "SSH key passphrase", NOT_CHECKED,
                            f"could not tell whether {private} has a passphrase"))
    elif protected:
        checks.append(Check(SECTION, "SSH key passphrase", OK, "private key is encrypted"))
    else:
        checks.append(Check(SECTION, "SSH key passphrase", WARN,
                            f"{private} has no passphrase",
                            f"ssh-keygen -p -f {private}"))
    return checks


def _git_tracked(path: Path) -> bool | None:
    try:
        done = run(["git", "ls-files", "--error-unmatch", "--", path.name],
                   cwd=path.parent, check=False, timeout=10)
    except CommandError:
        return None
    if done.returncode == 0:
        return True
    if "not a git repository" in done.stderr.lower():
        return None
    return False


def check_env_file(env_path: Path) -> list[Check]:
    """.env: present, untracked, private. Missing is a warning: infra needs no .env."""
    if not env_path.is_file():
        return [Check(SECTION, ".env file", WARN, f"not found: {env_path} "
                      "(the app phase needs it)",
                      f"create {env_path} with the app's secrets, then chmod 600 {env_path}")]
    checks = [Check(SECTION, ".env file", OK, str(env_path))]
    tracked = _git_tracked(env_path)
    if tracked:
        checks.append(Check(SECTION, ".env not in git", FAIL, "tracked by git: secrets in history",
                            f"git rm --cached {env_path}"))
    elif tracked is None:
        checks.append(Check(SECTION, ".env not in git", NOT_CHECKED, "not a git work tree"))
    else:
        checks.append(Check(SECTION, ".env not in git", OK, "untracked"))
    mode = stat.S_IMODE(env_path.stat().st_mode)
    if mode & 0o077:
        checks.append(Check(SECTION, ".env mode 0600", WARN,
                            f"mode {mode:04o}: readable by others",
                            f"chmod 600 {env_path}"))
    else:
        checks.append(Check(SECTION, ".env mode 0600", OK, f"mode {mode:04o}"))
    return checks


def check_stack(stale: Callable[[], list[str]] | None, env: str) -> Check:
    """`stale` is generator.freshness.stale_files bound to the config (None: not available)."""
    name = "Stack generated and up to date"
    if stale is None:
        return Check(SECTION, name, NOT_CHECKED, "stack generator not available")
    try:
        files = stale()
    except (DeployError, OSError) as exc:
        return Check(SECTION, name, FAIL, f"could not compare the stack: {exc}",
                     f"hetzner-deploy generate --env {env}")
    if files:
        # A warning, not a blocker: `deploy` regenerates the stack right after
        # preflight; generating first only lets the team review the diff.
        shown = ", ".join(files[:4]) + (" …" if len(files) > 4 else "")
        return Check(SECTION, name, WARN, f"{len(files)} file(s) missing or stale: {shown}",
                     f"hetzner-deploy generate --env {env}")
    return Check(SECTION, name, OK, f"terraform/stacks/{env}/")

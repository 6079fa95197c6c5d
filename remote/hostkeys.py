"""Pinned SSH host keys: generated here, so the first connection is already verified.

`generate` creates an ed25519 host key per server before the server exists. The
private half reaches the server only through cloud-init's `ssh_keys`, and only at
plan/apply time: `terraform_env()` hands the keys to terraform as the sensitive
variable TF_VAR_host_keys. We chose an environment variable over a tfvars file
because the stack directory is committed and the sandbox copies it; a variable
in the process environment never lands in a stack file. The plan and the state
do hold it (user_data), and both are already treated as secrets (0600, redacted).

Keys live OUTSIDE the repository: $HETZNER_DEPLOY_KEYS_DIR, else
$XDG_STATE_HOME/hetzner-deploy/hostkeys (~/.local/state/...), one 0700 folder per
environment and server, the private key 0600. The known_hosts line built from
the public half is all the SSH layer trusts (remote/ssh.py).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from errors import ConfigError
from runner.workspace import private_dir, write_private

PRIVATE_NAME = "ssh_host_ed25519_key"
PUBLIC_NAME = "ssh_host_ed25519_key.pub"
TF_VAR = "TF_VAR_host_keys"
_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{0,62}$")


def keys_root(environ: Mapping[str, str] = os.environ) -> Path:
    if environ.get("HETZNER_DEPLOY_KEYS_DIR"):
        return Path(environ["HETZNER_DEPLOY_KEYS_DIR"])
    state = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "hetzner-deploy" / "hostkeys"


@dataclass(frozen=True)
class HostKey:
    server: str
    private_openssh: str   # PEM-like OpenSSH private key text; never printed
    public: str            # "ssh-ed25519 AAAA..."

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public)

    def known_hosts_line(self, address: str) -> str:
        return f"{address} {self.public}"

    def __repr__(self) -> str:   # keeps the private half out of tracebacks and logs
        return f"HostKey(server={self.server!r}, public={self.public!r})"


def fingerprint(public: str) -> str:
    """OpenSSH's SHA256 fingerprint of a public key line (as `ssh-keygen -lf` prints it)."""
    blob = base64.b64decode(public.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _check_name(value: str, what: str) -> str:
    if not _NAME.match(value or ""):
        raise ConfigError(f"host keys: {what} {value!r} is not a valid name")
    return value


def server_dir(env_name: str, server: str, root: Path | None = None) -> Path:
    return (root or keys_root()) / _check_name(env_name, "environment") / _check_name(server, "server")


def load(env_name: str, server: str, root: Path | None = None) -> HostKey | None:
    folder = server_dir(env_name, server, root)
    try:
        private = (folder / PRIVATE_NAME).read_text(encoding="ascii")
        public = (folder / PUBLIC_NAME).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    mode = (folder / PRIVATE_NAME).stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(f"host key {folder / PRIVATE_NAME} is mode {mode:04o}; "
                          f"it must be 0600 (chmod 600 it)")
    return HostKey(server, private, public)


def ensure(env_name: str, server: str, root: Path | None = None) -> tuple[HostKey, bool]:
    """The server's pinned key, created on first use; (key, created)."""
    existing = load(env_name, server, root)
    if existing is not None:
        return existing, False
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption()).decode("ascii")
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode("ascii")
    return pin(env_name, server, private, public, root), True


def pin(env_name: str, server: str, private: str, public: str,
        root: Path | None = None) -> HostKey:
    """Store a key pair (0700 folders, 0600 files, written atomically)."""
    root = root or keys_root()
    private_dir(root)
    private_dir(root / _check_name(env_name, "environment"))
    folder = private_dir(server_dir(env_name, server, root))
    if private:
        write_private(folder / PRIVATE_NAME, private)
    write_private(folder / PUBLIC_NAME, public.strip() + "\n")
    return HostKey(server, private, public.strip())


def pin_public(env_name: str, server: str, public: str, root: Path | None = None) -> HostKey:
    """Trust a public key seen on an adopted server (explicit flag only): no private half."""
    return pin(env_name, server, "", public, root)


def load_public(env_name: str, server: str, root: Path | None = None) -> str | None:
    try:
        return (server_dir(env_name, server, root) / PUBLIC_NAME).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None


def all_for(env_name: str, root: Path | None = None) -> dict[str, HostKey]:
    """Every server's key pair of an environment that has a private half."""
    folder = (root or keys_root()) / _check_name(env_name, "environment")
    found = {}
    if folder.is_dir():
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            key = load(env_name, sub.name, root)
            if key is not None and key.private_openssh:
                found[sub.name] = key
    return found


def ensure_for(config, profile, env_name: str | None = None,
               root: Path | None = None) -> dict[str, tuple[HostKey, bool]]:
    """A pinned key for every server the profile plans; {server: (key, created)}."""
    from generator.naming import server_types_by_name
    env_name = env_name or config.environment
    return {server: ensure(env_name, server, root) for server in server_types_by_name(config, profile)}


def terraform_env(env_name: str, root: Path | None = None) -> dict[str, str]:
    """TF_VAR_host_keys for terraform's environment (see the module docstring for why)."""
    keys = all_for(env_name, root)
    value = {name: {"private_key": k.private_openssh, "public_key": k.public}
             for name, k in keys.items()}
    return {TF_VAR: json.dumps(value, sort_keys=True)}

"""Which Hetzner Cloud a run talks to: the real one, or the local sandbox.

No HCLOUD_TOKEN means the sandbox, so a newcomer can run everything without
an account; TARGET=hetzner insists on the real API and fails without a token.

The two must never be confused, because the real target works in the
committed terraform/stacks/<env>/ and the sandbox on a copy:
  - a loopback HCLOUD_ENDPOINT, or the marker `hetzner-deploy sandbox env`
    exports, means the sandbox even when a token is set (that is what
    `eval "$(hetzner-deploy sandbox env)"` produces);
  - a set but empty or whitespace HCLOUD_TOKEN is an error, neither a real
    token nor a silent switch to the sandbox;
  - TARGET=hetzner with the sandbox marker is a contradiction and an error;
    with a bare loopback endpoint it is allowed (tests of the real-target
    path), but never in the committed stack folder (runner/workspace.py).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from dataclasses import dataclass, field
from typing import Mapping

from errors import ConfigError
from runner.workspace import is_loopback   # noqa: F401 - re-exported: one definition of "local"

HETZNER_ENDPOINT = "https://api.hetzner.cloud/v1"
SANDBOX_MARKER = "HETZNER_DEPLOY_SANDBOX"   # exported by `hetzner-deploy sandbox env`


@dataclass(frozen=True)
class Target:
    kind: str                      # "sandbox" | "hetzner"
    endpoint: str
    token: str = field(repr=False)
    terraform_env: Mapping[str, str] = field(default_factory=dict, repr=False)
    # The sandbox's Namecheap endpoint and DNS server (host:port), when it runs them.
    registrar: tuple[str, str] | None = None
    # The sandbox's pebble: {"directory", "ca_file", "management"} (sandbox/acme.py).
    acme: Mapping[str, str] | None = None

    @property
    def is_sandbox(self) -> bool:
        return self.kind == "sandbox"

    @property
    def fingerprint(self) -> str:
        """Which project this run acts on, without the token: a hash of kind, endpoint, token.

        Keys the deploy checkpoint, so another project's token on the same
        endpoint never inherits "already deployed".
        """
        raw = "\0".join(("hetzner-deploy/project", self.kind, self.endpoint, self.token))
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _check_token(environ: Mapping[str, str]) -> str:
    token = environ.get("HCLOUD_TOKEN")
    if token is None:
        return ""
    # Set but empty is a mistake too (a CI secret that did not resolve): running
    # on the sandbox instead would look like success.
    if not token.strip():
        raise ConfigError("HCLOUD_TOKEN is set but blank: set a real token for Hetzner, or "
                          "unset it (`unset HCLOUD_TOKEN`) to use the local sandbox")
    if token != token.strip() or any(c.isspace() for c in token):
        raise ConfigError("HCLOUD_TOKEN contains whitespace: copy the token again "
                          "without spaces or line breaks")
    return token


def _refuse_sandbox_cli_config(cli_config: str, environ: Mapping[str, str]) -> None:
    """The sandbox's CLI config installs the stand-in provider: its hash would land in
    the committed lock file, and a real `terraform init` would then fail."""
    if not cli_config or not os.path.isfile(cli_config):
        return
    from runner.workspace import sandbox_root
    root = sandbox_root(environ).resolve()
    path = Path(cli_config).resolve()
    try:
        mentions = str(root / "mirror") in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        mentions = False
    if path.is_relative_to(root) or mentions:
        raise ConfigError(f"TF_CLI_CONFIG_FILE={cli_config} is the sandbox's: the real target "
                          f"would install the stand-in provider into the committed lock file; "
                          f"unset TF_CLI_CONFIG_FILE (left over from `hetzner-deploy sandbox env`)")


def resolve_target(environ: Mapping[str, str] = os.environ,
                   start_sandbox: bool = True, machines: bool = False) -> Target:
    """machines: the sandbox boots real hosts (an [app] to deploy needs sshd and Docker)."""
    wanted = environ.get("TARGET", "").strip().lower()
    if wanted not in ("", "sandbox", "hetzner"):
        raise ConfigError(f"TARGET must be 'sandbox' or 'hetzner' (got {wanted!r})")
    token = _check_token(environ)
    endpoint = (environ.get("HCLOUD_ENDPOINT") or "").strip()
    marked = bool(environ.get(SANDBOX_MARKER, "").strip())
    local = bool(endpoint) and is_loopback(endpoint)
    if wanted == "hetzner" and marked:
        raise ConfigError(f"TARGET=hetzner, but {SANDBOX_MARKER} says this shell points at the "
                          f"sandbox (from `hetzner-deploy sandbox env`); open a fresh shell or "
                          f"unset {SANDBOX_MARKER} HCLOUD_ENDPOINT HCLOUD_TOKEN TF_CLI_CONFIG_FILE")
    if wanted == "hetzner" or (token and wanted != "sandbox" and not marked and not local):
        if not token:
            raise ConfigError("TARGET=hetzner needs HCLOUD_TOKEN in the environment "
                              "(create one in the Hetzner Cloud console: Security > API tokens)")
        endpoint = endpoint or HETZNER_ENDPOINT
        cli_config = environ.get("TF_CLI_CONFIG_FILE", "")
        _refuse_sandbox_cli_config(cli_config, environ)
        return Target("hetzner", endpoint, token, {
            "TF_VAR_hcloud_token": token,
            "HCLOUD_ENDPOINT": endpoint,
            # The user's own CLI config when it exists; /dev/null silences
            # Terraform's warning about a configured file that is missing.
            "TF_CLI_CONFIG_FILE": cli_config if os.path.isfile(cli_config) else "/dev/null",
        })

    from sandbox import manager  # only imported when the sandbox is the target
    info = manager.up(machines=machines) if start_sandbox else manager.status()
    if (marked or local) and endpoint and info.endpoint and \
            endpoint.rstrip("/") != info.endpoint.rstrip("/"):
        raise ConfigError(f"HCLOUD_ENDPOINT {endpoint} is local, but the sandbox runs at "
                          f"{info.endpoint}; run `eval \"$(hetzner-deploy sandbox env)\"` again "
                          f"or unset HCLOUD_ENDPOINT")
    token = token if (marked or local) and token else info.token
    return Target("sandbox", info.endpoint, token, {
        "TF_VAR_hcloud_token": token,
        "HCLOUD_ENDPOINT": info.endpoint,
        "HCLOUD_TOKEN": token,
        "TF_CLI_CONFIG_FILE": str(info.cli_config_file),
    }, (info.namecheap_endpoint, info.dns_server) if info.namecheap_endpoint else None,
        getattr(info, "acme", None))

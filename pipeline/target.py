"""Which Hetzner Cloud a run talks to: the real one, or the local sandbox.

No HCLOUD_TOKEN means the sandbox, so a newcomer can run everything without
an account; TARGET=hetzner insists on the real API and fails without a token.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

from errors import ConfigError

HETZNER_ENDPOINT = "https://api.hetzner.cloud/v1"


@dataclass(frozen=True)
class Target:
    kind: str                      # "sandbox" | "hetzner"
    endpoint: str
    token: str = field(repr=False)
    terraform_env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def is_sandbox(self) -> bool:
        return self.kind == "sandbox"


def resolve_target(environ: Mapping[str, str] = os.environ,
                   start_sandbox: bool = True) -> Target:
    wanted = environ.get("TARGET", "").strip().lower()
    if wanted not in ("", "sandbox", "hetzner"):
        raise ConfigError(f"TARGET must be 'sandbox' or 'hetzner' (got {wanted!r})")
    token = environ.get("HCLOUD_TOKEN", "")
    if wanted == "hetzner" or (token and wanted != "sandbox"):
        if not token:
            raise ConfigError("TARGET=hetzner needs HCLOUD_TOKEN in the environment "
                              "(create one in the Hetzner Cloud console: Security > API tokens)")
        endpoint = environ.get("HCLOUD_ENDPOINT", HETZNER_ENDPOINT)
        cli_config = environ.get("TF_CLI_CONFIG_FILE", "")
        return Target("hetzner", endpoint, token, {
            "TF_VAR_hcloud_token": token,
            "HCLOUD_ENDPOINT": endpoint,
            # The user's own CLI config when it exists; /dev/null silences
            # Terraform's warning about a configured file that is missing.
            "TF_CLI_CONFIG_FILE": cli_config if os.path.isfile(cli_config) else "/dev/null",
        })

    from sandbox import manager  # only imported when the sandbox is the target
    info = manager.up() if start_sandbox else manager.status()
    return Target("sandbox", info.endpoint, info.token, {
        "TF_VAR_hcloud_token": info.token,
        "HCLOUD_ENDPOINT": info.endpoint,
        "HCLOUD_TOKEN": info.token,
        "TF_CLI_CONFIG_FILE": str(info.cli_config_file),
    })

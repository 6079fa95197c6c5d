"""The validated configuration the rest of the code uses: DeployConfig and friends.

deploy.toml's schema and its checks live in config_file.py (pydantic); this
module has the plain frozen dataclasses and load_config(), which returns the
cached result of a previous validation when nothing it read has changed
(config_cache.py), so a run with nothing to do never imports pydantic.
"""
from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from errors import ConfigError
from generator.config_app import AppConfig
from generator.config_backup import BackupConfig
from generator.config_dns import DnsConfig
from generator.config_tier import TierConfig
from generator.config_tls import TlsConfig

ROOT = Path(__file__).resolve().parent.parent
# Where the committed stacks live; here, not in render.py, so a command that only
# reads config and stacks does not import Jinja and the templates' machinery.
STACKS = ROOT / "terraform" / "stacks"
CONFIG_NAME = "deploy.toml"
EXAMPLE_NAME = "deploy.example.toml"
MAX_CONFIG_BYTES = 1024 * 1024

# Hetzner Cloud locations; server types are checked against the live API by `verify`.
LOCATIONS = ("nbg1", "fsn1", "hel1", "ash", "hil", "sin")
BACKENDS = ("local", "pg", "s3")
WORLD = ("0.0.0.0/0", "::/0")
# project.name, project.environment and --env; config_file.Name says it the same way.
NAME_PATTERN = r"[a-z][a-z0-9-]{0,40}[a-z0-9]"
NAME_SAYS = "lowercase letters, digits and dashes, 2-42 characters"

# Hetzner names are RFC 1123 hostnames for servers: one label of at most 63 characters.
# naming.longest_name() gives the longest name any profile makes (room kept for ten
# numbered app servers), so the check follows naming.py instead of a copy of its rules.
HETZNER_NAME_MAX = 63


@dataclass(frozen=True)
class Thresholds:
    """Upper bounds (inclusive) of calls per month for the single-server profiles."""
    ccx33_max_calls: int = 5000
    ccx43_max_calls: int = 20000


@dataclass(frozen=True)
class BackendConfig:
    kind: str = "local"
    # s3-compatible (Hetzner Object Storage); keys come from AWS_* variables.
    endpoint: str | None = None
    bucket: str | None = None
    key: str | None = None
    region: str | None = None
    # pg: the connection string comes from PG_CONN_STR; only the schema is here.
    schema_name: str | None = None


@dataclass(frozen=True)
class DeployConfig:
    domain: str
    ssh_public_key: Path
    source: Path
    from_example: bool = False
    project: str = "autoscale-ai"
    environment: str = "production"
    location: str = "nbg1"
    image: str = "ubuntu-22.04"
    profile: str | None = None
    ssh_allow: tuple[str, ...] = WORLD
    volume_size_gb: int = 50
    backups: bool = True
    calls_per_month: int = 0
    current_host: str = "Railway"
    current_host_monthly_eur: Decimal = Decimal("78.00")
    thresholds: Thresholds = field(default_factory=Thresholds)
    backend: BackendConfig = field(default_factory=BackendConfig)
    pricing_table: Path | None = None      # overrides pricing/prices.toml
    dns: DnsConfig = field(default_factory=DnsConfig)
    tier: TierConfig = field(default_factory=TierConfig)
    app: AppConfig | None = None           # [app]: generator/config_app.py
    backup: BackupConfig | None = None     # [backup]: generator/config_backup.py
    tls: TlsConfig | None = None           # [tls]: generator/config_tls.py

    @property
    def ssh_open_to_world(self) -> bool:
        return any(c in WORLD for c in self.ssh_allow)


# --- names ------------------------------------------------------------------------------

def name_problem(project: str, environment: str) -> str | None:
    """Why names made from project and environment would break at Hetzner, or None."""
    from generator.naming import longest_name   # naming.py is the one place names are made
    longest = longest_name(project, environment)
    if len(longest) > HETZNER_NAME_MAX:
        return (f"the name {longest!r} would be {len(longest)} characters; Hetzner allows "
                f"{HETZNER_NAME_MAX} (shorten project.name or project.environment to "
                f"{len(project) + len(environment) - (len(longest) - HETZNER_NAME_MAX)} "
                "characters together)")
    return None


# --- loading ----------------------------------------------------------------------------

def default_config_path(root: Path = ROOT) -> tuple[Path, bool]:
    """deploy.toml if present (a broken symlink counts: it is reported), else the example."""
    own = root / CONFIG_NAME
    if os.path.lexists(own):
        return own, False
    return root / EXAMPLE_NAME, True


def load_config(path: Path | None = None) -> DeployConfig:
    """The validated config at `path` (default: deploy.toml, else the example)."""
    from generator import config_cache
    from_example = False
    if path is None:
        path, from_example = default_config_path()
    path = Path(path)
    cached = config_cache.load(path, from_example)
    if cached is not None:
        return cached
    from generator.config_file import parse
    config = parse(path, from_example)
    config_cache.store(path, from_example, config)
    return config


def with_environment(config: DeployConfig, environment: str) -> DeployConfig:
    """The config for another environment of the same project (`--env`)."""
    if not (isinstance(environment, str) and re.fullmatch(NAME_PATTERN, environment)):
        from generator.config_file import env_name_problem   # the schema's own words
        raise ConfigError(f"--env: {env_name_problem(environment)}")
    problem = name_problem(config.project, environment)
    if problem:
        raise ConfigError(f"--env: {problem}")
    return dataclasses.replace(config, environment=environment)

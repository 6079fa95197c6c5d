"""Loading and validating deploy.toml.

Every value is checked here, once, so the rest of the code can trust a
DeployConfig. A bad value is a ConfigError naming the key, e.g.
`deploy.toml: storage.volume_size_gb: must be between 10 and 10240 GB (got 5)`.

The file's shape is declared with pydantic: one model class per [section],
unknown keys forbidden, strict types (TOML types its values, so "3000" is not
a number). Rules that need their own sentence are small annotated validators.
A section for a new phase ([app], [dns], [tls], [backup]) is one model class,
one field on DeployFile, and the DeployConfig attributes it feeds in _build().

Every string that can reach a generated file matches a pattern in full
(`fullmatch`, so a trailing newline is refused too); paths are only read.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic import ValidationError

from errors import ConfigError
from generator.config_app import AppConfig, AppSection
from generator.config_dns import DnsConfig, DnsSection
from generator.inputs import (Wording, bad, bad_table, between, choice, pattern, read_toml, show,
                              show_key, show_path)

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
    app: AppConfig | None = None           # [app]: generator/config_app.py

    @property
    def ssh_open_to_world(self) -> bool:
        return any(c in WORLD for c in self.ssh_allow)


# --- value types: each a checker with its own sentence --------------------------------

def _domain(v: Any) -> str:
    label = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    if not (isinstance(v, str) and 4 <= len(v) <= 253
            and re.fullmatch(rf"(?:{label}\.)+[a-z]{{2,63}}", v.lower())):
        raise bad(f"must be a domain name like app.example.com (got {show(v)})")
    return v.lower()


def _money(v: Any) -> Decimal:
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise bad(f"must be an amount in euros (got {show(v)})")
    try:
        amount = Decimal(str(v))
    except InvalidOperation:
        raise bad(f"must be an amount in euros (got {show(v)})") from None
    if not amount.is_finite() or amount < 0:
        raise bad(f"must be a positive amount in euros (got {show(v)})")
    return amount


def _cidrs(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not v:
        raise bad('must be a non-empty list of CIDRs like ["203.0.113.7/32"]')
    out = []
    for item in v:
        # ipaddress takes integers and bytes too; only text is a CIDR here.
        try:
            if not isinstance(item, str):
                raise TypeError
            out.append(str(ipaddress.ip_network(item, strict=True)))
        except (ValueError, TypeError):
            raise bad(f"{show(item)} is not a network in CIDR notation (e.g. 203.0.113.7/32)") from None
    return tuple(out)


def _path(v: Any) -> str:
    # Paths are read, never pasted into a generated file: any printable text will do.
    if not isinstance(v, str) or not v.strip() or len(v) > 4096 or not v.isprintable():
        raise bad(f"must be a file path on one line (got {show(v)})")
    return v


def _profiles() -> tuple[str, ...]:
    from generator.profiles import PROFILE_NAMES
    return PROFILE_NAMES


Name = Annotated[str, pattern(r"[a-z][a-z0-9-]{0,40}[a-z0-9]",
                               "lowercase letters, digits and dashes, 2-42 characters")]
Domain = Annotated[str, BeforeValidator(_domain)]
Location = Annotated[str, choice("location", lambda: LOCATIONS)]
Image = Annotated[str, pattern(r"[a-z0-9][a-z0-9.-]{1,62}", "an image name like ubuntu-22.04")]
ProfileName = Annotated[str, choice("profile", _profiles)]
Backend = Annotated[str, choice("state backend", lambda: BACKENDS)]
Cidrs = Annotated[tuple[str, ...], BeforeValidator(_cidrs)]
FilePath = Annotated[str, BeforeValidator(_path)]
Count = Annotated[int, Field(ge=0)]
VolumeGB = Annotated[int, between(10, 10240, "GB")]
Euros = Annotated[Decimal, BeforeValidator(_money)]
HostLabel = Annotated[str, pattern(r"[A-Za-z0-9](?:[A-Za-z0-9 ._()&+-]{0,62}[A-Za-z0-9.)])?",
                                    "a short name: letters, digits, spaces and . _ ( ) & + -, "
                                    "at most 64 characters")]
Bucket = Annotated[str, pattern(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
                                 "a bucket name: 3-63 lowercase letters, digits, dots and dashes")]
StateKey = Annotated[str, pattern(r"[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*",
                                   "an object key like app/production/terraform.tfstate "
                                   "(letters, digits, _ . - and /)", max_len=1024)]
Region = Annotated[str, pattern(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?",
                                 "a region like fsn1 or eu-central-1")]
Endpoint = Annotated[str, pattern(r"https?://[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?"
                                   r"(?::[0-9]{1,5})?/?",
                                   "a URL like https://fsn1.your-objectstorage.com")]


# --- one model per section ------------------------------------------------------------

class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ProjectSection(Section):
    name: Name = "autoscale-ai"
    environment: Name = "production"
    domain: Domain

    @model_validator(mode="after")
    def _names_fit(self) -> "ProjectSection":
        problem = name_problem(self.name, self.environment)
        if problem:
            # Name the longer of the two: it is the one most likely to be shortened.
            key = "project.environment" if len(self.environment) >= len(self.name) else "project.name"
            raise bad_table(f"{key}: {problem}")
        return self


class HetznerSection(Section):
    location: Location = "nbg1"
    image: Image = "ubuntu-22.04"
    profile: ProfileName = None     # type: ignore[assignment]  # unset: recommended from traffic


class SshSection(Section):
    public_key: FilePath
    allow: Cidrs = WORLD


class StorageSection(Section):
    volume_size_gb: VolumeGB = 50
    backups: bool = True


class TrafficSection(Section):
    calls_per_month: Count = 0
    current_host: HostLabel = "Railway"
    current_host_monthly_eur: Euros = Decimal("78.00")


class SizingSection(Section):
    ccx33_max_calls: Count = Thresholds.ccx33_max_calls
    ccx43_max_calls: Count = Thresholds.ccx43_max_calls

    @model_validator(mode="after")
    def _ordered(self) -> "SizingSection":
        if self.ccx33_max_calls >= self.ccx43_max_calls:
            raise bad_table("sizing.ccx33_max_calls must be below sizing.ccx43_max_calls")
        return self


class PricingSection(Section):
    table: FilePath = None          # type: ignore[assignment]  # unset: pricing/prices.toml


class StateSection(Section):
    backend: Backend = "local"
    endpoint: Endpoint = None       # type: ignore[assignment]
    bucket: Bucket = None           # type: ignore[assignment]
    key: StateKey = None            # type: ignore[assignment]
    region: Region = None           # type: ignore[assignment]
    schema_name: Name = None        # type: ignore[assignment]

    @model_validator(mode="after")
    def _s3_complete(self) -> "StateSection":
        if self.backend == "s3":
            missing = [k for k in ("endpoint", "bucket") if getattr(self, k) is None]
            if missing:
                raise bad_table(f"state backend s3 needs state.{missing[0]}")
        return self


class DeployFile(BaseModel):
    """deploy.toml as a whole: one field per section."""
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    project: ProjectSection
    hetzner: HetznerSection = HetznerSection()
    ssh: SshSection
    storage: StorageSection = StorageSection()
    traffic: TrafficSection = TrafficSection()
    sizing: SizingSection = SizingSection()
    pricing: PricingSection = PricingSection()
    state: StateSection = StateSection()
    dns: DnsSection = DnsSection()
    app: AppSection = None   # type: ignore[assignment]  - no [app]: no app phase


class _ConfigWording(Wording):
    def unknown(self, loc: tuple) -> str:
        if len(loc) == 1:
            return f"unknown section [{show_key(loc[0])}] (known: {', '.join(DeployFile.model_fields)})"
        section = DeployFile.model_fields[loc[0]].annotation
        return f"unknown key {loc[0]}.{show_key(loc[1])} (known: {', '.join(section.model_fields)})"

    def missing(self, loc: tuple) -> str:
        if len(loc) == 1:   # a whole required section: name its first required key
            section = DeployFile.model_fields[loc[0]].annotation
            loc = (loc[0], next(k for k, f in section.model_fields.items() if f.is_required()))
        return f"missing required key {self.where(loc)}"


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


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def load_config(path: Path | None = None) -> DeployConfig:
    from_example = False
    if path is None:
        path, from_example = default_config_path()
    path = Path(path)
    label = show_path(path.name)
    raw = read_toml(path, label, MAX_CONFIG_BYTES)
    try:
        parsed = DeployFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_ConfigWording().line(exc, label)) from None
    except RecursionError:
        raise ConfigError(f"{label}: nested too deeply") from None
    return _build(parsed, path, from_example, label)


def _build(parsed: DeployFile, path: Path, from_example: bool, label: str) -> DeployConfig:
    from generator.ssh_key import read_public_key
    key_path = _resolve(path.parent, parsed.ssh.public_key)
    read_public_key(key_path, label)    # refuse a bad key now, before anything is generated

    pricing_table = None
    if parsed.pricing.table is not None:
        pricing_table = _resolve(path.parent, parsed.pricing.table)
        if not pricing_table.exists():
            raise ConfigError(f"{label}: pricing.table: file not found: {show_path(pricing_table)}")
        if not pricing_table.is_file():
            raise ConfigError(f"{label}: pricing.table: not a regular file: {show_path(pricing_table)}")

    p, h, t, s = parsed.project, parsed.hetzner, parsed.traffic, parsed.state
    return DeployConfig(
        domain=p.domain, ssh_public_key=key_path, source=path, from_example=from_example,
        project=p.name, environment=p.environment,
        location=h.location, image=h.image, profile=h.profile,
        ssh_allow=parsed.ssh.allow,
        volume_size_gb=parsed.storage.volume_size_gb, backups=parsed.storage.backups,
        calls_per_month=t.calls_per_month, current_host=t.current_host,
        current_host_monthly_eur=t.current_host_monthly_eur,
        thresholds=Thresholds(parsed.sizing.ccx33_max_calls, parsed.sizing.ccx43_max_calls),
        backend=BackendConfig(kind=s.backend, endpoint=s.endpoint, bucket=s.bucket, key=s.key,
                              region=s.region, schema_name=s.schema_name),
        pricing_table=pricing_table, dns=DnsConfig.from_section(parsed.dns),
        app=AppConfig.from_section(parsed.app, path.parent) if parsed.app else None)


class _EnvOption(BaseModel):
    model_config = ConfigDict(strict=True)
    env: Name


def with_environment(config: DeployConfig, environment: str) -> DeployConfig:
    """The config for another environment of the same project (`--env`)."""
    try:
        _EnvOption(env=environment)
    except ValidationError as exc:
        raise ConfigError(f"--env: {exc.errors(include_url=False)[0]['msg']}") from None
    problem = name_problem(config.project, environment)
    if problem:
        raise ConfigError(f"--env: {problem}")
    return dataclasses.replace(config, environment=environment)

"""Loading and validating deploy.toml.

Every value is checked here, once, so the rest of the code can trust a
DeployConfig. A bad value is a ConfigError naming the key, e.g.
`deploy.toml: storage.volume_size_gb: must be between 10 and 10240 (got 5)`.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
CONFIG_NAME = "deploy.toml"
EXAMPLE_NAME = "deploy.example.toml"

# Hetzner Cloud locations; server types are checked against the live API by `verify`.
LOCATIONS = ("nbg1", "fsn1", "hel1", "ash", "hil", "sin")
BACKENDS = ("local", "pg", "s3")
WORLD = ("0.0.0.0/0", "::/0")

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}[a-z0-9]$")
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,62}$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


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

    @property
    def ssh_open_to_world(self) -> bool:
        return any(c in WORLD for c in self.ssh_allow)


# section -> key -> (DeployConfig field or dotted target, validator)
def _schema() -> dict[str, dict[str, Any]]:
    return {
        "project": {"name": _name, "environment": _name, "domain": _domain},
        "hetzner": {"location": _location, "image": _image, "profile": _profile},
        "ssh": {"public_key": _str, "allow": _cidrs},
        "storage": {"volume_size_gb": _volume, "backups": _bool},
        "traffic": {"calls_per_month": _calls, "current_host": _str,
                    "current_host_monthly_eur": _money},
        "sizing": {"ccx33_max_calls": _calls, "ccx43_max_calls": _calls},
        "pricing": {"table": _str},
        "state": {"backend": _backend, "endpoint": _str, "bucket": _str, "key": _str,
                  "region": _str, "schema_name": _name},
    }


class _Bad(Exception):
    pass


def _str(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise _Bad(f"must be a non-empty string (got {v!r})")
    return v


def _name(v: Any) -> str:
    if not isinstance(v, str) or not _NAME.match(v):
        raise _Bad(f"must be lowercase letters, digits and dashes, 2-42 characters (got {v!r})")
    return v


def _domain(v: Any) -> str:
    if not isinstance(v, str) or not _DOMAIN.match(v.lower()):
        raise _Bad(f"must be a domain name like app.example.com (got {v!r})")
    return v.lower()


def _location(v: Any) -> str:
    if v not in LOCATIONS:
        raise _Bad(f"unknown location {v!r}: choose one of {', '.join(LOCATIONS)}")
    return v


def _image(v: Any) -> str:
    if not isinstance(v, str) or not _IMAGE.match(v):
        raise _Bad(f"must be an image name like ubuntu-22.04 (got {v!r})")
    return v


def _profile(v: Any) -> str:
    from generator.profiles import PROFILE_NAMES
    if v not in PROFILE_NAMES:
        raise _Bad(f"unknown profile {v!r}: choose one of {', '.join(PROFILE_NAMES)}")
    return v


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise _Bad(f"must be true or false (got {v!r})")
    return v


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise _Bad(f"must be a whole number (got {v!r})")
    return v


def _volume(v: Any) -> int:
    if not 10 <= _int(v) <= 10240:
        raise _Bad(f"must be between 10 and 10240 GB (got {v})")
    return v


def _calls(v: Any) -> int:
    if _int(v) < 0:
        raise _Bad(f"must not be negative (got {v})")
    return v


def _money(v: Any) -> Decimal:
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise _Bad(f"must be an amount in euros (got {v!r})")
    try:
        amount = Decimal(str(v))
    except InvalidOperation:
        raise _Bad(f"must be an amount in euros (got {v!r})") from None
    if not amount.is_finite() or amount < 0:
        raise _Bad(f"must be a positive amount in euros (got {v!r})")
    return amount


def _backend(v: Any) -> str:
    if v not in BACKENDS:
        raise _Bad(f"unknown state backend {v!r}: choose one of {', '.join(BACKENDS)}")
    return v


def _cidrs(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not v:
        raise _Bad("must be a non-empty list of CIDRs like [\"203.0.113.7/32\"]")
    out = []
    for item in v:
        try:
            out.append(str(ipaddress.ip_network(item, strict=True)))
        except (ValueError, TypeError):
            raise _Bad(f"{item!r} is not a network in CIDR notation (e.g. 203.0.113.7/32)") from None
    return tuple(out)


def default_config_path(root: Path = ROOT) -> tuple[Path, bool]:
    """deploy.toml if present, else the committed example (and say we used it)."""
    own = root / CONFIG_NAME
    if own.exists():
        return own, False
    return root / EXAMPLE_NAME, True


def load_config(path: Path | None = None) -> DeployConfig:
    from_example = False
    if path is None:
        path, from_example = default_config_path()
    path = Path(path)
    label = path.name
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{label}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: invalid TOML: {exc}") from None

    values: dict[str, Any] = {}
    schema = _schema()
    for section, body in raw.items():
        if section not in schema:
            raise ConfigError(f"{label}: unknown section [{section}] "
                              f"(known: {', '.join(schema)})")
        if not isinstance(body, dict):
            raise ConfigError(f"{label}: {section} must be a [{section}] table")
        for key, value in body.items():
            check = schema[section].get(key)
            if check is None:
                raise ConfigError(f"{label}: unknown key {section}.{key} "
                                  f"(known: {', '.join(schema[section])})")
            try:
                values[f"{section}.{key}"] = check(value)
            except _Bad as exc:
                raise ConfigError(f"{label}: {section}.{key}: {exc}") from None

    for required in ("project.domain", "ssh.public_key"):
        if required not in values:
            raise ConfigError(f"{label}: missing required key {required}")

    key_path = Path(values["ssh.public_key"]).expanduser()
    if not key_path.is_absolute():
        key_path = path.parent / key_path
    if not key_path.is_file():
        raise ConfigError(f"{label}: ssh.public_key: file not found: {key_path} "
                          f"(create one with: ssh-keygen -t ed25519 -f {key_path.with_suffix('')})")

    thresholds = Thresholds(values.get("sizing.ccx33_max_calls", 5000),
                            values.get("sizing.ccx43_max_calls", 20000))
    if thresholds.ccx33_max_calls >= thresholds.ccx43_max_calls:
        raise ConfigError(f"{label}: sizing.ccx33_max_calls must be below sizing.ccx43_max_calls")

    backend = BackendConfig(
        kind=values.get("state.backend", "local"),
        endpoint=values.get("state.endpoint"), bucket=values.get("state.bucket"),
        key=values.get("state.key"), region=values.get("state.region"),
        schema_name=values.get("state.schema_name"))
    if backend.kind == "s3":
        missing = [k for k in ("endpoint", "bucket") if getattr(backend, k) is None]
        if missing:
            raise ConfigError(f"{label}: state backend s3 needs state.{missing[0]}")

    pricing_table = None
    if "pricing.table" in values:
        pricing_table = Path(values["pricing.table"]).expanduser()
        if not pricing_table.is_absolute():
            pricing_table = path.parent / pricing_table
        if not pricing_table.is_file():
            raise ConfigError(f"{label}: pricing.table: file not found: {pricing_table}")

    given = {
        "project": "project.name", "environment": "project.environment",
        "location": "hetzner.location", "image": "hetzner.image", "profile": "hetzner.profile",
        "ssh_allow": "ssh.allow", "volume_size_gb": "storage.volume_size_gb",
        "backups": "storage.backups", "calls_per_month": "traffic.calls_per_month",
        "current_host": "traffic.current_host",
        "current_host_monthly_eur": "traffic.current_host_monthly_eur",
    }
    return DeployConfig(
        domain=values["project.domain"], ssh_public_key=key_path, source=path,
        from_example=from_example, thresholds=thresholds, backend=backend,
        pricing_table=pricing_table,
        **{name: values[key] for name, key in given.items() if key in values})


def with_environment(config: DeployConfig, environment: str) -> DeployConfig:
    """The config for another environment of the same project (`--env`)."""
    try:
        _name(environment)
    except _Bad as exc:
        raise ConfigError(f"--env: {exc}") from None
    return dataclasses.replace(config, environment=environment)

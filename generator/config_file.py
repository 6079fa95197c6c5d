"""deploy.toml's schema: one pydantic model per [section], and the parse into DeployConfig.

Every value is checked here, once, so the rest of the code can trust a
DeployConfig. A bad value is a ConfigError naming the key, e.g.
`deploy.toml: storage.volume_size_gb: must be between 10 and 10240 GB (got 5)`.

The file's shape is declared with pydantic: one model class per [section],
unknown keys forbidden, strict types (TOML types its values, so "3000" is not
a number). Rules that need their own sentence are small annotated validators.
A section for a new phase ([app], [tls], [backup]) is one model class here, one
field on DeployFile, a frozen dataclass for its values (config.py or its own
config_<section>.py, without pydantic) and the attribute it feeds in _build().

Only this module imports pydantic: generator.config loads a validated config
from its cache without it (see config_cache.py), which keeps a no-op run fast.

Every string that can reach a generated file matches a pattern in full
(`fullmatch`, so a trailing newline is refused too); paths are only read.
"""
from __future__ import annotations

import ipaddress
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic import ValidationError

from errors import ConfigError
from generator.config import (BACKENDS, LOCATIONS, MAX_CONFIG_BYTES, NAME_PATTERN, NAME_SAYS,
                              WORLD, BackendConfig, DeployConfig, Thresholds, name_problem)
from generator.config_app import APP_FILE, GIT_REF, GIT_URL, HOST_KEY_LINE, PATH, AppConfig
from generator.config_backup import DATA_FILE, DB_NAME, ON_CALENDAR, SERVICE, BackupConfig
from generator.config_dns import (LABEL, NAMECHEAP_NS, PUBLIC_RESOLVERS, SERVER, DnsConfig)
from generator.config_tier import (CALLS_PER_APP_SERVER, DB_HOST_ENV, DB_SERVICES,
                                   MAX_APP_SERVERS, TierConfig)
from generator.config_tls import ACME_URL, EMAIL, IMAGE, UPSTREAM, TlsConfig
from generator.inputs import (Wording, bad, bad_table, between, choice, pattern, read_toml, show,
                              show_key, show_path)


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


Name = Annotated[str, pattern(NAME_PATTERN, NAME_SAYS)]
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


# [dns]: its values are generator.config_dns.DnsConfig.
def _names(v) -> tuple[str, ...]:
    if not isinstance(v, list) or not v or len(v) > 20:
        raise bad('must be a list of 1 to 20 names like ["@", "api"]')
    for item in v:
        if not isinstance(item, str) or not (item == "@" or re.fullmatch(
                rf"{LABEL}(?:\.{LABEL})*", item)):
            raise bad(f'{show(item)} is not "@" or a name like api (lowercase, digits, - and _)')
    if len(set(v)) != len(v):
        raise bad("lists a name twice")
    return tuple(v)


def _servers(v) -> tuple[str, ...]:
    if not isinstance(v, list) or not v or len(v) > 10:
        raise bad("must be a list of 1 to 10 servers like 1.1.1.1 or ns1.example.net:53")
    for item in v:
        if not isinstance(item, str) or not re.fullmatch(SERVER, item):
            raise bad(f"{show(item)} is not an IPv4 address or host name, with an optional port")
    return tuple(v)


class DnsSection(Section):
    provider: Literal["namecheap", "hetzner"] = "namecheap"
    names: Annotated[tuple[str, ...], BeforeValidator(_names)] = ("@", "api")
    # 300 s during a migration, as the team's plan says: a rollback is a DNS change.
    ttl: Annotated[int, between(60, 60000, "seconds")] = 300
    ipv6: bool = True
    zone: Annotated[str, pattern(rf"{LABEL}(?:\.{LABEL})+", "a registered domain like "
                                 "example.com")] = None          # type: ignore[assignment]
    endpoint: Annotated[str, pattern(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?/[A-Za-z0-9._/-]*",
                                     "a URL like https://api.namecheap.com/xml.response")] \
        = None                                                     # type: ignore[assignment]
    nameservers: Annotated[tuple[str, ...], BeforeValidator(_servers)] = NAMECHEAP_NS
    resolvers: Annotated[tuple[str, ...], BeforeValidator(_servers)] = PUBLIC_RESOLVERS
    propagation_timeout_s: Annotated[int, Field(ge=10, le=7200)] = 900


# [tier]: its values are generator.config_tier.TierConfig.
# A Compose service name as Compose itself allows it (and remote/commands' safe names do).
_SERVICE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def _db_services(v: Any) -> tuple[tuple[str, int], ...]:
    says = 'must be a table of Compose services and ports like {postgres = 5432, redis = 6379}'
    if not isinstance(v, dict) or not 1 <= len(v) <= 20:
        raise bad(f"{says} (got {show(v)})")
    out = []
    for name, port in v.items():
        if not isinstance(name, str) or not _SERVICE.fullmatch(name):
            raise bad(f"{show(name)} is not a Compose service name (lowercase letters, digits, "
                      f"_ . -)")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise bad(f"{name}: the port must be a number between 1 and 65535 (got {show(port)})")
        out.append((name, port))
    if len({p for _, p in out}) != len(out):
        raise bad(f"two services share a port (got {show(v)}): each is published on the db "
                  f"server's private IP at its own port")
    return tuple(out)


def _env_keys(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or len(v) > 20:
        raise bad(f'must be a list of .env keys like ["POSTGRES_HOST", "REDIS_HOST"] (got {show(v)})')
    for key in v:
        if not isinstance(key, str) or not _ENV_KEY.fullmatch(key):
            raise bad(f"{show(key)} is not an environment variable name (letters, digits, _)")
    if len(set(v)) != len(v):
        raise bad(f"lists a key twice (got {show(v)})")
    return tuple(v)


class TierSection(Section):
    calls_per_app_server: Annotated[int, between(100, 100_000_000, "calls a month")] \
        = CALLS_PER_APP_SERVER
    app_servers: Annotated[int, between(1, MAX_APP_SERVERS, "servers")] \
        = None                                                   # type: ignore[assignment]
    # Path the load balancer's HTTP health check requests on every app server.
    health_path: Annotated[str, pattern(r"/[A-Za-z0-9._~/-]{0,200}",
                                        "a path like /health", 201)] = "/health"
    # The app phase's split of the Compose file (app/tiers.py): service -> container port.
    db_services: Annotated[tuple[tuple[str, int], ...], BeforeValidator(_db_services)] \
        = DB_SERVICES
    db_host_env: Annotated[tuple[str, ...], BeforeValidator(_env_keys)] = DB_HOST_ENV
    rolling_group: Annotated[int, between(1, MAX_APP_SERVERS, "servers")] = 1


# [app]: its values are generator.config_app.AppConfig.
def _smoke(v) -> tuple[tuple[str, ...], ...]:
    if not isinstance(v, list) or len(v) > 20:
        raise bad('must be a list of up to 20 commands, each an argv list like ["curl", "-fsS", '
                  '"http://127.0.0.1/health"]')
    out = []
    for i, item in enumerate(v):
        if not isinstance(item, list) or not item or len(item) > 64 or not all(
                isinstance(a, str) and 0 < len(a) <= 1000 and "\x00" not in a for a in item):
            raise bad(f"command {i + 1} must be a non-empty argv list of strings, not a shell "
                      f"string (got {show(item)})")
        out.append(tuple(item))
    return tuple(out)


def _app_files(v) -> tuple[str, ...]:
    if not isinstance(v, list) or len(v) > 200:
        raise bad('must be a list of up to 200 paths like ["backend/app.py"]')
    for item in v:
        if not isinstance(item, str) or not re.fullmatch(APP_FILE, item) or \
                any(part in (".", "..") or part.startswith("..") for part in item.split("/")):
            raise bad(f"{show(item)} is not a plain path below the Compose file's folder "
                      "(letters, digits, . _ - and /; no '..')")
    if len(set(v)) != len(v):
        raise bad("lists a file twice")
    return tuple(v)


class AppSection(Section):
    compose: Annotated[str, pattern(PATH, "a path to a Compose file like app/compose.yaml")]
    env_file: Annotated[str, pattern(PATH, "a path to the app's .env file")]
    health_path: Annotated[str, pattern(r"/[A-Za-z0-9._~/?=&%-]{0,200}", "a URL path like /health")] \
        = "/health"
    health_port: Annotated[int, between(1, 65535, "")] = 80
    health_timeout_s: Annotated[int, between(5, 3600, "seconds")] = 120
    keep: Annotated[int, between(1, 50, "releases")] = 5
    smoke: Annotated[tuple[tuple[str, ...], ...], BeforeValidator(_smoke)] = ()
    image_source: Literal["pull", "build"] = "pull"
    repo: Annotated[str, pattern(GIT_URL, "a git URL like git@github.com:team/app.git")] \
        = None                                                    # type: ignore[assignment]
    ref: Annotated[str, pattern(GIT_REF, "a branch, tag or commit like main")] = "main"
    deploy_key: Annotated[str, pattern(PATH, "a path to the repository's deploy key")] \
        = None                                                    # type: ignore[assignment]
    files: Annotated[tuple[str, ...], BeforeValidator(_app_files)] = ()
    repo_host_key: Annotated[str, pattern(HOST_KEY_LINE, "the git host's known_hosts line, like "
                                          "'github.com ssh-ed25519 AAAA...'", 8400)] \
        = None                                                    # type: ignore[assignment]

    @model_validator(mode="after")
    def _build_needs_a_repo(self):
        if self.image_source == "build" and not (self.repo and self.deploy_key and self.repo_host_key):
            raise bad('image_source = "build" needs repo, deploy_key and repo_host_key (the git '
                      "host's key is pinned, never trusted on first use)")
        return self


# [backup]: its values are generator.config_backup.BackupConfig.
def _notify(v) -> tuple[str, ...]:
    if not isinstance(v, list) or not v or len(v) > 64 or not all(
            isinstance(a, str) and 0 < len(a) <= 1000 and "\x00" not in a for a in v):
        raise bad('must be a command as an argv list like ["/usr/local/bin/page-me", "--team", '
                  f'"ops"], not a shell string (got {show(v)})')
    return tuple(v)


class BackupS3Section(Section):
    endpoint: Endpoint
    bucket: Bucket
    prefix: StateKey = None         # type: ignore[assignment]


class BackupServicesSection(Section):
    # Compose service names; "" when the app has no such database.
    postgres: Annotated[str, pattern(rf"(?:{SERVICE})?", "a Compose service name or \"\"")] \
        = "postgres"
    redis: Annotated[str, pattern(rf"(?:{SERVICE})?", "a Compose service name or \"\"")] = "redis"
    postgres_db: Annotated[str, pattern(DB_NAME, "a database name like app")] \
        = None                                                    # type: ignore[assignment]
    redis_data_file: Annotated[str, pattern(DATA_FILE, "an absolute path on the server like "
                                            "/mnt/data/redis/dump.rdb")] = "/mnt/data/redis/dump.rdb"


Calendar = Annotated[str, pattern(ON_CALENDAR, "a systemd OnCalendar time like daily or "
                                  "\"*-*-* 03:15:00\"")]


class BackupSection(Section):
    schedule: Calendar = "*-*-* 03:15:00"
    drill_schedule: Calendar = "Sun *-*-* 04:30:00"
    keep_daily: Annotated[int, between(1, 366, "backups")] = 7
    keep_weekly: Annotated[int, between(0, 520, "backups")] = 4
    stale_after_hours: Annotated[int, between(1, 24 * 90, "hours")] = 26
    notify: Annotated[tuple[str, ...], BeforeValidator(_notify)] = ()
    s3: BackupS3Section = None      # type: ignore[assignment]
    services: BackupServicesSection = BackupServicesSection()

    @model_validator(mode="after")
    def _something_to_back_up(self):
        if not self.services.postgres and not self.services.redis:
            raise bad("services: name a postgres or a redis service (both are empty)")
        return self


# [tls]: its values are generator.config_tls.TlsConfig.
def _acme(v) -> str:
    if v in ("production", "staging"):
        return v
    if isinstance(v, str) and re.fullmatch(ACME_URL, v) and len(v) <= 300:
        return v
    raise bad(f'must be "production", "staging" or an ACME directory URL like '
              f'https://acme.example/directory (got {show(v)})')


class TlsSection(Section):
    email: Annotated[str, pattern(EMAIL, "an e-mail address for the ACME account", 254)] \
        = None                                                    # type: ignore[assignment]
    acme: Annotated[str, BeforeValidator(_acme)] = "production"
    upstream: Annotated[str, pattern(UPSTREAM, "a Compose service and port like backend:8000")] \
        = "backend:8000"
    image: Annotated[str, pattern(IMAGE, "an image like caddy:2", 400)] = "caddy:2"
    warn_days: Annotated[int, between(1, 89, "days")] = 21
    timeout_s: Annotated[int, between(10, 3600, "seconds")] = 180


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
    tier: TierSection = TierSection()
    app: AppSection = None   # type: ignore[assignment]  - no [app]: no app phase
    backup: BackupSection = None   # type: ignore[assignment]  - no [backup]: no backups installed
    tls: TlsSection = None   # type: ignore[assignment]  - no [tls]: no proxy, plain HTTP

    @model_validator(mode="after")
    def _backup_needs_the_app(self):
        if self.backup is not None and self.app is None:
            # The agent reaches the databases through the app's Compose project.
            raise bad_table("[backup] needs [app]: the backups run in the app's Compose "
                            "project on the server")
        return self

    @model_validator(mode="after")
    def _tls_needs_the_app(self):
        if self.tls is not None and self.app is None:
            raise bad_table("[tls] needs [app]: the TLS proxy runs in the app's Compose project")
        return self


class _ConfigWording(Wording):
    def unknown(self, loc: tuple) -> str:
        if len(loc) == 1:
            return f"unknown section [{show_key(loc[0])}] (known: {', '.join(DeployFile.model_fields)})"
        section = DeployFile.model_fields[loc[0]].annotation
        for part in loc[1:-1]:     # a table inside a section ([backup.s3])
            section = section.model_fields[part].annotation
        where = ".".join(str(p) for p in loc[:-1])
        return f"unknown key {where}.{show_key(loc[-1])} (known: {', '.join(section.model_fields)})"

    def missing(self, loc: tuple) -> str:
        if len(loc) == 1:   # a whole required section: name its first required key
            section = DeployFile.model_fields[loc[0]].annotation
            loc = (loc[0], next(k for k, f in section.model_fields.items() if f.is_required()))
        return f"missing required key {self.where(loc)}"



def parse(path: Path, from_example: bool) -> DeployConfig:
    """deploy.toml at `path`, validated, or ConfigError naming the first bad key."""
    label = show_path(path.name)
    raw = read_toml(path, label, MAX_CONFIG_BYTES)
    try:
        parsed = DeployFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_ConfigWording().line(exc, label)) from None
    except RecursionError:
        raise ConfigError(f"{label}: nested too deeply") from None
    return _build(parsed, path, from_example, label)


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


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
        pricing_table=pricing_table, dns=DnsConfig(**parsed.dns.model_dump()),
        tier=TierConfig(**parsed.tier.model_dump()),
        app=AppConfig.from_section(parsed.app, path.parent) if parsed.app else None,
        backup=BackupConfig.from_section(parsed.backup) if parsed.backup else None,
        tls=TlsConfig(**parsed.tls.model_dump()) if parsed.tls else None)


class _EnvOption(BaseModel):
    model_config = ConfigDict(strict=True)
    env: Name


def env_name_problem(environment: str) -> str | None:
    """Why `--env` is not a valid environment name, in the same words as the file's key."""
    try:
        _EnvOption(env=environment)
    except ValidationError as exc:
        return exc.errors(include_url=False)[0]["msg"]
    return None

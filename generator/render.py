"""Render a profile into a Terraform stack directory.

Everything is rendered to bytes in a staging directory first (and passed
through `terraform fmt` there), compared with what is on disk, and only then
moved into place file by file. A failure at any point leaves the stack as it
was. The same inputs always give the same bytes.

No value is pasted into a template: each goes through an encoder of
generator/escape.py (the template filters `hcl`, `hcl_number`, `hcl_bool`,
`hcl_list`, `user_data`), and the Jinja environment refuses to print
anything else. manifest.json (generator/manifest.py) records what was
rendered, so the next run knows what to replace and what to delete.
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jinja2

from errors import CommandError, ConfigError
from generator import escape
from generator.config import LOCATIONS, ROOT, STACKS, DeployConfig, with_environment
from generator.manifest import (MANIFEST_NAME, Manifest, ManifestError, Protected,
                                build_manifest, list_stack, read_manifest)
from generator.manifest import stack_profile  # noqa: F401  (re-exported for callers)
from generator.config_tier import NETWORK_ZONES, sized
from generator.profiles import Profile, get_profile
from runner import terraform
from runner.process import tail

TEMPLATES = ROOT / "terraform" / "templates"
CLOUD_INIT = ROOT / "cloud-init"

# file in the stack -> template; the order is the order reports list them in.
STACK_FILES: dict[str, str] = {
    "versions.tf": "versions.tf.j2",
    "variables.tf": "variables.tf.j2",
    "main.tf": "main.tf.j2",
    "outputs.tf": "outputs.tf.j2",
    "terraform.tfvars": "terraform.tfvars.j2",
    "user-data.yaml": "user-data.yaml.j2",
}

# Rendered only with [dns] provider = "hetzner" (stack_files).
DNS_FILE = ("dns.tf", "dns.tf.j2")
DNS_PROTECTED = Protected("hcloud_zone.dns", delete_protection=True, prevent_destroy=True)


def stack_files(config: DeployConfig) -> dict[str, str]:
    if config.dns.provider != "hetzner":
        return STACK_FILES
    return {**STACK_FILES, DNS_FILE[0]: DNS_FILE[1]}


def _dns_context(config: DeployConfig) -> dict:
    """Zone, TTL and one RRSet per managed name and address family (dns.tf.j2)."""
    dns = config.dns
    try:
        names = dns.record_names(config.domain)
    except ValueError as exc:
        raise ConfigError(f"dns: {exc}") from None
    records, taken = [], {}
    for name in names:
        base = "apex" if name == "@" else re.sub(r"[^a-z0-9_]", "_", name)
        ident = f"{'r_' if base[0].isdigit() else ''}{base}"
        # "www-2" and "www_2" would become one resource name: refuse, do not guess.
        if ident in taken:
            raise ConfigError(f"dns.names: {taken[ident]!r} and {name!r} give the same Terraform "
                              f"resource name {ident!r}; keep one of them")
        taken[ident] = name
        for rtype, local in (("A", "local.dns_ipv4"), ("AAAA", "local.dns_ipv6"))[: 2 if dns.ipv6 else 1]:
            records.append({"resource": f"{ident}_{rtype.lower()}",
                            "name": name, "type": rtype, "value": escape.Encoded(local)})
    return {"dns_zone": dns.zone_for(config.domain), "dns_ttl": dns.ttl, "dns_records": records}


CHANGES = ("create", "update", "delete")

# What main.tf.j2 protects from deletion, for the manifest. Said here rather
# than parsed back from the rendered HCL on every render (python-hcl2 takes
# about 0.4 s on main.tf); `check` compares it with the parsed stack.
PROTECTED = (Protected("hcloud_volume.data", delete_protection=True, prevent_destroy=True),)


@dataclass(frozen=True)
class FileStatus:
    name: str
    # "create" | "identical" | "update" | "delete" (rendered before, not now),
    # "kept" (a hand-written *.local.tf) | "unknown" (nobody generated it: `check` fails)
    status: str


@dataclass(frozen=True)
class GenerateResult:
    stack_dir: Path
    profile: str
    environment: str
    files: tuple[FileStatus, ...]
    dry_run: bool = False
    # Servers whose pinned host key this run created (remote/hostkeys.py).
    new_host_keys: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return any(f.status in CHANGES for f in self.files)


def _finalize(value):
    # Every `{{ }}` must print text an encoder in generator/escape.py produced.
    if not isinstance(value, escape.Encoded):
        raise ConfigError(f"template prints an unencoded value {str(value)[:40]!r}: "
                          "pass it through an escape filter")
    return value


# Roles the templates can render: all-in-one (main.tf.j2) and the 3-tier roles
# (main_3tier.tf.j2).
TEMPLATED_ROLES = frozenset({"all-in-one", "lb", "app", "db"})

# The 3-tier private network. Fixed ranges: nothing else lives in a stack's
# network, and fixed addresses let the app's .env name the database up front.
NETWORK_IP_RANGE = "10.0.0.0/16"
SUBNET_IP_RANGE = "10.0.1.0/24"


def _environment() -> jinja2.Environment:
    # One per template folder: compiling the templates is most of a render's time.
    return _environment_for(str(TEMPLATES), str(CLOUD_INIT))


@functools.lru_cache(maxsize=4)
def _environment_for(templates: str, cloud_init: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([templates, cloud_init]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        finalize=_finalize,
    )
    env.filters.update(hcl=escape.hcl_string, hcl_number=escape.hcl_number,
                       hcl_bool=escape.hcl_bool, hcl_list=escape.hcl_list,
                       user_data=escape.user_data_scalar)
    return env


def command_line(profile: Profile, environment: str) -> str:
    return f"hetzner-deploy generate --profile {profile.name} --env {environment}"


# The environment names the stack's folder and appears in comments: a strict
# whole-string pattern, not an escape (a path component cannot be escaped).
_ENVIRONMENT = re.compile(r"[a-z][a-z0-9-]{0,40}[a-z0-9]")


def _context(config: DeployConfig, profile: Profile, public_key: str) -> dict:
    check_environment(config.environment)
    header = escape.comment(f"Generated by `{command_line(profile, config.environment)}`.\n"
                            "Do not edit: change the templates or deploy.toml, then regenerate.")
    backend = config.backend
    # `is None`, not falsiness: an empty value is a value, and must not change the shape.
    state_key = (f"{config.project}/{config.environment}/terraform.tfstate"
                 if backend.key is None else backend.key)
    return {
        "header": header,
        "project": config.project,
        "environment": config.environment,
        "location": config.location,
        "locations": LOCATIONS,
        "image": config.image,
        "profile": profile,
        "ssh_public_key": public_key,
        "ssh_allow": config.ssh_allow,
        "volume_size_gb": config.volume_size_gb,
        "backups": config.backups,
        "backend": backend,
        "state_key": state_key,
        "state_region": "main" if backend.region is None else backend.region,
        "tier": _tier_context(config, profile),
    }


def _tier_context(config: DeployConfig, profile: Profile) -> dict | None:
    if not profile.private_network:
        return None
    app = profile.role("app")
    return {
        "app": app, "db": profile.role("db"), "lb": profile.role("lb"),
        # Keys of for_each: the role's numbered names without the project prefix.
        "app_names": [f"app-{i + 1}" for i in range(app.count)],
        "network_zone": NETWORK_ZONES[config.location],
        "network_ip_range": NETWORK_IP_RANGE,
        "subnet_ip_range": SUBNET_IP_RANGE,
        "health_path": config.tier.health_path,
    }


def check_environment(environment: object) -> str:
    if not isinstance(environment, str) or not _ENVIRONMENT.fullmatch(environment):
        raise ConfigError(f"project.environment: must be lowercase letters, digits and dashes, "
                          f"2-42 characters (got {str(environment)[:60]!r})")
    return environment


def read_public_key(path: Path) -> str:
    # Parsed by generator/ssh_key.py (cryptography); type and key only, comment dropped.
    from generator.ssh_key import read_public_key as parse
    return parse(path)


def render_templates(config: DeployConfig, profile: Profile, public_key: str) -> dict[str, str]:
    """The stack's files as rendered text, before `terraform fmt`; pure."""
    env = _environment()
    context = _context(config, profile, public_key)
    files = stack_files(config)
    if DNS_FILE[0] in files:
        context.update(_dns_context(config))
    rendered = {}
    for name, template in files.items():
        try:
            rendered[name] = env.get_template(template).render(context)
        except jinja2.UndefinedError as exc:
            raise ConfigError(f"template {template}: {exc.message}") from None
    return rendered


def _render_into(config: DeployConfig, profile: Profile, staging: Path) -> None:
    missing = [r.name for r in profile.roles if r.name not in TEMPLATED_ROLES]
    if missing:
        raise ConfigError(f"profile {profile.name!r}: stack templates for the roles "
                          f"{', '.join(missing)} are not written yet; generate ccx33 or ccx43")
    rendered = render_templates(config, profile, read_public_key(config.ssh_public_key))
    for name, text in rendered.items():
        (staging / name).write_text(text, encoding="utf-8")
    done = terraform.fmt([staging])  # TERRAFORM_BIN, deadline: runner/terraform.py
    if done.returncode != 0:
        lines = [ln.strip("│ ").strip() for ln in (done.stderr or done.stdout).splitlines()]
        why = next((ln for ln in lines if ln.startswith("Error:")), tail("\n".join(lines), 1))
        raise CommandError(f"terraform fmt rejected the rendered stack: "
                           f"{why or f'exit {done.returncode}'}",
                           argv=list(done.argv), returncode=done.returncode,
                           stderr_tail=tail(done.stderr or done.stdout))


def render_stack(config: DeployConfig, profile: Profile) -> dict[str, bytes]:
    """The stack's files as bytes, formatted, with manifest.json last; touches
    nothing outside a temp dir."""
    with tempfile.TemporaryDirectory(prefix="hetzner-deploy-render-") as tmp:
        staging = Path(tmp)
        _render_into(config, profile, staging)
        files = {name: (staging / name).read_bytes() for name in stack_files(config)}
    protected = PROTECTED + ((DNS_PROTECTED,) if DNS_FILE[0] in files else ())
    files[MANIFEST_NAME] = build_manifest(profile.name, files, protected).to_bytes()
    return files


def _status(target: Path, content: bytes) -> str:
    if not target.exists():
        return "create"
    return "identical" if target.read_bytes() == content else "update"


def _previous_manifest(stack_dir: Path) -> Manifest | None:
    try:
        return read_manifest(stack_dir)
    except ManifestError:  # generate rewrites it; `check` reports it
        return None


def generate(config: DeployConfig, profile_name: str, env: str | None = None,
             stacks_dir: Path = STACKS, dry_run: bool = False) -> GenerateResult:
    # The app role's count follows the call volume ([tier], generator/config_tier.py).
    profile = sized(get_profile(profile_name), config.tier, config.calls_per_month)
    if env is not None:
        config = with_environment(config, env)
    stack_dir = stacks_dir / check_environment(config.environment)
    files = render_stack(config, profile)
    statuses = [FileStatus(name, _status(stack_dir / name, data)) for name, data in files.items()]
    previous = _previous_manifest(stack_dir)
    # Files this tool rendered before and renders no more (a profile switch): delete.
    statuses += [FileStatus(name, "delete") for name in (previous.names if previous else ())
                 if name not in files and (stack_dir / name).is_file()]
    listing = list_stack(stack_dir, previous)
    statuses += [FileStatus(name, "kept") for name in listing.hand_written]
    statuses += [FileStatus(name, "unknown") for name in listing.unknown
                 if name.rstrip("/") not in files]
    result = GenerateResult(stack_dir, profile.name, config.environment, tuple(statuses), dry_run)
    if not dry_run and result.changed:
        _write(stack_dir, files, result.files)
    if not dry_run:
        # Host keys live outside the repo and outside the stack (remote/hostkeys.py).
        from dataclasses import replace
        from remote.hostkeys import ensure_for
        created = ensure_for(config, profile, config.environment)
        result = replace(result, new_host_keys=tuple(s for s, (_, new) in created.items() if new))
    return result


def _write(stack_dir: Path, files: dict[str, bytes], statuses: tuple[FileStatus, ...]) -> None:
    stack_dir.parent.mkdir(parents=True, exist_ok=True)
    # Staging lives beside the stack so os.replace never crosses filesystems.
    staging = Path(tempfile.mkdtemp(prefix=f".{stack_dir.name}-", dir=stack_dir.parent))
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        if not stack_dir.exists():
            os.replace(staging, stack_dir)
            return
        # The manifest goes last: until it is replaced, the old one still lists
        # whatever an interrupted run has not deleted yet, so a rerun finishes the job.
        for status in statuses:
            if status.status in ("create", "update") and status.name != MANIFEST_NAME:
                os.replace(staging / status.name, stack_dir / status.name)
        for status in statuses:
            if status.status == "delete":
                (stack_dir / status.name).unlink(missing_ok=True)
        os.replace(staging / MANIFEST_NAME, stack_dir / MANIFEST_NAME)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def stale_files(config: DeployConfig, env: str | None = None,
                stacks_dir: Path = STACKS, profile_name: str | None = None) -> list[str]:
    """Files of the stack that `generate` would write or delete now."""
    environment = env or config.environment
    stack_dir = stacks_dir / environment
    profile_name = profile_name or stack_profile(stack_dir)
    if profile_name is None:
        return sorted([*STACK_FILES, MANIFEST_NAME])
    result = generate(config, profile_name, environment, stacks_dir, dry_run=True)
    return [f.name for f in result.files if f.status in CHANGES]

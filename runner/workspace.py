"""Where terraform runs for a target, and what decides whether `init` is due.

The sandbox and the real target never share a directory, state or lock
file: the real target runs in terraform/stacks/<env>/ (its lock file holds
the real provider's hashes and is committed); the sandbox runs on a copy
under <sandbox>/work/<env>/, so the stand-in provider's hash never reaches
the committed lock file and a sandbox run can never touch real state.
Our own records (plan file, hashes, logs, state backups) live in <workdir>/.work/.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import threading
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
STACKS = ROOT / "terraform" / "stacks"
STACK_PATTERNS = ("*.tf", "*.tfvars", "*.yaml", "*.yml")
LOCK_FILE = ".terraform.lock.hcl"
_BACKEND = re.compile(r'^\s*backend\s+"([A-Za-z0-9_]+)"', re.MULTILINE)
# Backend settings that come from the environment; hashed (never stored) so a
# changed connection string triggers `init -reconfigure` without being written down.
BACKEND_ENV = ("PG_CONN_STR", "PG_SCHEMA_NAME", "AWS_ACCESS_KEY_ID", "AWS_ENDPOINT_URL_S3")


# Plan files hold the provider configuration (the API token) and state holds
# sensitive attributes: everything we or terraform write there is owner-only.
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create (or tighten) a folder that holds state, plans, logs or backups."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    if path.stat().st_mode & 0o777 != PRIVATE_DIR_MODE:
        os.chmod(path, PRIVATE_DIR_MODE)
    return path


def write_private(path: Path, text: str) -> None:
    """Write a record atomically, 0600 from the first byte (a kill leaves old or new)."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


_UMASK_LOCK = threading.Lock()
_umask_depth = 0
_umask_saved = 0


@contextmanager
def private_umask():
    """Files created meanwhile (by us or by terraform, which inherits it) are 0600/0700.

    umask is per process; the CLI runs one operation at a time, so setting it
    around terraform calls is the only way to get terraform's own plan and
    state files created private rather than chmod-ed after the fact.
    Nested or concurrent uses (threads: tests run two deploys at once) are
    counted: the first one in saves the umask and the last one out restores it.
    Saving and restoring per use would let two overlapping uses leave 077 behind.
    """
    global _umask_depth, _umask_saved
    with _UMASK_LOCK:
        if _umask_depth == 0:
            _umask_saved = os.umask(0o077)
        _umask_depth += 1
    try:
        yield
    finally:
        with _UMASK_LOCK:
            _umask_depth -= 1
            if _umask_depth == 0:
                os.umask(_umask_saved)


def tighten(*paths: Path) -> None:
    """chmod 0600 what terraform wrote before we took over (older runs, other umasks)."""
    for path in paths:
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_mode & 0o077:
                os.chmod(path, PRIVATE_FILE_MODE)
        except OSError:
            pass


def is_loopback(endpoint: str) -> bool:
    """Whether an API endpoint is on this machine (127.0.0.0/8, ::1, localhost)."""
    try:
        host = urllib.parse.urlsplit(endpoint.strip()).hostname or ""
    except ValueError:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sandbox_root(environ: Mapping[str, str] = os.environ) -> Path:
    return Path(environ.get("HETZNER_DEPLOY_SANDBOX_DIR") or ROOT / ".sandbox")


@dataclass(frozen=True)
class Workspace:
    env_name: str
    target_kind: str   # "sandbox" | "hetzner"
    stack_dir: Path    # the generated, committed stack
    workdir: Path      # where terraform runs

    @property
    def data_dir(self) -> Path:
        return self.workdir / ".work"

    @property
    def planfile(self) -> Path:
        return self.data_dir / "plan.tfplan"

    @property
    def is_copy(self) -> bool:
        return self.workdir != self.stack_dir


def workspace_for(target_kind: str, env_name: str, *, stacks_dir: Path = STACKS,
                  sandbox_dir: Path | None = None) -> Workspace:
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", env_name):
        raise ConfigError(f"environment name {env_name!r}: use lowercase letters, digits, '-'")
    stack_dir = stacks_dir / env_name
    if not (stack_dir / "main.tf").is_file():
        raise ConfigError(f"no stack in {stack_dir}: run `hetzner-deploy generate "
                          f"--env {env_name}` first")
    ws = Workspace(env_name, target_kind, stack_dir,
                   workdir_path(target_kind, env_name, stacks_dir=stacks_dir,
                                sandbox_dir=sandbox_dir))
    if target_kind == "sandbox":
        _refuse_sandbox_in_stacks(ws, stacks_dir)
    return ws


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _refuse_sandbox_in_stacks(ws: Workspace, stacks_dir: Path) -> None:
    """A sandbox run must never leave state, a lock file or .work in a stack folder."""
    for stacks in {STACKS, stacks_dir}:
        if _inside(ws.workdir, stacks):
            raise ConfigError(f"the sandbox work directory {ws.workdir} is inside the stack "
                              f"folder {stacks}: a sandbox run would write its state and "
                              f"lock file there; point HETZNER_DEPLOY_SANDBOX_DIR elsewhere")


def refuse_committed_for_local_endpoint(ws: Workspace, endpoint: str) -> None:
    """TARGET=hetzner with a loopback endpoint works in place: never in the committed stacks.

    Such a run talks to a stand-in, so its state and the stand-in's lock-file
    hash would land in terraform/stacks/<env>/, and that lock file breaks the
    next real `terraform init`.
    """
    if ws.target_kind == "hetzner" and is_loopback(endpoint) and _inside(ws.workdir, STACKS):
        raise ConfigError(f"HCLOUD_ENDPOINT {endpoint} is a local stand-in, but TARGET=hetzner "
                          f"would write its state and lock file into the committed "
                          f"{ws.workdir}; unset TARGET to use the sandbox's own work copy")


def workdir_path(target_kind: str, env_name: str, *, stacks_dir: Path = STACKS,
                 sandbox_dir: Path | None = None) -> Path:
    """Where terraform runs for this target (whether or not it exists yet)."""
    if target_kind == "sandbox":
        return (sandbox_dir or sandbox_root()) / "work" / env_name
    if target_kind == "hetzner":
        return stacks_dir / env_name
    raise ConfigError(f"unknown target kind {target_kind!r}")


def stack_files(directory: Path) -> list[Path]:
    found = {p for pattern in STACK_PATTERNS for p in directory.glob(pattern) if p.is_file()}
    return sorted(found)


def sync_copy(ws: Workspace) -> list[str]:
    """Mirror the stack's files into a sandbox workdir; returns names that changed."""
    if not ws.is_copy:
        return []
    private_dir(ws.workdir)   # holds terraform.tfstate
    changed = []
    wanted = {p.name: p.read_bytes() for p in stack_files(ws.stack_dir)}
    for name, data in wanted.items():
        dest = ws.workdir / name
        if not dest.is_file() or dest.read_bytes() != data:
            tmp = dest.with_name(f".{name}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, dest)
            changed.append(name)
    for old in stack_files(ws.workdir):
        if old.name not in wanted:
            old.unlink()
            changed.append(old.name)
    return sorted(changed)


def stack_hash(directory: Path) -> str:
    h = hashlib.sha256()
    for path in stack_files(directory):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def backend_kind(directory: Path) -> str:
    for path in directory.glob("*.tf"):
        match = _BACKEND.search(path.read_text(encoding="utf-8"))
        if match:
            return match.group(1)
    return "local"


def _terraform_blocks(directory: Path) -> str:
    """The text of every top-level `terraform { ... }` block: backend and providers."""
    blocks = []
    for path in sorted(directory.glob("*.tf")):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"^terraform\s*\{", text, re.MULTILINE):
            depth, i = 0, match.end() - 1
            while i < len(text):
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                if depth == 0:
                    break
                i += 1
            blocks.append(text[match.start():i + 1])
    return "\n".join(blocks)


def init_fingerprint(ws: Workspace, env: Mapping[str, str]) -> dict[str, str]:
    lock = ws.workdir / LOCK_FILE
    backend_env = "\0".join(f"{k}={env.get(k) or os.environ.get(k, '')}" for k in BACKEND_ENV)
    return {
        "lock_file": _sha(lock.read_bytes()) if lock.is_file() else "",
        "terraform_blocks": _sha(_terraform_blocks(ws.workdir).encode()),
        "backend_env": _sha(backend_env.encode()),
        "cli_config": env.get("TF_CLI_CONFIG_FILE", ""),
    }


def _init_record(ws: Workspace) -> Path:
    return ws.data_dir / "init.json"


def init_reason(ws: Workspace, env: Mapping[str, str]) -> str | None:
    """Why `terraform init` must run now, or None when the last one still holds."""
    record = _init_record(ws)
    if not record.is_file():
        return "first run in this directory"
    try:
        old = json.loads(record.read_text())
    except (OSError, ValueError):   # our own record: unreadable counts as absent
        return "init record unreadable (ignored)"
    if not isinstance(old, dict):
        return "init record unreadable (ignored)"
    new = init_fingerprint(ws, env)
    if old.get("dot_terraform") and not (ws.workdir / ".terraform").is_dir():
        return ".terraform/ is missing"
    if old.get("lock_file") != new["lock_file"]:
        return f"{LOCK_FILE} changed"
    if old.get("terraform_blocks") != new["terraform_blocks"] or \
            old.get("backend_env") != new["backend_env"]:
        return "backend or provider requirements changed"
    if old.get("cli_config") != new["cli_config"]:
        return "provider source (CLI config) changed"
    return None


def record_init(ws: Workspace, env: Mapping[str, str]) -> None:
    record = dict(init_fingerprint(ws, env), dot_terraform=(ws.workdir / ".terraform").is_dir())
    write_private(_init_record(ws), json.dumps(record, indent=2) + "\n")

"""Is the committed stack what `generate` would write now? Answered without rendering when possible.

Rendering to compare (render.stale_files) imports Jinja and PyYAML and runs
`terraform fmt`: most of what `plan` and a no-op `deploy` would otherwise
spend before Terraform starts. So once a comparison finds the stack fresh, the
digest of everything that comparison depended on is recorded; while the
digest is the same, the answer is the same and nothing is rendered.

The digest covers the validated config (every value), the files it names
(the SSH key), the generator code, templates and cloud-init, the stack's own
files and manifest, the profile and environment, and the terraform binary
that formats. Only "fresh" is recorded: a stale stack is compared every time.
Records live beside the config in `.work/stack-fresh/` (never in a stack
folder, which a sandbox run must leave untouched).
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from generator.config import ROOT, DeployConfig
from generator.manifest import stack_profile
from runner.workspace import stack_hash

_INPUT_DIRS = (ROOT / "generator", ROOT / "terraform" / "templates", ROOT / "cloud-init")


def _terraform_identity() -> str:
    binary = shutil.which(os.environ.get("TERRAFORM_BIN") or "terraform") or ""
    try:
        info = os.stat(binary)
        return f"{binary}\0{info.st_size}\0{info.st_mtime_ns}"
    except OSError:
        return binary


def inputs_digest(config: DeployConfig, profile_name: str, env: str, stacks_dir: Path) -> str:
    """Everything a render and its comparison with the stack on disk depend on."""
    h = hashlib.sha256()

    def add(*parts: bytes | str) -> None:
        for part in parts:
            h.update(part if isinstance(part, bytes) else part.encode())
            h.update(b"\0")
    add(repr(config), profile_name, env, _terraform_identity())
    for path in [Path(config.ssh_public_key),
                 *sorted(p for d in _INPUT_DIRS for p in d.glob("*") if p.is_file())]:
        try:
            add(str(path), path.read_bytes())
        except OSError:
            add(str(path), "missing")
    stack = stacks_dir / env
    add(stack_hash(stack) if stack.is_dir() else "no stack")
    manifest = stack / "manifest.json"
    add(manifest.read_bytes() if manifest.is_file() else b"no manifest")
    return h.hexdigest()


def _record(config: DeployConfig, stacks_dir: Path, env: str) -> Path:
    name = hashlib.sha256(f"{os.path.abspath(stacks_dir)}\0{env}".encode()).hexdigest()[:24]
    return Path(config.source).parent / ".work" / "stack-fresh" / name


def stale_files(config: DeployConfig, env: str | None = None, stacks_dir: Path | None = None,
                profile_name: str | None = None) -> list[str]:
    """render.stale_files, skipped while nothing it depends on has changed since it said []."""
    from generator.config import STACKS
    env = env or config.environment
    stacks_dir = stacks_dir or STACKS
    profile = profile_name or stack_profile(stacks_dir / env)
    digest = inputs_digest(config, profile or "", env, stacks_dir) if profile else None
    record = _record(config, stacks_dir, env)
    try:
        if digest and record.read_text() == digest:
            return []
    except OSError:
        pass
    from generator.render import stale_files as compare
    stale = compare(config, env, stacks_dir, profile_name=profile)
    if not stale and digest:
        try:
            record.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = record.with_name(f".{record.name}.{os.getpid()}")
            tmp.write_text(digest)
            os.replace(tmp, record)
        except OSError:
            pass    # an optimisation only: compare again next time
    return stale

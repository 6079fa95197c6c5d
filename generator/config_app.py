"""[app] in deploy.toml: what the app phase deploys, how it knows it works, how many releases stay.

Paths are relative to deploy.toml. The .env file holds the app's secrets: it is
never read at load time (commands that do not deploy must not need it), only by
`AppConfig.env_bytes()`, which refuses a file that is missing, not a regular file,
or readable by anyone but its owner (mode 0600). Its content is never shown.
Smoke commands are argv lists run on the server after the health check (through
remote/ssh.py, which quotes them): never shell strings.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

from errors import ConfigError
from generator.inputs import FileFault, bad, between, pattern, read_small_file, show, show_path

MAX_COMPOSE_BYTES = 256 * 1024
MAX_ENV_BYTES = 256 * 1024
PATH = r"[A-Za-z0-9._/~-][A-Za-z0-9._/ ~-]{0,254}"
GIT_URL = r"(?:https://|ssh://|git@)[A-Za-z0-9._@:/~-]{3,250}"
GIT_REF = r"[A-Za-z0-9._/-]{1,200}"


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


class AppSection(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

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

    @model_validator(mode="after")
    def _build_needs_a_repo(self):
        if self.image_source == "build" and not (self.repo and self.deploy_key):
            raise bad('image_source = "build" needs repo and deploy_key')
        return self


@dataclass(frozen=True)
class AppConfig:
    compose: Path
    env_file: Path
    health_path: str = "/health"
    health_port: int = 80
    health_timeout_s: int = 120
    keep: int = 5
    smoke: tuple[tuple[str, ...], ...] = ()
    image_source: str = "pull"
    repo: str | None = None
    ref: str = "main"
    deploy_key: Path | None = None

    @classmethod
    def from_section(cls, s: AppSection, base: Path) -> "AppConfig":
        def resolve(value: str) -> Path:
            path = Path(value).expanduser()
            return path if path.is_absolute() else base / path
        return cls(resolve(s.compose), resolve(s.env_file), s.health_path, s.health_port,
                   s.health_timeout_s, s.keep, s.smoke, s.image_source, s.repo, s.ref,
                   resolve(s.deploy_key) if s.deploy_key else None)

    def compose_bytes(self) -> bytes:
        return _read("app.compose", self.compose, MAX_COMPOSE_BYTES)

    def env_bytes(self) -> bytes:
        """The .env content, after the checks; the bytes are never put in a message."""
        _owner_only("app.env_file", self.env_file)
        _not_tracked("app.env_file", self.env_file)
        return _read("app.env_file", self.env_file, MAX_ENV_BYTES)


def _read(key: str, path: Path, limit: int) -> bytes:
    try:
        return read_small_file(path, limit)
    except FileFault as fault:
        if fault.missing:
            raise ConfigError(f"{key}: file not found: {show_path(path)}") from None
        raise ConfigError(f"{key}: {show_path(path)} {fault.problem}") from None


def _owner_only(key: str, path: Path) -> None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ConfigError(f"{key}: file not found: {show_path(path)} (create it with mode 0600)") \
            from None
    except OSError as exc:
        raise ConfigError(f"{key}: {show_path(path)}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{key}: {show_path(path)} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ConfigError(f"{key}: {show_path(path)} is mode {mode:04o}; it holds secrets, "
                          f"make it 0600 (chmod 600 {show_path(path)})")


def _not_tracked(key: str, path: Path) -> None:
    """Refuse a .env that git tracks: its secrets are already in the history."""
    import shutil
    from errors import CommandError
    from runner.process import run
    if shutil.which("git") is None:
        return   # no git, no repository to have committed it to
    try:
        done = run(["git", "ls-files", "--error-unmatch", "--", path.name], cwd=path.parent,
                   check=False, timeout=10)
    except CommandError:
        return   # git did not answer: tracking cannot be told, the 0600 check still holds
    if done.returncode == 0:
        raise ConfigError(f"{key}: {show_path(path)} is tracked by git; remove it "
                          f"(git rm --cached), rotate its secrets, and add it to .gitignore")

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

from errors import ConfigError

MAX_COMPOSE_BYTES = 256 * 1024
MAX_ENV_BYTES = 256 * 1024
MAX_FILE_BYTES = 1024 * 1024
PATH = r"[A-Za-z0-9._/~-][A-Za-z0-9._/ ~-]{0,254}"
GIT_URL = r"(?:https://|ssh://|git@)[A-Za-z0-9._@:/~-]{3,250}"
GIT_REF = r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}"   # never starts like an option
# A known_hosts line for the git host: "[host]:port" or host, a key type, base64.
HOST_KEY_LINE = (r"(?:\[[A-Za-z0-9.:-]{1,253}\]:[0-9]{1,5}|[A-Za-z0-9.:-]{1,253}) "
                 r"(?:ssh-ed25519|ecdsa-sha2-nistp(?:256|384|521)|ssh-rsa) [A-Za-z0-9+/]{20,8000}={0,2}")
# [app] files: plain relative paths below the Compose file's folder (remote/commands.py).
APP_FILE = r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}(?:/[A-Za-z0-9_][A-Za-z0-9._-]{0,127}){0,15}"


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
    files: tuple[str, ...] = ()            # relative to the Compose file's folder
    repo_host_key: str | None = None       # the git host's known_hosts line (pinned, no TOFU)

    def files_bytes(self) -> tuple[tuple[str, bytes], ...]:
        """The app's own files the Compose file mounts (./backend/app.py...), uploaded into
        every release beside it and part of the release id."""
        folder = self.compose.parent
        return tuple((name, _read("app.files", folder / name, MAX_FILE_BYTES)) for name in self.files)

    @classmethod
    def from_section(cls, s, base: Path) -> "AppConfig":
        """From config_file.AppSection (the schema; this module imports no pydantic)."""
        def resolve(value: str) -> Path:
            path = Path(value).expanduser()
            return path if path.is_absolute() else base / path
        return cls(resolve(s.compose), resolve(s.env_file), s.health_path, s.health_port,
                   s.health_timeout_s, s.keep, s.smoke, s.image_source, s.repo, s.ref,
                   resolve(s.deploy_key) if s.deploy_key else None, s.files, s.repo_host_key)

    def deploy_key_bytes(self) -> bytes:
        """The repository's deploy key (image_source = "build"): 0600, never committed."""
        _owner_only("app.deploy_key", self.deploy_key)
        _not_tracked("app.deploy_key", self.deploy_key)
        return _read("app.deploy_key", self.deploy_key, 64 * 1024)

    def compose_bytes(self) -> bytes:
        return _read("app.compose", self.compose, MAX_COMPOSE_BYTES)

    def env_bytes(self) -> bytes:
        """The .env content, after the checks; the bytes are never put in a message."""
        _owner_only("app.env_file", self.env_file)
        _not_tracked("app.env_file", self.env_file)
        return _read("app.env_file", self.env_file, MAX_ENV_BYTES)


def _read(key: str, path: Path, limit: int) -> bytes:
    from generator.inputs import FileFault, read_small_file, show_path
    try:
        return read_small_file(path, limit)
    except FileFault as fault:
        if fault.missing:
            raise ConfigError(f"{key}: file not found: {show_path(path)}") from None
        raise ConfigError(f"{key}: {show_path(path)} {fault.problem}") from None


def _owner_only(key: str, path: Path) -> None:
    from generator.inputs import show_path
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
    from generator.inputs import show_path
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

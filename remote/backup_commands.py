"""Every remote command of the backup (install, run, list, restore), as argv lists (pure; tests pin each one).

Server layout: the agent (ops/backup_agent.py, standard library only), its JSON
config and the off-site keys under /opt/hetzner-deploy/backup/ (0700); backups
and status.json under /mnt/data/backups/ (the Hetzner volume); systemd units in
/etc/systemd/system/. Compose commands go through the app's `current` link, so
the timer follows every new release without being reinstalled.
"""
from __future__ import annotations

from pathlib import PurePosixPath

from remote.commands import COMPOSE_NAME, ENV_NAME, _name, current_link

ROOT = PurePosixPath("/opt/hetzner-deploy/backup")
AGENT = ROOT / "backup_agent.py"
CONFIG = ROOT / "config.json"
S3_ENV = ROOT / "s3.env"
DATA = PurePosixPath("/mnt/data/backups")
STATUS = DATA / "status.json"
UNIT_DIR = PurePosixPath("/etc/systemd/system")
BACKUP_UNIT = "hetzner-deploy-backup"
DRILL_UNIT = "hetzner-deploy-backup-drill"
PYTHON = "/usr/bin/python3"     # Ubuntu's own: the agent needs nothing else

# Run inside the database container: the password comes from the container's own environment
# (the app's .env, through env_file), so it is on no command line, in no log, in no local file.
# PostgreSQL over TCP with a password works alike in the official image and the sandbox's
# (their local socket directories differ); Debian-layout images keep the tools off PATH.
PG_WRAPPER = ('for d in /usr/lib/postgresql/*/bin; do [ -d "$d" ] && PATH="$PATH:$d"; done; '
              'export PATH PGHOST=127.0.0.1 PGUSER="${POSTGRES_USER:-postgres}" '
              'PGPASSWORD="${POSTGRES_PASSWORD:-}"; exec "$@"')
REDIS_WRAPPER = ('if [ -n "${REDIS_PASSWORD:-}" ]; then export REDISCLI_AUTH="$REDIS_PASSWORD"; fi; '
                 'exec "$@"')


def compose_current(project: str, *args: str) -> list[str]:
    """`docker compose` on whatever release `current` points at."""
    link = current_link(project)
    return ["docker", "compose", "--project-name", _name(project, "project"),
            "--project-directory", str(link), "--file", str(link / COMPOSE_NAME),
            "--env-file", str(link / ENV_NAME), *args]


def current_env(project: str) -> PurePosixPath:
    return current_link(project) / ENV_NAME


def exec_in(project: str, service: str, wrapper: str) -> list[str]:
    """The agent's `exec` prefix: the agent appends the tool and its arguments."""
    return compose_current(project, "exec", "-T", _name(service, "service"), "sh", "-c", wrapper, "sh")


def service_container(project: str, service: str) -> list[str]:
    return compose_current(project, "ps", "--quiet", _name(service, "service"))


def container_image(container_id: str) -> list[str]:
    return ["docker", "inspect", "--format", "{{.Config.Image}}", "--", container_id]


def rdb_check(image: str) -> list[str]:
    """redis-check-rdb of the same image, in a throwaway container on no network; the agent
    replaces {file} with the copy to check (mounted read-only)."""
    return ["docker", "run", "--rm", "--network", "none", "-v", "{file}:/check/dump.rdb:ro",
            "--entrypoint", "redis-check-rdb", image, "/check/dump.rdb"]


def make_dirs() -> list[str]:
    return ["mkdir", "-p", "-m", "0700", str(ROOT), str(DATA)]


def systemd_running() -> list[str]:
    # sd_booted(): this directory exists only when systemd is PID 1.
    return ["test", "-d", "/run/systemd/system"]


def check_calendar(on_calendar: str) -> list[str]:
    # systemd's own parser: the config's pattern only keeps the string safe for a unit file.
    return ["systemd-analyze", "calendar", "--", on_calendar]


def daemon_reload() -> list[str]:
    return ["systemctl", "daemon-reload"]


def enable_timers() -> list[str]:
    return ["systemctl", "enable", "--now", f"{BACKUP_UNIT}.timer", f"{DRILL_UNIT}.timer"]


def agent(command: str, *args: str) -> list[str]:
    if command not in ("backup", "drill", "list", "restore"):
        raise ValueError(f"not an agent command: {command!r}")
    return [PYTHON, str(AGENT), command, "--config", str(CONFIG), *args]


def backup_now(systemd: bool) -> list[str]:
    # Through the unit when systemd runs, so a timer run and this one never overlap
    # (systemd starts a oneshot once) and the journal keeps its output.
    return ["systemctl", "start", f"{BACKUP_UNIT}.service"] if systemd else agent("backup")


def read_status() -> list[str]:
    return ["cat", "--", str(STATUS)]


def has_rclone() -> list[str]:
    return ["rclone", "version"]


def install_rclone() -> list[str]:
    return ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y",
            "--no-install-recommends", "rclone"]


def list_services(project: str) -> list[str]:
    return compose_current(project, "config", "--services")


def stop_services(project: str, services: list[str]) -> list[str]:
    return compose_current(project, "stop", *[_name(s, "service") for s in services])


def start_all(project: str) -> list[str]:
    return compose_current(project, "up", "--detach")


# --- migrate import: a dump of the old host joins the backups, complete or not at all --------

def _backup_name(name: str) -> str:
    import re
    if not re.fullmatch(r"\d{8}T\d{6}Z", name):
        raise ValueError(f"not a backup name: {name!r}")
    return name


def exists(name: str) -> list[str]:
    return ["test", "-e", str(DATA / _backup_name(name))]


def import_start(name: str) -> list[str]:
    """A fresh `<name>.partial` (what an interrupted upload left goes first)."""
    partial = str(DATA / f"{_backup_name(name)}.partial")
    return ["sh", "-c", 'rm -rf -- "$1" && mkdir -m 0700 -- "$1"', "sh", partial]


def import_commit(name: str) -> list[str]:
    return ["mv", "-T", "--", str(DATA / f"{_backup_name(name)}.partial"),
            str(DATA / _backup_name(name))]

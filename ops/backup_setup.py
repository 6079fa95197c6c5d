"""What the app phase installs for backups: the agent's JSON config and the systemd units (pure).

Why a systemd timer and not a Compose service: the backup must outlive the app
(a failed release, `compose down` or a rollback must not stop it), it runs the
`docker compose exec` that a container would need the Docker socket for, and
`Persistent=true` catches a run missed while the server was off. The journal
keeps each run's output; status.json keeps the verdict for `backup status`.

The agent config holds no secret: the databases' passwords stay in the
containers' environment (remote/backup_commands.py wrappers) and the off-site
keys go to a separate 0600 file only when [backup] s3 is set.
"""
from __future__ import annotations

import json

from generator.config_backup import BackupConfig
from remote import backup_commands as b

UNIT_MODE = 0o644


def env_value(env: bytes, key: str) -> str | None:
    """One KEY=value of a .env file (the last one wins, as in Compose); never logged."""
    found = None
    for line in env.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line.startswith("export "):
            line = line[7:].lstrip()
        if "=" in line and not line.startswith("#") and line.split("=", 1)[0].strip() == key:
            found = line.split("=", 1)[1].strip().strip("'\"")
    return found


def agent_config(project: str, backup: BackupConfig, *, postgres_db: str | None,
                 redis_image: str | None) -> dict:
    """The JSON the agent reads on the server (ops/backup_agent.py's `config`)."""
    doc: dict = {"dir": str(b.DATA), "status_file": str(b.STATUS),
                 "keep_daily": backup.keep_daily, "keep_weekly": backup.keep_weekly,
                 "stale_after_hours": backup.stale_after_hours}
    if backup.notify:
        doc["notify"] = list(backup.notify)
    if backup.postgres_service:
        doc["postgres"] = {"exec": b.exec_in(project, backup.postgres_service, b.PG_WRAPPER),
                           "args": [], "db": backup.postgres_db or postgres_db or "postgres"}
    if backup.redis_service:
        redis = {"exec": b.exec_in(project, backup.redis_service, b.REDIS_WRAPPER),
                 "data_file": backup.redis_data_file,
                 "stop": b.compose_current(project, "stop", backup.redis_service),
                 "start": b.compose_current(project, "start", backup.redis_service)}
        if redis_image:
            redis["check"] = b.rdb_check(redis_image)
        doc["redis"] = redis
    # The restore drill's throwaway containers: the services' own images, the app's .env.
    doc["scratch"] = {"env_file": str(b.current_env(project)), "pg_wrapper": b.PG_WRAPPER}
    if backup.postgres_service:
        doc["scratch"]["postgres_ps"] = b.service_container(project, backup.postgres_service)
    if backup.redis_service:
        doc["scratch"]["redis_ps"] = b.service_container(project, backup.redis_service)
    if backup.s3:
        doc["s3"] = {"endpoint": backup.s3.endpoint, "bucket": backup.s3.bucket,
                     **({"prefix": backup.s3.prefix} if backup.s3.prefix else {})}
        doc["env_file"] = str(b.S3_ENV)
    return doc


def config_bytes(doc: dict) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def s3_env(environ) -> bytes | None:
    """The off-site keys from this run's environment, as the agent's env file; None if unset."""
    key, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        return None
    for value in (key, secret):
        if "\n" in value or "\r" in value or "\0" in value:
            return None
    return f"AWS_ACCESS_KEY_ID={key}\nAWS_SECRET_ACCESS_KEY={secret}\n".encode()


def _service(description: str, command: str) -> str:
    return f"""[Unit]
Description={description}
Documentation=file://{b.AGENT}
Wants=network-online.target
After=network-online.target docker.service

[Service]
Type=oneshot
ExecStart={b.PYTHON} {b.AGENT} {command} --config {b.CONFIG}
Nice=10
IOSchedulingClass=idle
TimeoutStartSec=4h
PrivateTmp=true
"""


def _timer(description: str, on_calendar: str, unit: str) -> str:
    return f"""[Unit]
Description={description}

[Timer]
OnCalendar={on_calendar}
Persistent=true
RandomizedDelaySec=10min
Unit={unit}.service

[Install]
WantedBy=timers.target
"""


def units(backup: BackupConfig) -> dict[str, str]:
    """File name in /etc/systemd/system -> content."""
    return {
        f"{b.BACKUP_UNIT}.service": _service("hetzner-deploy backup of PostgreSQL and Redis",
                                             "backup"),
        f"{b.BACKUP_UNIT}.timer": _timer("hetzner-deploy backup schedule", backup.schedule,
                                         b.BACKUP_UNIT),
        f"{b.DRILL_UNIT}.service": _service("hetzner-deploy restore drill of the newest backup",
                                            "drill"),
        f"{b.DRILL_UNIT}.timer": _timer("hetzner-deploy restore drill schedule",
                                        backup.drill_schedule, b.DRILL_UNIT),
    }

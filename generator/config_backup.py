"""[backup] in deploy.toml: when the server backs up, how much it keeps, where the off-site copy goes.

Values only (the schema is generator/config_file.py's BackupSection). The
off-site store's keys never live here: they come from the environment of the
run that installs the backup (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) and go
to the server by SFTP only, 0600 (ops/backup_setup.py).
"""
from __future__ import annotations

from dataclasses import dataclass

# systemd OnCalendar: a whole-string pattern (letters, digits, * : , . / ~ - and spaces).
# The exact grammar is systemd's; `systemd-analyze calendar` is the oracle in the tests.
ON_CALENDAR = r"[A-Za-z0-9*][A-Za-z0-9*:,./~ -]{0,99}"
SERVICE = r"[a-z0-9][a-z0-9_-]{0,62}"          # remote/commands.py names
DB_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,62}"
DATA_FILE = r"/[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+){0,15}"


@dataclass(frozen=True)
class S3Target:
    endpoint: str
    bucket: str
    prefix: str = ""


@dataclass(frozen=True)
class BackupConfig:
    schedule: str = "*-*-* 03:15:00"
    keep_daily: int = 7
    keep_weekly: int = 4
    stale_after_hours: int = 26
    notify: tuple[str, ...] = ()
    s3: S3Target | None = None
    postgres_service: str = "postgres"     # "" = no PostgreSQL in the app
    postgres_db: str | None = None         # None: POSTGRES_DB from the app's .env, else "postgres"
    redis_service: str = "redis"           # "" = no Redis in the app
    redis_data_file: str = "/mnt/data/redis/dump.rdb"   # the host path of Redis's dump.rdb
    drill_schedule: str = "Sun *-*-* 04:30:00"          # the scratch-restore drill's timer

    @classmethod
    def from_section(cls, s) -> "BackupConfig":
        """From config_file.BackupSection (this module imports no pydantic)."""
        s3 = S3Target(s.s3.endpoint, s.s3.bucket, s.s3.prefix or "") if s.s3 else None
        return cls(s.schedule, s.keep_daily, s.keep_weekly, s.stale_after_hours, s.notify, s3,
                   s.services.postgres, s.services.postgres_db, s.services.redis,
                   s.services.redis_data_file, s.drill_schedule)

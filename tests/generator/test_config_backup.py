"""[backup] in deploy.toml: defaults, values, and one line per bad value."""
from __future__ import annotations

import pytest

from errors import ConfigError
from generator.config_backup import BackupConfig, S3Target
from generator.config_file import parse
from tests.conftest import BASE_TOML

APP = '\n[app]\ncompose = "app/compose.yaml"\nenv_file = "app/.env"\n'


def _load(make_config, extra: str):
    return parse(make_config(BASE_TOML + APP + extra), False)


def test_no_section_no_backups(make_config):
    assert _load(make_config, "").backup is None


def test_backups_need_the_app(make_config):
    with pytest.raises(ConfigError, match=r"\[backup\] needs \[app\]"):
        parse(make_config(BASE_TOML + "\n[backup]\n"), False)


def test_defaults_and_values(make_config):
    assert _load(make_config, "\n[backup]\n").backup == BackupConfig()
    got = _load(make_config, '\n[backup]\nschedule = "daily"\nkeep_daily = 3\nkeep_weekly = 0\n'
                             'stale_after_hours = 30\nnotify = ["/usr/local/bin/page", "ops"]\n'
                             '[backup.s3]\nendpoint = "https://fsn1.your-objectstorage.com"\n'
                             'bucket = "team-backups"\nprefix = "prod/db"\n'
                             '[backup.services]\nredis = ""\npostgres_db = "shop"\n').backup
    assert got == BackupConfig(schedule="daily", keep_daily=3, keep_weekly=0, stale_after_hours=30,
                               notify=("/usr/local/bin/page", "ops"),
                               s3=S3Target("https://fsn1.your-objectstorage.com", "team-backups",
                                           "prod/db"),
                               redis_service="", postgres_db="shop")


@pytest.mark.parametrize("extra, says", [
    ('schedule = "daily\\n"', "backup.schedule: must be a systemd OnCalendar time"),
    ('schedule = "daily; rm -rf /"', "backup.schedule: must be a systemd OnCalendar time"),
    ('schedule = "%n"', "backup.schedule: must be a systemd OnCalendar time"),
    ("keep_daily = 0", "backup.keep_daily"),
    ('keep_daily = "7"', "backup.keep_daily"),
    ("stale_after_hours = 0", "backup.stale_after_hours"),
    ('notify = "curl http://x"', "backup.notify: must be a command as an argv list"),
    ("notify = []", "backup.notify"),
    ('password = "x"', "unknown key backup.password"),
    ('[backup.s3]\nendpoint = "https://x.example"\nbucket = "b"\nsecret_key = "k"',
     "unknown key backup.s3.secret_key"),
    ('[backup.s3]\nbucket = "bk-1"', "backup.s3.endpoint"),
    ('[backup.services]\npostgres = ""\nredis = ""', "name a postgres or a redis service"),
    ('[backup.services]\npostgres = "Postgres DB"', "backup.services.postgres"),
    ('[backup.services]\nredis_data_file = "relative/dump.rdb"', "backup.services.redis_data_file"),
])
def test_bad_values_are_one_line(make_config, extra, says):
    with pytest.raises(ConfigError) as caught:
        _load(make_config, f"\n[backup]\n{extra}\n")
    assert says in str(caught.value) and "\n" not in str(caught.value)

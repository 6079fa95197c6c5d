"""What the app phase installs for backups: exact argv, the agent config, systemd units.

The units are checked by systemd's own parser (`systemd-analyze verify`, and
`calendar` for the schedules) when the host has it, else by configparser."""
from __future__ import annotations

import configparser
import datetime as dt
import shutil
import subprocess

import pytest

from generator.config_backup import BackupConfig, S3Target
from ops import backup_setup as setup
from ops.backup_service import Listing
from remote import backup_commands as b

COMPOSE = ["docker", "compose", "--project-name", "shop", "--project-directory", "/opt/shop/current",
           "--file", "/opt/shop/current/compose.yaml", "--env-file", "/opt/shop/current/.env"]
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def test_exec_prefix_runs_the_tool_in_the_container_with_the_password_from_its_env():
    assert b.exec_in("shop", "postgres", b.PG_WRAPPER) == [
        *COMPOSE, "exec", "-T", "postgres", "sh", "-c", b.PG_WRAPPER, "sh"]
    assert 'PGPASSWORD="${POSTGRES_PASSWORD:-}"' in b.PG_WRAPPER
    assert 'REDISCLI_AUTH="$REDIS_PASSWORD"' in b.REDIS_WRAPPER


def test_agent_and_service_argv():
    assert b.agent("backup") == ["/usr/bin/python3", "/opt/hetzner-deploy/backup/backup_agent.py",
                                 "backup", "--config", "/opt/hetzner-deploy/backup/config.json"]
    assert b.agent("restore", "--backup", "20261128T031500Z")[-2:] == ["--backup",
                                                                       "20261128T031500Z"]
    assert b.backup_now(True) == ["systemctl", "start", "hetzner-deploy-backup.service"]
    assert b.backup_now(False) == b.agent("backup")
    assert b.enable_timers() == ["systemctl", "enable", "--now", "hetzner-deploy-backup.timer",
                                 "hetzner-deploy-backup-drill.timer"]
    assert b.stop_services("shop", ["backend", "ai"]) == [*COMPOSE, "stop", "backend", "ai"]
    assert b.start_all("shop") == [*COMPOSE, "up", "--detach"]
    assert b.rdb_check("redis:7") == ["docker", "run", "--rm", "--network", "none", "-v",
                                      "{file}:/check/dump.rdb:ro", "--entrypoint",
                                      "redis-check-rdb", "redis:7", "/check/dump.rdb"]
    assert b.check_calendar("daily") == ["systemd-analyze", "calendar", "--", "daily"]
    with pytest.raises(ValueError):
        b.agent("rm")


@pytest.mark.parametrize("bad", ["Redis", "a b", "x;rm", "", "-v"])
def test_service_names_are_refused_unless_plain(bad):
    from errors import ConfigError
    with pytest.raises(ConfigError):
        b.exec_in("shop", bad, b.REDIS_WRAPPER)


def test_agent_config_holds_no_secret_and_follows_the_app():
    env = b"POSTGRES_USER=app\nPOSTGRES_DB=shopdb\nPOSTGRES_PASSWORD=s3cret-pg\nREDIS_PASSWORD=s3cret-r\n"
    backup = BackupConfig(keep_daily=3, notify=("/usr/local/bin/page", "ops"),
                          s3=S3Target("https://fsn1.your-objectstorage.com", "bk", "shop"))
    doc = setup.agent_config("shop", backup, postgres_db=setup.env_value(env, "POSTGRES_DB"),
                             redis_image="redis:7")
    text = setup.config_bytes(doc).decode()
    assert "s3cret" not in text
    assert doc["postgres"] == {"exec": b.exec_in("shop", "postgres", b.PG_WRAPPER), "args": [],
                               "db": "shopdb"}
    assert doc["redis"]["stop"] == [*COMPOSE, "stop", "redis"]
    assert doc["redis"]["start"] == [*COMPOSE, "start", "redis"]
    assert doc["redis"]["check"] == b.rdb_check("redis:7")
    assert doc["keep_daily"] == 3 and doc["notify"] == ["/usr/local/bin/page", "ops"]
    assert doc["s3"] == {"endpoint": "https://fsn1.your-objectstorage.com", "bucket": "bk",
                         "prefix": "shop"}
    assert doc["env_file"] == "/opt/hetzner-deploy/backup/s3.env"
    assert doc["scratch"] == {"env_file": "/opt/shop/current/.env", "pg_wrapper": b.PG_WRAPPER,
                              "postgres_ps": [*COMPOSE, "ps", "--quiet", "postgres"],
                              "redis_ps": [*COMPOSE, "ps", "--quiet", "redis"]}
    no_redis = setup.agent_config("shop", BackupConfig(redis_service=""), postgres_db=None,
                                  redis_image=None)
    assert "redis" not in no_redis and no_redis["postgres"]["db"] == "postgres"


def test_s3_keys_come_from_the_environment_only():
    assert setup.s3_env({}) is None
    assert setup.s3_env({"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "a\nb"}) is None
    assert setup.s3_env({"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}) == \
        b"AWS_ACCESS_KEY_ID=k\nAWS_SECRET_ACCESS_KEY=s\n"


def _write_units(tmp_path, backup: BackupConfig):
    for name, text in setup.units(backup).items():
        (tmp_path / name).write_text(text)
    return sorted(str(p) for p in tmp_path.iterdir())


def test_units_parse_and_run_the_agent(tmp_path):
    paths = _write_units(tmp_path, BackupConfig(schedule="daily"))
    for path in paths:
        parser = configparser.ConfigParser(interpolation=None, strict=True)
        parser.optionxform = str
        parser.read(path)
        if path.endswith(".timer"):
            assert parser["Install"]["WantedBy"] == "timers.target"
            assert parser["Timer"]["Persistent"] == "true"
        else:
            assert parser["Service"]["Type"] == "oneshot"
            assert parser["Service"]["ExecStart"].startswith(
                "/usr/bin/python3 /opt/hetzner-deploy/backup/backup_agent.py ")
    timer = (tmp_path / "hetzner-deploy-backup.timer").read_text()
    assert "OnCalendar=daily\n" in timer and "Unit=hetzner-deploy-backup.service" in timer


def test_units_pass_systemd_analyze_verify_where_the_host_has_it(tmp_path):
    paths = _write_units(tmp_path, BackupConfig())
    if SYSTEMD_ANALYZE is None:      # the configparser test above is then the whole check
        return
    done = subprocess.run([SYSTEMD_ANALYZE, "verify", "--man=no", *paths], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    # The oracle can fail: a timer systemd cannot read is refused by the same call.
    (tmp_path / "hetzner-deploy-backup.timer").write_text(
        setup.units(BackupConfig(schedule="every tuesday-ish"))["hetzner-deploy-backup.timer"])
    assert subprocess.run([SYSTEMD_ANALYZE, "verify", "--man=no", *paths], capture_output=True,
                          timeout=60).returncode != 0


def test_default_schedules_are_systemd_times():
    import re
    from generator.config_backup import ON_CALENDAR
    for value in (BackupConfig().schedule, BackupConfig().drill_schedule):
        assert re.fullmatch(ON_CALENDAR, value)
        if SYSTEMD_ANALYZE is None:
            continue
        assert subprocess.run([SYSTEMD_ANALYZE, "calendar", "--", value],
                              capture_output=True).returncode == 0


NOW = dt.datetime(2026, 11, 28, 20, 0, tzinfo=dt.timezone.utc)


def _listing(names, status, stale=26):
    local = tuple({"name": n, "bytes": 10, "time": dt.datetime.strptime(n, "%Y%m%dT%H%M%SZ")
                   .replace(tzinfo=dt.timezone.utc).isoformat()} for n in names)
    return Listing(local, None, None, status, stale)


def test_status_verdicts():
    assert _listing(["20261128T031500Z"], {"status": "ok"}).verdict(NOW)[0] == "ok"
    state, why = _listing(["20261127T031500Z"], {"status": "ok"}).verdict(NOW)
    assert state == "stale" and "40.8 h old" in why
    state, why = _listing(["20261128T031500Z"], {"status": "failed", "error": "disk full"}).verdict(NOW)
    assert (state, why) == ("failed", "disk full")
    assert _listing([], {"status": "none"}).verdict(NOW)[0] == "none"
    assert _listing(["20261128T031500Z"], {"status": "ok"}, stale=10).verdict(NOW)[0] == "stale"


def test_an_imported_dump_joins_the_backups_complete_or_not_at_all():
    assert b.exists("20261129T010203Z") == ["test", "-e", "/mnt/data/backups/20261129T010203Z"]
    assert b.import_start("20261129T010203Z") == [
        "sh", "-c", 'rm -rf -- "$1" && mkdir -m 0700 -- "$1"', "sh",
        "/mnt/data/backups/20261129T010203Z.partial"]
    assert b.import_commit("20261129T010203Z") == [
        "mv", "-T", "--", "/mnt/data/backups/20261129T010203Z.partial",
        "/mnt/data/backups/20261129T010203Z"]
    for bad in ("../etc", "20261129T010203Z/..", "x", "20261129T010203Z; rm -rf /"):
        with pytest.raises(ValueError):
            b.import_start(bad)

"""The server-side live restore, status and signals against a real PostgreSQL 15 and Redis 7.

Redis runs with AOF on, as the example app's does: a restore that only replaced
dump.rdb would come back empty (Redis loads the AOF), so these tests catch it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ops import backup_agent, backup_restore
from tests.ops.test_backup_agent import AGENT, LocalRedis, _free_port, _psql, databases
from tests.ops.test_backup_agent import s3  # noqa: F401 - a fixture

pytestmark = pytest.mark.e2e      # real PostgreSQL and Redis servers


class AofRedis(LocalRedis):
    """redis-server with appendonly yes, stopped and started by argv as compose would."""

    def __init__(self, directory: Path):
        self.dir, self.port = directory, _free_port()
        directory.mkdir(parents=True, exist_ok=True)
        self.start_argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                           "--dir", str(directory), "--appendonly", "yes", "--save", "",
                           "--daemonize", "yes", "--pidfile", str(directory / "redis.pid")]
        self.stop_argv = ["redis-cli", "-p", str(self.port), "SHUTDOWN"]
        self.start()

    def start(self) -> None:
        subprocess.run(self.start_argv, check=True, capture_output=True)
        self.wait_ready()

    def stop(self) -> None:
        subprocess.run(self.stop_argv, capture_output=True)


@pytest.fixture
def dbs(tmp_path):
    with databases(lambda: AofRedis(tmp_path / "redis")) as both:
        yield both


def _config(tmp_path, pg, redis, **extra) -> dict:
    return {"dir": str(tmp_path / "backups"), "stale_after_hours": 26,
            "postgres": {"args": ["-h", "127.0.0.1", "-p", str(pg.port), "-U", "tf"],
                         "db": "postgres"},
            "redis": {"args": ["-p", str(redis.port)], "data_file": str(redis.dir / "dump.rdb"),
                      "stop": redis.stop_argv, "start": redis.start_argv},
            **extra}


def _seed(pg, redis) -> None:
    _psql(pg, "postgres", "CREATE TABLE notes (id serial PRIMARY KEY, body text);"
                          "INSERT INTO notes (body) SELECT 'n' || g FROM generate_series(1, 500) g")
    for i in range(40):
        redis.cli("SET", f"k{i}", f"v{i}")


def test_live_restore_brings_back_every_row_and_key_with_aof_on(dbs, tmp_path):
    pg, redis = dbs
    _seed(pg, redis)
    config = _config(tmp_path, pg, redis)
    backup = backup_agent.run_backup(config).name
    # Wipe, and write what the backup does not hold.
    _psql(pg, "postgres", "TRUNCATE notes; INSERT INTO notes (body) VALUES ('later')")
    redis.cli("FLUSHALL")
    redis.cli("SET", "later", "x")

    done = backup_restore.restore_live(config, backup)
    assert done["postgres"] == {"public.notes": 500} and done["redis"] == {"db0": 40}
    assert _psql(pg, "postgres", "SELECT count(*), min(body) FROM notes") == "500|n1"
    assert redis.cli("DBSIZE") == "40" and redis.cli("GET", "k17") == "v17"
    assert redis.cli("EXISTS", "later") == "0"
    # The restored data is Redis's own from now on: it survives another restart (AOF base).
    redis.stop()
    redis.start()
    assert redis.cli("DBSIZE") == "40"
    assert not list(redis.dir.glob(".pre-restore-*"))


def test_a_corrupted_backup_is_refused_before_anything_changes(dbs, tmp_path):
    pg, redis = dbs
    _seed(pg, redis)
    config = _config(tmp_path, pg, redis)
    backup = backup_agent.run_backup(config)
    dump = backup / "postgres.dump"
    dump.write_bytes(dump.read_bytes()[:-100])
    _psql(pg, "postgres", "INSERT INTO notes (body) VALUES ('kept')")
    with pytest.raises(backup_agent.BackupFailed, match="corrupted"):
        backup_restore.restore_live(config, backup.name)
    with pytest.raises(backup_agent.BackupFailed, match="corrupted"):
        backup_agent.drill(config, backup.name)
    # The agent as the server runs it: one line, exit 1, no traceback.
    path = tmp_path / "backup.json"
    path.write_text(json.dumps(config))
    done = subprocess.run([sys.executable, str(AGENT), "restore", "--config", str(path),
                           "--backup", backup.name], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("restore failed: ") and "corrupted" in done.stderr
    assert done.stderr.count("\n") == 1
    assert _psql(pg, "postgres", "SELECT count(*) FROM notes") == "501"
    assert redis.cli("DBSIZE") == "40"


def test_sigterm_midway_is_a_failure_with_status_and_notify(dbs, tmp_path):
    pg, redis = dbs
    _seed(pg, redis)
    notified = tmp_path / "notified"
    config = _config(tmp_path, pg, redis, notify=["sh", "-c", f'echo "$0" > {notified}'])
    # A slow pg_dump: the run is still at PostgreSQL when it is stopped.
    config["postgres"]["exec"] = ["sh", "-c", 'sleep 30 & wait; exec "$@"', "sh"]
    path = tmp_path / "backup.json"
    path.write_text(json.dumps(config))
    proc = subprocess.Popen([sys.executable, str(AGENT), "backup", "--config", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    status = tmp_path / "backups" / "status.json"
    for _ in range(200):
        if status.exists() and json.loads(status.read_text())["status"] == "running":
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "stopped by signal" in err and "backup ok" not in out
    doc = json.loads(status.read_text())
    assert doc["status"] == "failed" and "signal" in doc["error"]
    assert "backup failed" in notified.read_text()
    assert backup_agent.finals(tmp_path / "backups") == []


def test_a_run_killed_outright_reads_as_failed(tmp_path):
    root = tmp_path / "backups"
    root.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    (root / "status.json").write_text(json.dumps({"status": "running", "pid": dead.pid,
                                                  "time": "2026-11-28T03:15:00+00:00"}))
    doc = backup_restore.status({"dir": str(root)})
    assert doc["status"] == "failed" and "stopped before it finished" in doc["error"]
    (root / "status.json").write_text(json.dumps({"status": "running", "pid": os.getpid(),
                                                  "time": "2026-11-28T03:15:00+00:00"}))
    assert backup_restore.status({"dir": str(root)})["status"] == "running"


def test_list_shows_local_and_off_site_with_keys_from_the_env_file_only(dbs, tmp_path, s3,
                                                                        monkeypatch):
    pg, redis = dbs
    client, proxy = s3
    _seed(pg, redis)
    # The keys reach the agent through its 0600 env file, not the environment it starts in.
    env_file = tmp_path / "s3.env"
    env_file.write_text("AWS_ACCESS_KEY_ID=test\nAWS_SECRET_ACCESS_KEY=test-secret-key\n")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    config = _config(tmp_path, pg, redis, env_file=str(env_file), s3={
        "endpoint": f"http://127.0.0.1:{proxy.port}", "bucket": "backups", "prefix": "prod",
        "rclone": ["rclone", "--retries", "1", "--low-level-retries", "1"]})
    path = tmp_path / "backup.json"
    path.write_text(json.dumps(config))
    run = [sys.executable, str(AGENT), "--config", str(path)]
    done = subprocess.run([run[0], run[1], "backup", *run[2:]], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    listed = subprocess.run([run[0], run[1], "list", *run[2:]], capture_output=True, text=True,
                            timeout=300)
    assert listed.returncode == 0, listed.stderr
    doc = json.loads(listed.stdout)
    assert "offsite_error" not in doc, doc.get("offsite_error")
    [local] = doc["local"]
    # The oracle: the store's own listing through boto3.
    objects = client.list_objects_v2(Bucket="backups", Prefix=f"prod/{local['name']}/")["Contents"]
    assert doc["offsite"] == [{"name": local["name"], "time": local["time"],
                               "bytes": sum(o["Size"] for o in objects)}]
    assert local["bytes"] == sum(o["Size"] for o in objects)
    assert doc["status"]["status"] == "ok" and doc["status"]["backup"] == local["name"]
    assert "test-secret-key" not in listed.stdout + listed.stderr + path.read_text()


def test_a_second_run_waits_for_the_first(tmp_path):
    """The agent's lock: a run that finds the lock held waits, and does not touch the first
    run's folder (here: a stale-looking .partial the first run is still writing)."""
    import fcntl
    root = tmp_path / "backups"
    root.mkdir()
    (root / "20261128T000000Z.partial").mkdir()
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"dir": str(root)}))     # nothing to back up: a quick run
    with open(root / ".lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        proc = subprocess.Popen([sys.executable, str(AGENT), "backup", "--config", str(config)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=2)
        assert (root / "20261128T000000Z.partial").is_dir()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert not (root / "20261128T000000Z.partial").exists()


def test_a_redis_restore_that_does_not_count_right_puts_the_old_data_back(dbs, tmp_path):
    pg, redis = dbs
    _seed(pg, redis)
    config = _config(tmp_path, pg, redis)
    config.pop("postgres")
    backup = backup_agent.run_backup(config)
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["redis"]["counts"] = {"db0": 41}          # what the RDB will not give back
    (backup / "manifest.json").write_text(json.dumps(manifest))
    redis.cli("FLUSHALL")
    redis.cli("SET", "now", "1")
    with pytest.raises(backup_agent.BackupFailed, match="previous data was put back"):
        backup_restore.restore_live(config, backup.name)
    # Redis runs again with what it had before the attempt, and keeps it across a restart.
    assert redis.cli("DBSIZE") == "1" and redis.cli("GET", "now") == "1"
    redis.stop()
    redis.start()
    assert redis.cli("DBSIZE") == "1"
    assert not list(redis.dir.glob(".pre-restore-*"))

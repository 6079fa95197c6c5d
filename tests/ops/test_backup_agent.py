"""The server-side backup against a real PostgreSQL 15 and a real Redis (Debian packages).

The proof of a backup is a restore: the dump goes into a fresh database and
the RDB copy into a fresh Redis, and what comes back is counted there."""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ops import backup_agent
from tests.pipeline.pg import LocalPostgres

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "ops" / "backup_agent.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalRedis:
    def __init__(self, directory: Path, dbfilename: str = "dump.rdb"):
        self.dir, self.port = directory, _free_port()
        directory.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(directory), "--dbfilename", dbfilename, "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.wait_ready()

    def wait_ready(self) -> None:
        for _ in range(200):
            if self.cli("PING") == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis did not start")

    def cli(self, *args: str) -> str:
        done = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True,
                              text=True)
        return done.stdout.strip()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@contextlib.contextmanager
def databases(make_redis):
    """A PostgreSQL and a Redis server for one test, both stopped afterwards."""
    pg = LocalPostgres()
    pg.start()
    redis = make_redis()
    try:
        yield pg, redis
    finally:
        redis.stop()
        pg.stop()


@pytest.fixture
def dbs(tmp_path):
    with databases(lambda: LocalRedis(tmp_path / "redis")) as both:
        yield both


def _psql(pg, db: str, sql: str) -> str:
    return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "tf", "-d", db,
                           "-At", "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True,
                          text=True, check=True).stdout.strip()


def _config(tmp_path, pg, redis, **extra) -> Path:
    doc = {"dir": str(tmp_path / "backups"),
           "postgres": {"args": ["-h", "127.0.0.1", "-p", str(pg.port), "-U", "tf"],
                        "db": "postgres"},
           "redis": {"args": ["-p", str(redis.port)], "data_file": str(redis.dir / "dump.rdb")},
           **extra}
    path = tmp_path / "backup.json"
    path.write_text(json.dumps(doc))
    return path


def _agent(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(AGENT), "backup", "--config", str(config)],
                          capture_output=True, text=True, timeout=300)


def _seed(pg, redis) -> None:
    _psql(pg, "postgres", "CREATE TABLE notes (id serial PRIMARY KEY, body text);"
                          "INSERT INTO notes (body) SELECT 'n' || g FROM generate_series(1, 1234) g;"
                          'CREATE TABLE "Calls" (id int); INSERT INTO "Calls" VALUES (1), (2), (3);')
    for i in range(57):
        redis.cli("SET", f"k{i}", f"v{i}")
    redis.cli("-n", "3", "SET", "other", "x")


@pytest.mark.e2e   # real PostgreSQL and Redis servers
def test_backup_restores_every_row_and_key_and_the_manifest_counts_them(dbs, tmp_path):
    pg, redis = dbs
    _seed(pg, redis)
    done = _agent(_config(tmp_path, pg, redis))
    assert done.returncode == 0, done.stderr
    [backup] = backup_agent.finals(tmp_path / "backups")
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["postgres"]["counts"] == {"public.notes": 1234, 'public."Calls"': 3}
    assert manifest["redis"]["counts"] == {"db0": 57, "db3": 1}
    for name, info in manifest["files"].items():
        assert info["sha256"] == backup_agent._sha256(backup / name)
    status = json.loads((tmp_path / "backups" / "status.json").read_text())
    assert status["status"] == "ok" and status["backup"] == backup.name

    # The proof: restore into a fresh database and a fresh Redis, and count there.
    _psql(pg, "postgres", "CREATE DATABASE restored")
    subprocess.run(["pg_restore", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "tf", "-d",
                    "restored", str(backup / "postgres.dump")], check=True)
    assert _psql(pg, "restored", "SELECT count(*) FROM notes") == "1234"
    assert _psql(pg, "restored", 'SELECT count(*) FROM "Calls"') == "3"
    again = LocalRedis(tmp_path / "restored-redis", dbfilename="dump.rdb")
    again.stop()
    (tmp_path / "restored-redis" / "dump.rdb").write_bytes((backup / "redis.rdb").read_bytes())
    again = LocalRedis(tmp_path / "restored-redis")
    try:
        assert again.cli("DBSIZE") == "57" and again.cli("GET", "k41") == "v41"
        assert again.cli("-n", "3", "GET", "other") == "x"
    finally:
        again.stop()


@pytest.mark.e2e   # real PostgreSQL and Redis servers
def test_a_failed_backup_is_reported_as_failed_and_keeps_the_previous_ones(dbs, tmp_path):
    pg, redis = dbs
    _seed(pg, redis)
    assert _agent(_config(tmp_path, pg, redis)).returncode == 0
    [good] = backup_agent.finals(tmp_path / "backups")
    time.sleep(1.1)   # a new backup name (one-second resolution)
    notified = tmp_path / "notified"
    bad = _config(tmp_path, pg, redis, notify=["sh", "-c", f'echo "$0" > {notified}'])
    doc = json.loads(bad.read_text())
    doc["postgres"]["db"] = "no_such_database"
    bad.write_text(json.dumps(doc))
    done = _agent(bad)
    assert done.returncode == 1 and "backup failed" in done.stderr
    assert "ok" not in done.stdout
    status = json.loads((tmp_path / "backups" / "status.json").read_text())
    assert status["status"] == "failed" and "no_such_database" in status["error"]
    assert "backup failed" in notified.read_text()
    assert backup_agent.finals(tmp_path / "backups") == [good]
    assert not list((tmp_path / "backups").glob("*.partial"))


@pytest.mark.e2e   # real PostgreSQL and Redis servers
def test_a_corrupted_rdb_copy_fails_the_check(dbs, tmp_path, monkeypatch):
    pg, redis = dbs
    _seed(pg, redis)
    real_copy = backup_agent.shutil.copyfile

    def corrupting_copy(src, dst):
        real_copy(src, dst)
        data = bytearray(Path(dst).read_bytes())
        data[len(data) // 2] ^= 0xFF
        Path(dst).write_bytes(bytes(data))
    monkeypatch.setattr(backup_agent.shutil, "copyfile", corrupting_copy)
    config = json.loads(_config(tmp_path, pg, redis).read_text())
    with pytest.raises(backup_agent.BackupFailed, match="redis-check-rdb"):
        backup_agent.run_backup(config)
    assert backup_agent.finals(tmp_path / "backups") == []


@pytest.mark.e2e   # real PostgreSQL and Redis servers
def test_a_killed_run_leaves_no_backup_and_the_next_run_clears_it(dbs, tmp_path):
    pg, redis = dbs
    _seed(pg, redis)
    config = json.loads(_config(tmp_path, pg, redis).read_text())
    root = tmp_path / "backups"
    (root / "20260101T000000Z.partial").mkdir(parents=True)   # as kill -9 leaves it
    assert backup_agent.finals(root) == []
    final = backup_agent.run_backup(config)
    assert backup_agent.finals(root) == [final]
    assert not list(root.glob("*.partial"))


def test_retention_keeps_daily_and_weekly(tmp_path):
    root = tmp_path / "b"
    start = dt.datetime(2026, 9, 1, 3, 0)
    for day in range(60):
        for hour in (0, 12):
            (root / (start + dt.timedelta(days=day, hours=hour)).strftime("%Y%m%dT%H%M%SZ")
             ).mkdir(parents=True)
    backup_agent.prune(root, daily=7, weekly=4)
    kept = [p.name for p in backup_agent.finals(root)]
    # The last backup is Friday 2026-10-30 15:00: the newest of each day 24-30 October,
    # and of the ISO weeks ending Sunday 11 and 18 October (weeks of 25 and 30 are covered).
    assert kept == ["20261011T150000Z", "20261018T150000Z",
                    *(f"202610{d}T150000Z" for d in range(24, 31))]


def _drill(config: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(AGENT), "drill", "--config", str(config), *extra],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.e2e   # real PostgreSQL and Redis servers
def test_the_restore_drill_proves_a_backup_and_cleans_up(dbs, tmp_path):
    pg, redis = dbs
    _seed(pg, redis)
    config = _config(tmp_path, pg, redis)
    assert _agent(config).returncode == 0
    done = _drill(config)
    assert done.returncode == 0, done.stderr
    assert '"public.notes": 1234' in done.stdout and '"redis_keys": 58' in done.stdout
    assert "hd_scratch" not in _psql(pg, "postgres", "SELECT string_agg(datname, ',') "
                                                     "FROM pg_database")


@pytest.mark.e2e   # real PostgreSQL and Redis servers
@pytest.mark.parametrize("damage", ["bytes", "bytes-and-manifest", "redis-count"])
def test_the_drill_catches_a_corrupted_backup(dbs, tmp_path, damage):
    pg, redis = dbs
    _seed(pg, redis)
    config = _config(tmp_path, pg, redis)
    assert _agent(config).returncode == 0
    [backup] = backup_agent.finals(tmp_path / "backups")
    manifest_path = backup / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    dump = backup / "postgres.dump"
    if damage.startswith("bytes"):
        data = bytearray(dump.read_bytes())
        for i in range(len(data) // 3, len(data) // 3 + 64):
            data[i] ^= 0x5A
        dump.write_bytes(bytes(data))
    if damage == "bytes-and-manifest":   # corrupted before it was checksummed
        manifest["files"]["postgres.dump"]["sha256"] = backup_agent._sha256(dump)
    if damage == "redis-count":
        manifest["redis"]["counts"]["db0"] = 58
    manifest_path.write_text(json.dumps(manifest))
    done = _drill(config, "--backup", backup.name)
    assert done.returncode == 1 and "restore drill failed" in done.stderr, done.stdout
    assert "ok" not in done.stdout
    assert "hd_scratch" not in _psql(pg, "postgres", "SELECT string_agg(datname, ',') "
                                                     "FROM pg_database")


# --- off-site copy: rclone against a local S3-compatible server (moto) ----------------------

class CorruptingProxy:
    """Forwards to S3; while `corrupt` is set, flips a byte of every GET body it returns."""

    def __init__(self, upstream_port: int):
        import http.client
        import http.server
        import threading
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                headers["Host"] = f"127.0.0.1:{upstream_port}"
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                if proxy.corrupt and self.command == "GET" and resp.status == 200 and data:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(k, v)
                length = resp.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        self.corrupt = False
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def s3(monkeypatch):
    import boto3
    from moto.server import ThreadedMotoServer
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port = server.get_host_and_port()[1]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test-secret-key")
    client.create_bucket(Bucket="backups")
    proxy = CorruptingProxy(port)
    try:
        yield client, proxy
    finally:
        proxy.close()
        server.stop()


def _s3_config(tmp_path, pg, redis, proxy) -> Path:
    return _config(tmp_path, pg, redis, s3={
        "endpoint": f"http://127.0.0.1:{proxy.port}", "bucket": "backups", "prefix": "voice/prod",
        "rclone": ["rclone", "--retries", "1", "--low-level-retries", "1"]})


@pytest.mark.e2e   # real PostgreSQL, Redis, rclone and an S3 server
def test_off_site_copy_is_read_back_before_it_counts(dbs, tmp_path, s3):
    pg, redis = dbs
    client, proxy = s3
    _seed(pg, redis)
    done = _agent(_s3_config(tmp_path, pg, redis, proxy))
    assert done.returncode == 0, done.stderr
    [backup] = backup_agent.finals(tmp_path / "backups")
    stored = client.list_objects_v2(Bucket="backups", Prefix=f"voice/prod/{backup.name}/")
    assert sorted(o["Key"].rsplit("/", 1)[1] for o in stored["Contents"]) == \
        ["manifest.json", "postgres.dump", "redis.rdb"]
    body = client.get_object(Bucket="backups",
                             Key=f"voice/prod/{backup.name}/postgres.dump")["Body"].read()
    assert body == (backup / "postgres.dump").read_bytes()


@pytest.mark.e2e
def test_an_upload_that_does_not_read_back_is_a_failure(dbs, tmp_path, s3):
    pg, redis = dbs
    _, proxy = s3
    _seed(pg, redis)
    proxy.corrupt = True      # the store answers with other bytes than were sent
    done = _agent(_s3_config(tmp_path, pg, redis, proxy))
    assert done.returncode == 1 and "does not read back as sent" in done.stderr
    status = json.loads((tmp_path / "backups" / "status.json").read_text())
    assert status["status"] == "failed" and "kept locally" in status["error"]
    assert len(backup_agent.finals(tmp_path / "backups")) == 1   # the local copy is good


@pytest.mark.e2e
def test_an_unreachable_store_is_a_failure(dbs, tmp_path, s3):
    pg, redis = dbs
    _, proxy = s3
    _seed(pg, redis)
    proxy.close()             # nothing answers at the endpoint any more
    done = _agent(_s3_config(tmp_path, pg, redis, proxy))
    assert done.returncode == 1 and "off-site copy failed" in done.stderr
    assert json.loads((tmp_path / "backups" / "status.json").read_text())["status"] == "failed"


@pytest.mark.e2e   # real Redis server
@pytest.mark.parametrize("server", ["redis-7", "before-redis-7"])
def test_snapshots_in_the_same_second_each_wait_for_their_own_save(tmp_path, server):
    # LASTSAVE has one-second resolution: a BGSAVE finishing in the same second as the
    # previous save (or as the server's start) does not move it. CI once waited 600 s on that.
    redis = LocalRedis(tmp_path / "redis")
    try:
        conf = {"args": ["-p", str(redis.port)], "data_file": str(redis.dir / "dump.rdb")}
        if server == "before-redis-7":
            # A server without the rdb_saves counter, as Redis 6 reports INFO persistence.
            shim = tmp_path / "redis6"
            shim.write_text('#!/bin/sh\nif [ "$2 $3 $4 $5" = "-p ' + str(redis.port)
                            + ' INFO persistence" ]; then "$@" | grep -v "^rdb_saves:"; '
                            'else exec "$@"; fi\n')
            shim.chmod(0o755)
            conf["exec"] = [str(shim)]
            assert "rdb_saves" not in backup_agent._persistence(conf)
        for n in range(3):
            redis.cli("SET", f"key{n}", "value")
            folder = tmp_path / f"b{n}"
            folder.mkdir()
            done = backup_agent.backup_redis(conf, folder, deadline_s=30)
            assert done["counts"] == {"db0": n + 1}
            # the copy is this snapshot, not the previous one: it holds the newest key
            assert f"key{n}".encode() in (folder / "redis.rdb").read_bytes()
    finally:
        redis.stop()

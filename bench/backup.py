"""Backup and restore-drill time against database size, measured in one run on this machine.

A real PostgreSQL 15 and Redis 7 (Debian packages, local, as the agent's tests
use them) filled with generated data of growing size; for each size the agent's
`backup` (pg_dump -Fc + pg_restore --list, BGSAVE + redis-check-rdb, sha256,
manifest) and its restore drill (pg_restore into a throwaway database and a
count of every table, the RDB read end to end) are timed. Ratios to the
smallest size show how time grows with size; a server's numbers differ (disk,
cores), the shape is the point.

    .venv/bin/python bench/backup.py            # 16, 64, 256 MB
    .venv/bin/python bench/backup.py --gb       # and 1 GB (minutes)
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ops import backup_agent  # noqa: E402
from tests.ops.test_backup_agent import LocalRedis  # noqa: E402
from tests.pipeline.pg import LocalPostgres  # noqa: E402

ROW_BYTES = 300          # a generated row: id + 256 characters + tuple overhead, about


def _psql(pg, sql: str) -> str:
    return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "tf", "-d",
                           "postgres", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          capture_output=True, text=True, check=True).stdout.strip()


def fill(pg, redis, megabytes: int) -> tuple[int, int]:
    """Grow the data to about `megabytes` (PostgreSQL 90 %, Redis 10 %); (pg bytes, keys)."""
    _psql(pg, "CREATE TABLE IF NOT EXISTS events (id bigint PRIMARY KEY, body text)")
    have = int(_psql(pg, "SELECT count(*) FROM events"))
    want = megabytes * 1024 * 1024 * 9 // 10 // ROW_BYTES
    if want > have:
        # Eight different md5s: hex text that compresses about 2:1, like real rows, not 100:1.
        parts = " || ".join(f"md5(g::text || '{c}')" for c in "abcdefgh")
        _psql(pg, f"INSERT INTO events SELECT g, {parts} "
                  f"FROM generate_series({have + 1}, {want}) g")
    keys = megabytes * 1024 * 1024 // 10 // 1024           # 1 KiB values
    redis.cli("DEBUG", "POPULATE", str(keys), "k", "1024")
    return int(_psql(pg, "SELECT pg_database_size('postgres')")), keys


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gb", action="store_true", help="add a 1 GB case")
    args = parser.parse_args()
    sizes = [16, 64, 256] + ([1024] if args.gb else [])
    work = Path(tempfile.mkdtemp(prefix="hd-bench-backup-"))
    pg = LocalPostgres()
    pg.start()
    redis = LocalRedis(work / "redis")
    # DEBUG POPULATE makes the keys fast; Redis 7 only allows it when enabled.
    redis.cli("CONFIG", "SET", "enable-debug-command", "local")
    config = {"dir": str(work / "backups"), "keep_daily": 1, "keep_weekly": 0,
              "postgres": {"args": ["-h", "127.0.0.1", "-p", str(pg.port), "-U", "tf"],
                           "db": "postgres"},
              "redis": {"args": ["-p", str(redis.port)], "data_file": str(redis.dir / "dump.rdb")}}
    rows = []
    try:
        for mb in sizes:
            pg_bytes, keys = fill(pg, redis, mb)
            start = time.perf_counter()
            final = backup_agent.run_backup(config)
            backed = time.perf_counter() - start
            start = time.perf_counter()
            backup_agent.drill(config, final.name)
            drilled = time.perf_counter() - start
            size = sum(p.stat().st_size for p in final.iterdir())
            rows.append((mb, pg_bytes, keys, size, backed, drilled))
            shutil.rmtree(final)
            time.sleep(1.1)           # the next backup needs a new second for its name
    finally:
        redis.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    base = rows[0]
    print(f"{'target':>7} {'pg size':>9} {'keys':>8} {'backup':>9} {'backup s':>9} "
          f"{'drill s':>8} {'x size':>7} {'x backup':>9} {'x drill':>8}")
    for mb, pg_bytes, keys, size, backed, drilled in rows:
        print(f"{mb:>5}MB {pg_bytes / 2**20:>7.0f}MB {keys:>8} {size / 2**20:>7.0f}MB "
              f"{backed:>9.2f} {drilled:>8.2f} {pg_bytes / base[1]:>7.1f} "
              f"{backed / base[4]:>9.1f} {drilled / base[5]:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

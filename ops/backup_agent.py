#!/usr/bin/env python3
"""The backup that runs on the server (a systemd timer calls it): PostgreSQL and Redis, proven readable.

Standard library only, Python 3.10 (Ubuntu 22.04's), because it runs on the
server and not in this project's venv. One JSON config says how to reach the
databases: `exec` is an argv prefix (`docker compose -f ... exec -T postgres`
on a server, nothing in tests against local servers), `args` are connection
arguments. No shell is ever involved: every command is an argv list.

A backup is:
1. `pg_dump -Fc` to a file, then `pg_restore --list` of that file (a dump
   that does not list is not a backup), and the row count of every table;
2. Redis `BGSAVE`, waiting until the snapshot count (`rdb_saves`, or `LASTSAVE`
   before Redis 7) moves and the last bgsave status is ok, a copy of `dump.rdb`, `redis-check-rdb` on the copy, and the key
   count of every database;
3. `manifest.json`: time, files with size and sha256, the counts;
4. the folder renamed from `<name>.partial` to `<name>`: only a complete,
   checked backup ever has a final name, so a killed run leaves the previous
   backups as they were and nothing that looks like a backup;
5. retention (daily and weekly), over final names only; then, with `s3`, the
   off-site copy (rclone to any S3-compatible store, Hetzner Object Storage
   included), each object read back and compared by sha256;
6. `status.json` (ok or failed, when, why), which `backup status` and
   `verify --after` read; on failure the notify command runs and the exit
   code is 1. A failure never reports success.

`drill` proves a backup restores: checksums against the manifest, the dump
restored into a throwaway database of the running PostgreSQL (same server
version, nothing else to start) and counted table by table, and the RDB read
end to end by redis-check-rdb with its key count compared.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

NAME = re.compile(r"\d{8}T\d{6}Z")     # a final backup's folder name (UTC time)
STEP_TIMEOUT = 3600


class BackupFailed(Exception):
    pass


def _run(argv: list[str], *, stdin=None, stdout=None, timeout: float = STEP_TIMEOUT) -> str:
    try:
        done = subprocess.run(argv, stdin=stdin, stdout=stdout or subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupFailed(f"{argv[0]}: {exc}") from None
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip().splitlines()
        raise BackupFailed(f"{' '.join(argv[-3:])} exited {done.returncode}: "
                           f"{err[-1] if err else 'no message'}")
    return done.stdout.decode(errors="replace") if stdout is None else ""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --- PostgreSQL ---------------------------------------------------------------------------

def pg_counts(pg: dict, run=None) -> dict[str, int]:
    """Exact row counts of every ordinary table, by schema.table. `run(argv) -> stdout`:
    this module's own by default; `migrate import` counts the old host with the tool's."""
    execute = run or _run
    psql = [*pg.get("exec", []), "psql", *pg.get("args", []), "-d", pg["db"], "-At", "-v",
            "ON_ERROR_STOP=1"]
    tables = execute([*psql, "-c", "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename)"
                                " FROM pg_tables WHERE schemaname NOT IN "
                                "('pg_catalog', 'information_schema') ORDER BY 1"]).split()
    if not tables:
        return {}
    query = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in tables)
    counts = {}
    for line in execute([*psql, "-F", "\t", "-c", query]).splitlines():
        table, count = line.rsplit("\t", 1)
        counts[table] = int(count)
    return counts


def backup_pg(pg: dict, folder: Path) -> dict:
    dump = folder / "postgres.dump"
    counts = pg_counts(pg)
    with open(dump, "wb") as out:
        _run([*pg.get("exec", []), "pg_dump", *pg.get("args", []), "-Fc", "-d", pg["db"]],
             stdout=out)
    with open(dump, "rb") as inp:       # pg_restore reads a custom-format dump from stdin
        listing = _run([*pg.get("exec", []), "pg_restore", "--list"], stdin=inp)
    if "TABLE DATA" not in listing and counts:
        raise BackupFailed("pg_restore --list shows no table data in the dump")
    return {"file": dump.name, "counts": counts}


# --- Redis --------------------------------------------------------------------------------

def _redis(redis: dict, *command: str, run=None) -> str:
    return (run or _run)([*redis.get("exec", []), "redis-cli", *redis.get("args", []),
                          *command]).strip()


def redis_counts(redis: dict, run=None) -> dict[str, int]:
    counts = {}
    for line in _redis(redis, "INFO", "keyspace", run=run).splitlines():
        m = re.match(r"(db\d+):keys=(\d+)", line.strip())
        if m:
            counts[m.group(1)] = int(m.group(2))
    return counts


def _persistence(redis: dict) -> dict[str, str]:
    return {key: value.strip() for key, value in (
        line.split(":", 1) for line in _redis(redis, "INFO", "persistence").splitlines()
        if ":" in line)}


def backup_redis(redis: dict, folder: Path, deadline_s: float = 600) -> dict:
    # Redis 7 counts snapshots (rdb_saves); older servers only have LASTSAVE, whose one-second
    # resolution cannot tell a save made in the same second as the previous one, so wait for
    # the server's clock to leave that second first.
    saves_before = _persistence(redis).get("rdb_saves")
    before = _redis(redis, "LASTSAVE")
    if saves_before is None:
        while _redis(redis, "TIME").split()[0] == before:
            time.sleep(0.05)
    counts = redis_counts(redis)
    _redis(redis, "BGSAVE")
    end = time.monotonic() + deadline_s
    while True:
        info = _persistence(redis)
        moved = (info.get("rdb_saves") != saves_before if saves_before is not None
                 else _redis(redis, "LASTSAVE") != before)
        if (moved and info.get("rdb_bgsave_in_progress") == "0"
                and info.get("rdb_last_bgsave_status") == "ok"):
            break
        if info.get("rdb_last_bgsave_status") == "err":
            raise BackupFailed("redis BGSAVE failed (rdb_last_bgsave_status:err)")
        if time.monotonic() > end:
            raise BackupFailed(f"redis BGSAVE did not finish within {deadline_s:.0f}s")
        time.sleep(0.1)
    copy = folder / "redis.rdb"
    shutil.copyfile(redis["data_file"], copy)
    _run([arg.replace("{file}", str(copy)) for arg in redis.get("check",
                                                                ["redis-check-rdb", "{file}"])])
    return {"file": copy.name, "counts": counts}


# --- off-site copy -------------------------------------------------------------------------

_S3 = {"endpoint": r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?/?",
       "bucket": r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "prefix": r"[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*"}


def _remote(s3: dict, name: str) -> str:
    """rclone's on-the-fly S3 remote; the keys go to rclone through its environment."""
    for key, pattern in _S3.items():
        if key in s3 and not re.fullmatch(pattern, str(s3[key])):
            raise BackupFailed(f"s3.{key}: not a valid value")
    prefix = f"{s3['prefix']}/" if s3.get("prefix") else ""
    return (f":s3,provider=Other,endpoint='{s3['endpoint']}':"
            f"{s3['bucket']}/{prefix}{name}")


def rclone_argv(s3: dict) -> list[str]:
    """rclone's argv prefix, its keys set in this process's environment."""
    rclone = list(s3.get("rclone", ["rclone"]))
    # AWS_* as every S3 tool reads them; handed to rclone as its own variables, never argv.
    for ours, theirs in (("AWS_ACCESS_KEY_ID", "RCLONE_S3_ACCESS_KEY_ID"),
                         ("AWS_SECRET_ACCESS_KEY", "RCLONE_S3_SECRET_ACCESS_KEY")):
        if os.environ.get(ours):
            os.environ[theirs] = os.environ[ours]
    # rclone 1.60 cannot load AWS_CA_BUNDLE ("unsupported transport"): give it as --ca-cert.
    bundle = os.environ.pop("AWS_CA_BUNDLE", "")
    if bundle:
        os.environ["HD_RCLONE_CA"] = bundle
    if os.environ.get("HD_RCLONE_CA"):
        rclone += ["--ca-cert", os.environ["HD_RCLONE_CA"]]
    return rclone


def upload(s3: dict, folder: Path) -> list[str]:
    """Copy every file of a final backup off-site, then read each one back and compare its
    sha256: an upload is done only when the bytes stored are the bytes sent."""
    rclone = rclone_argv(s3)
    remote = _remote(s3, folder.name)
    sent = []
    for path in sorted(folder.iterdir()):
        target = f"{remote}/{path.name}"
        _run([*rclone, "copyto", str(path), target])
        try:
            proc = subprocess.Popen([*rclone, "cat", target], stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL)
        except OSError as exc:
            raise BackupFailed(f"rclone: {exc}") from None
        h = hashlib.sha256()
        for chunk in iter(lambda: proc.stdout.read(1 << 20), b""):
            h.update(chunk)
        if proc.wait(STEP_TIMEOUT) != 0 or h.hexdigest() != _sha256(path):
            raise BackupFailed(f"off-site copy of {folder.name}/{path.name} does not read back "
                               "as sent")
        sent.append(path.name)
    return sent


# --- the run ------------------------------------------------------------------------------

def _write_json(path: Path, doc: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as fh:
        json.dump(doc, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def finals(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and NAME.fullmatch(p.name))


def prune(root: Path, daily: int, weekly: int, protect: tuple[str, ...] = ()) -> list[str]:
    """Keep the newest backup of each of the last `daily` days and `weekly` ISO weeks, and
    those named in `protect` (the one a live restore is about to read)."""
    keep, days, weeks = {root / name for name in protect}, [], []
    for path in reversed(finals(root)):
        when = dt.datetime.strptime(path.name, "%Y%m%dT%H%M%SZ")
        day, week = when.date(), when.isocalendar()[:2]
        if day not in days and len(days) < daily:
            days.append(day)
            keep.add(path)
        if week not in weeks and len(weeks) < weekly:
            weeks.append(week)
            keep.add(path)
    removed = [p for p in finals(root) if p not in keep]
    for path in removed:
        shutil.rmtree(path)
    return [p.name for p in removed]


def run_backup(config: dict, now: dt.datetime | None = None,
               protect: tuple[str, ...] = ()) -> Path:
    root = Path(config["dir"])
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in root.glob("*.partial"):        # what a killed run left: never a backup
        shutil.rmtree(stale, ignore_errors=True)
    now = now or dt.datetime.now(dt.timezone.utc)
    name = now.strftime("%Y%m%dT%H%M%SZ")
    partial = root / f"{name}.partial"
    partial.mkdir(mode=0o700)
    parts = {}
    if config.get("postgres"):
        parts["postgres"] = backup_pg(config["postgres"], partial)
    if config.get("redis"):
        parts["redis"] = backup_redis(config["redis"], partial)
    files = {}
    for part in parts.values():
        path = partial / part["file"]
        files[part["file"]] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    _write_json(partial / "manifest.json", {"version": 1, "time": now.isoformat(),
                                            "files": files, **parts})
    final = root / name
    os.rename(partial, final)
    prune(root, int(config.get("keep_daily", 7)), int(config.get("keep_weekly", 4)), protect)
    if config.get("s3"):
        try:
            upload(config["s3"], final)
        except BackupFailed as exc:   # the local backup is good; the run still failed
            raise BackupFailed(f"{final.name} kept locally, off-site copy failed: {exc}") from None
    return final


# --- the restore drill --------------------------------------------------------------------

def check_counts(kind: str, got: dict, want: dict, prefix: str = "") -> None:
    """A restore counts what came back; anything but the manifest's counts is a failure."""
    if got != want:
        raise BackupFailed(f"{prefix}restored {kind} counts {got} differ from the "
                           f"manifest's {want}")


def drill(config: dict, name: str) -> dict:
    """Prove a backup restores: checksums, then PostgreSQL restored into a throwaway
    database of the running server and counted, and the RDB read end to end by
    redis-check-rdb, its key count compared. Raises BackupFailed on any difference."""
    folder = Path(config["dir"]) / name
    if not NAME.fullmatch(name) or not folder.is_dir():
        raise BackupFailed(f"no backup named {name!r} in {config['dir']}")
    manifest = json.loads((folder / "manifest.json").read_text())
    for file, info in manifest["files"].items():
        if _sha256(folder / file) != info["sha256"]:
            raise BackupFailed(f"{name}/{file}: checksum differs from the manifest (corrupted)")
    result = {}
    pg = config.get("postgres")
    if pg and "postgres" in manifest:
        scratch = {**pg, "db": f"hd_scratch_{name.lower()}"}
        psql = [*pg.get("exec", []), "psql", *pg.get("args", []), "-d", pg["db"], "-v",
                "ON_ERROR_STOP=1", "-c"]
        _run([*psql, f'DROP DATABASE IF EXISTS "{scratch["db"]}"'])
        _run([*psql, f'CREATE DATABASE "{scratch["db"]}"'])
        try:
            with open(folder / manifest["postgres"]["file"], "rb") as inp:
                _run([*pg.get("exec", []), "pg_restore", *pg.get("args", []), "--no-owner",
                      "--exit-on-error", "-d", scratch["db"]], stdin=inp)
            counts = pg_counts(scratch)
        finally:
            _run([*psql, f'DROP DATABASE IF EXISTS "{scratch["db"]}"'])
        check_counts("row", counts, manifest["postgres"]["counts"], f"{name}: ")
        result["postgres"] = counts
    redis = config.get("redis")
    if redis and "redis" in manifest:
        copy = folder / manifest["redis"]["file"]
        out = _run([arg.replace("{file}", str(copy)) for arg in
                    redis.get("check", ["redis-check-rdb", "{file}"])])
        m = re.search(r"(\d+) keys read", out)
        want = sum(manifest["redis"]["counts"].values())
        if not m or int(m.group(1)) != want:
            raise BackupFailed(f"{name}: the RDB holds {m.group(1) if m else 'no'} keys, the "
                               f"manifest says {want}")
        result["redis_keys"] = want
    return result


def _load_env(config: dict) -> None:
    """The off-site keys (KEY=value lines, 0600) into this process's environment only."""
    path = config.get("env_file")
    if path and os.path.exists(path):
        for line in Path(path).read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                os.environ[key.strip()] = value.strip()


def _more():
    try:
        import backup_restore                   # on the server: a sibling file
    except ImportError:
        from ops import backup_restore
    # Run as a script this module is __main__: the helper must raise this module's
    # BackupFailed, not that of a second copy imported under its file name.
    backup_restore.agent = sys.modules[__name__]
    return backup_restore


def _lock(config: dict):
    """One backup or restore at a time (a timer run and `backup now` or a live restore's
    fresh backup): the second waits, so neither removes the other's .partial folder."""
    import fcntl
    handle = open(Path(config["dir"]) / ".lock", "a")
    fcntl.flock(handle, fcntl.LOCK_EX)
    _HELD.append(handle)   # open, so locked, until the process exits


_HELD: list = []


def _stopped(signum, frame):
    # systemd stops a unit with SIGTERM: fail like any other failure (status, notify, exit 1).
    raise BackupFailed(f"stopped by signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="backup_agent")
    parser.add_argument("command", choices=["backup", "drill", "list", "restore"])
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--backup", help="drill, restore: the backup's name (drill default: the newest)")
    parser.add_argument("--keep", action="append", default=[],
                        help="backup: a backup retention must not remove in this run")
    args = parser.parse_args(argv)
    config = json.loads(args.config.read_text())
    _load_env(config)
    if args.command in ("list", "restore"):
        more = _more()
        if args.command == "list":
            print(json.dumps(more.listing(config), sort_keys=True))
            return 0
        try:
            if not args.backup:
                raise BackupFailed("restore needs --backup NAME")
            _lock(config)
            done = more.restore_live(config, args.backup)
        except (BackupFailed, OSError, KeyError, ValueError) as exc:
            print(f"restore failed: {exc}", file=sys.stderr)
            return 1
        print(json.dumps(done, sort_keys=True))
        return 0
    if args.command == "drill":
        try:
            found = finals(Path(config["dir"]))
            name = args.backup or (found[-1].name if found else "")
            # Throwaway containers of the app's images, else a throwaway database.
            proven = (_more().drill_in_containers(config, name) if config.get("scratch")
                      else drill(config, name))
        except (BackupFailed, OSError, KeyError, ValueError) as exc:
            print(f"restore drill failed: {exc}", file=sys.stderr)
            return 1
        print(f"restore drill ok: {name} {json.dumps(proven, sort_keys=True)}")
        return 0
    status = Path(config.get("status_file") or Path(config["dir"]) / "status.json")
    started = dt.datetime.now(dt.timezone.utc)
    try:
        # "running" first: a run killed outright (SIGKILL, power loss) leaves it behind, and
        # `backup status` reads a running status whose process is gone as failed.
        Path(config["dir"]).mkdir(mode=0o700, parents=True, exist_ok=True)
        _lock(config)
        _write_json(status, {"status": "running", "time": started.isoformat(),
                             "pid": os.getpid()})
        signal.signal(signal.SIGTERM, _stopped)
        final = run_backup(config, started, tuple(args.keep))
    except (BackupFailed, OSError, KeyError, ValueError) as exc:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        shutil.rmtree(Path(config["dir"]) / f"{started:%Y%m%dT%H%M%SZ}.partial",
                      ignore_errors=True)
        _write_json(status, {"status": "failed", "time": started.isoformat(),
                             "error": str(exc)})
        if config.get("notify"):
            subprocess.run([*config["notify"], f"backup failed: {exc}"], timeout=60,
                           check=False)
        print(f"backup failed: {exc}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _write_json(status, {"status": "ok", "time": started.isoformat(), "backup": final.name})
    print(f"backup ok: {final}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

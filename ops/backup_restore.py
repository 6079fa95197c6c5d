#!/usr/bin/env python3
"""The server-side half of `backup list`, `backup status` and `restore --target live` (stdlib only).

Uploaded beside ops/backup_agent.py (which imports it for its `list` and
`restore` commands): same rules, Python 3.10 standard library, argv lists only.

Live restore here is the data step only; the caller (ops/backup_service.py)
has already proven the backup with a drill, taken a fresh backup and stopped
the app, and starts the app behind its health check afterwards.
- PostgreSQL: `pg_restore --clean --if-exists --single-transaction`, so a dump
  that fails midway changes nothing; then every table of the manifest counted.
- Redis: its files can only be replaced while it is stopped. With AOF on (the
  example app), Redis 7 loads the AOF, not dump.rdb, so the backup's RDB
  becomes the AOF's base file (the multi-part AOF layout of Redis 7; a single
  RDB-preamble appendonly.aof before 7). The old files are moved aside first and
  put back if Redis does not come up with the manifest's key count.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

try:                                    # on the server: a sibling file
    import backup_agent as agent
except ImportError:                     # in the repository: ops.backup_agent
    from ops import backup_agent as agent


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def _time_of(name: str) -> str:
    return dt.datetime.strptime(name, "%Y%m%dT%H%M%SZ").replace(
        tzinfo=dt.timezone.utc).isoformat()


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError, TypeError):
        return False
    return True


def status(config: dict) -> dict:
    """status.json as written, with a run that died without writing its verdict (SIGKILL,
    power loss) shown as failed: its process is gone but the status still says running."""
    path = Path(config.get("status_file") or Path(config["dir"]) / "status.json")
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return {"status": "none"}
    except ValueError:
        return {"status": "failed", "error": f"{path} is not valid JSON"}
    if doc.get("status") == "running" and not _alive(doc.get("pid")):
        doc = {**doc, "status": "failed",
               "error": f"the backup started at {doc.get('time')} stopped before it finished "
                        "(killed?); no backup was made by it"}
    return doc


def offsite(config: dict) -> list[dict]:
    s3 = config["s3"]
    rclone = agent.rclone_argv(s3)
    out = agent._run([*rclone, "lsjson", "--recursive", "--files-only", agent._remote(s3, "")])
    sizes: dict[str, int] = {}
    for item in json.loads(out or "[]"):
        top = item["Path"].split("/", 1)[0]
        if agent.NAME.fullmatch(top):
            sizes[top] = sizes.get(top, 0) + int(item.get("Size", 0))
    return [{"name": n, "time": _time_of(n), "bytes": sizes[n]} for n in sorted(sizes)]


def listing(config: dict) -> dict:
    root = Path(config["dir"])
    local = [{"name": p.name, "time": _time_of(p.name), "bytes": _folder_bytes(p)}
             for p in (agent.finals(root) if root.is_dir() else [])]
    doc = {"local": local, "status": status(config),
           "stale_after_hours": config.get("stale_after_hours", 26)}
    if config.get("s3"):
        try:
            doc["offsite"] = offsite(config)
        except (agent.BackupFailed, ValueError, KeyError) as exc:
            doc["offsite_error"] = str(exc)
    return doc


# --- live restore ---------------------------------------------------------------------------

def verified_manifest(config: dict, name: str) -> tuple[Path, dict]:
    folder = Path(config["dir"]) / name
    if not agent.NAME.fullmatch(name) or not folder.is_dir():
        raise agent.BackupFailed(f"no backup named {name!r} in {config['dir']}")
    manifest = json.loads((folder / "manifest.json").read_text())
    for file, info in manifest["files"].items():
        if agent._sha256(folder / file) != info["sha256"]:
            raise agent.BackupFailed(f"{name}/{file}: checksum differs from the manifest "
                                     "(corrupted)")
    return folder, manifest


def restore_pg(pg: dict, dump: Path, want: dict) -> dict:
    with open(dump, "rb") as inp:
        agent._run([*pg.get("exec", []), "pg_restore", *pg.get("args", []), "--clean",
                    "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error",
                    "-d", pg["db"]], stdin=inp)
    counts = agent.pg_counts(pg)
    got = {t: counts.get(t) for t in want}
    agent.check_counts("row", got, want)
    return counts


def _redis_settings(redis: dict) -> dict:
    out = agent._redis(redis, "CONFIG", "GET", "append*").splitlines()
    return dict(zip(out[0::2], out[1::2]))


def _wait_redis(redis: dict, deadline_s: float = 120) -> None:
    end = time.monotonic() + deadline_s
    while True:
        try:
            if agent._persistence(redis).get("loading") == "0":
                return
        except agent.BackupFailed:
            pass
        if time.monotonic() > end:
            raise agent.BackupFailed(f"redis did not answer within {deadline_s:.0f}s after the "
                                     "restore")
        time.sleep(0.2)


def _place(src: Path, dst: Path, owner: os.stat_result) -> None:
    shutil.copyfile(src, dst)
    os.chown(dst, owner.st_uid, owner.st_gid)
    os.chmod(dst, 0o600)


def restore_redis(redis: dict, rdb: Path, want: dict) -> dict:
    settings = _redis_settings(redis)
    data = Path(redis["data_file"])
    folder, owner = data.parent, data.parent.stat()
    aof_on = settings.get("appendonly") == "yes"
    aof_name = settings.get("appendfilename", "appendonly.aof")
    aof_dir = settings.get("appenddirname")            # Redis 7+ only
    moved = [p for p in (data, folder / (aof_dir or aof_name)) if p.exists()]
    aside = folder / f".pre-restore-{int(time.time())}"
    agent._run(redis["stop"])
    aside.mkdir(mode=0o700)
    for p in moved:
        os.rename(p, aside / p.name)
    try:
        _place(rdb, data, owner)
        if aof_on and aof_dir:
            d = folder / aof_dir
            d.mkdir(mode=0o700)
            os.chown(d, owner.st_uid, owner.st_gid)
            base, incr = f"{aof_name}.1.base.rdb", f"{aof_name}.1.incr.aof"
            _place(rdb, d / base, owner)
            (d / incr).write_bytes(b"")
            os.chown(d / incr, owner.st_uid, owner.st_gid)
            (d / f"{aof_name}.manifest").write_text(
                f"file {base} seq 1 type b\nfile {incr} seq 1 type i\n")
            os.chown(d / f"{aof_name}.manifest", owner.st_uid, owner.st_gid)
        elif aof_on:
            _place(rdb, folder / aof_name, owner)
        agent._run(redis["start"])
        _wait_redis(redis)
        counts = agent.redis_counts(redis)
        agent.check_counts("key", counts, want)
    except (agent.BackupFailed, OSError) as exc:
        # Put the data Redis had back, so a failed restore leaves what was there.
        subprocess.run(redis["stop"], capture_output=True, timeout=120, check=False)
        for p in (data, folder / (aof_dir or aof_name)):
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
        for p in moved:
            os.rename(aside / p.name, p)
        aside.rmdir()
        subprocess.run(redis["start"], capture_output=True, timeout=120, check=False)
        raise agent.BackupFailed(f"redis restore failed, its previous data was put back: "
                                 f"{exc}") from None
    shutil.rmtree(aside, ignore_errors=True)
    return counts


def restore_live(config: dict, name: str) -> dict:
    folder, manifest = verified_manifest(config, name)
    result = {"backup": name}
    if config.get("postgres") and "postgres" in manifest:
        result["postgres"] = restore_pg(config["postgres"], folder / manifest["postgres"]["file"],
                                        manifest["postgres"]["counts"])
    if config.get("redis") and "redis" in manifest:
        result["redis"] = restore_redis(config["redis"], folder / manifest["redis"]["file"],
                                        manifest["redis"]["counts"])
    return result


# --- the drill in throwaway containers --------------------------------------------------------

def _image_and_cmd(ps_argv: list[str]) -> tuple[str, list[str]]:
    """The image and command of a running Compose service's container (nothing else: its
    environment holds the app's secrets and is never read here)."""
    ids = agent._run(ps_argv).split()
    if not ids:
        raise agent.BackupFailed(f"no running container for `{' '.join(ps_argv[-1:])}`")
    out = agent._run(["docker", "inspect", "--format", "{{json .Config.Image}} "
                      "{{json .Config.Cmd}}", "--", ids[0]]).strip()
    decoder = json.JSONDecoder()
    image, end = decoder.raw_decode(out)
    cmd, _ = decoder.raw_decode(out[end:].lstrip())
    return image, list(cmd or [])


def _until(check, what: str, deadline_s: float = 180) -> None:
    end = time.monotonic() + deadline_s
    while True:
        try:
            if check():
                return
        except agent.BackupFailed:
            pass
        if time.monotonic() > end:
            raise agent.BackupFailed(f"{what} did not start within {deadline_s:.0f}s")
        time.sleep(0.3)


def _remove(container: str) -> None:
    subprocess.run(["docker", "rm", "--force", "--volumes", container], capture_output=True,
                   timeout=120, check=False)


def drill_in_containers(config: dict, name: str) -> dict:
    """The scratch restore: checksums, then fresh PostgreSQL and Redis containers of the app's
    own images on no network, the backup restored into them and counted against the manifest.
    The live databases are not touched; the containers are removed whatever happens."""
    folder, manifest = verified_manifest(config, name)
    scratch, tag, result = config["scratch"], f"{name.lower()}-{os.getpid()}", {}
    pg = config.get("postgres")
    if pg and "postgres" in manifest:
        image, cmd = _image_and_cmd(scratch["postgres_ps"])
        box = f"hd-scratch-pg-{tag}"
        try:
            # --env-file: the app's database settings reach the container from the file, never
            # from a command line; a fresh data directory is initialised from them.
            agent._run(["docker", "run", "--detach", "--network", "none", "--name", box,
                        "--env-file", scratch["env_file"], image, *cmd])
            fresh = {"exec": ["docker", "exec", "-i", box, "sh", "-c", scratch["pg_wrapper"], "sh"],
                     "args": [], "db": pg["db"]}
            _until(lambda: agent._run([*fresh["exec"], "psql", "-d", fresh["db"], "-Atc",
                                       "SELECT 1"]).strip() == "1", "scratch PostgreSQL")
            with open(folder / manifest["postgres"]["file"], "rb") as inp:
                agent._run([*fresh["exec"], "pg_restore", "--no-owner", "--exit-on-error", "-d",
                            fresh["db"]], stdin=inp)
            counts = agent.pg_counts(fresh)
        finally:
            _remove(box)
        agent.check_counts("row", counts, manifest["postgres"]["counts"], f"{name}: ")
        result["postgres"] = counts
    if config.get("redis") and "redis" in manifest:
        image, _ = _image_and_cmd(scratch["redis_ps"])
        box = f"hd-scratch-redis-{tag}"
        try:
            agent._run(["docker", "run", "--detach", "--network", "none", "--name", box,
                        "-v", f"{folder}:/scratch:ro", "--entrypoint", "redis-server", image,
                        "--dir", "/scratch", "--dbfilename", manifest["redis"]["file"],
                        "--appendonly", "no", "--save", "", "--bind", "127.0.0.1"])
            fresh = {"exec": ["docker", "exec", box]}
            _until(lambda: agent._persistence(fresh).get("loading") == "0", "scratch Redis")
            counts = agent.redis_counts(fresh)
        finally:
            _remove(box)
        agent.check_counts("key", counts, manifest["redis"]["counts"], f"{name}: ")
        result["redis"] = counts
    return result

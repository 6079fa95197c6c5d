"""`migrate import`: the current host's PostgreSQL and Redis, dumped here and restored on the new server.

The old host is whatever the team runs today (Railway): its databases are
reachable by URL, given in the environment as OLD_DATABASE_URL and
OLD_REDIS_URL, never on the command line. The dump runs on this machine,
with the PostgreSQL and Redis clients (Debian: postgresql-client,
redis-tools), because this machine reaches both ends; the new server may
not reach the old host at all (in the sandbox it cannot).

Passwords go to the clients the way they document: PGPASSWORD and
REDISCLI_AUTH in the child's environment, so they are never in an argv
(`ps` shows argv to every user), a log or an error message.

What is made is a backup in the agent's own format (ops/backup_agent.py):
a folder named by its UTC time with postgres.dump (`pg_dump -Fc`, without
owners and privileges: the new server's roles are not the old host's),
dump.rdb (`redis-cli --rdb`, checked by redis-check-rdb) and a manifest with
sizes, sha256 and the old host's row and key counts. The counts are read
before and after the dump; if they differ the old host was written to
meanwhile and the import refuses: freeze writes (README, "Write freeze") and
run it again. The folder is uploaded beside the server's backups as
`<name>.partial` and renamed when complete, then restored by the live
restore (ops/backup_service.restore_live): its drill proves the dump first,
the server's current data is backed up, the counts must match the manifest,
and the app comes back behind its health check.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import parse_qsl, unquote, urlsplit

from errors import CommandError, ConfigError, RefusedError
from ops import backup_agent as agent
from runner import process

PG_VAR, REDIS_VAR = "OLD_DATABASE_URL", "OLD_REDIS_URL"
HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,62}")
DBNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}")
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
DUMP_TIMEOUT = 4 * 3600.0
COUNT_TIMEOUT = 600.0


@dataclass(frozen=True)
class Source:
    """One database of the old host: what the clients get (argv without secrets, env with)."""
    label: str                                      # user@host:port/db, no password
    args: tuple[str, ...] = ()                      # redis-cli's connection argv
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    db: str = ""                                    # PostgreSQL only


@dataclass(frozen=True)
class OldHost:
    postgres: Source | None
    redis: Source | None

    def labels(self) -> str:
        return ", ".join(s.label for s in (self.postgres, self.redis) if s)


def _bad(var: str, why: str) -> ConfigError:
    # The URL itself is never repeated: it holds the password.
    return ConfigError(f"{var}: {why} (the value is not shown: it holds a password)")


def _host_port(var: str, parts, default_port: int) -> tuple[str, int]:
    try:
        host, port = parts.hostname, parts.port or default_port
    except ValueError:
        raise _bad(var, "the port is not a number from 1 to 65535") from None
    if not host or not HOST.fullmatch(host) or not 1 <= port <= 65535:
        raise _bad(var, "needs a host name or IPv4 address and a port, like "
                        "scheme://user:password@host:port/…")
    return host, port


def _password(var: str, parts) -> str:
    password = unquote(parts.password or "")
    if any(c in password for c in "\x00\r\n"):
        raise _bad(var, "the password holds a control character")
    return password


def postgres_source(var: str, url: str) -> Source:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("postgres", "postgresql"):
        raise _bad(var, "must start with postgresql:// or postgres://")
    host, port = _host_port(var, parts, 5432)
    user, db = unquote(parts.username or ""), unquote(parts.path.lstrip("/"))
    if not USER.fullmatch(user):
        raise _bad(var, "needs a user name (letters, digits, _ . @ -)")
    if not DBNAME.fullmatch(db):
        raise _bad(var, "needs a database name after the last / (letters, digits, _ . -)")
    env = {"PGHOST": host, "PGPORT": str(port), "PGUSER": user, "PGDATABASE": db,
           "PGPASSWORD": _password(var, parts), "PGCONNECT_TIMEOUT": "15"}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key != "sslmode" or value not in SSLMODES:
            raise _bad(var, f"only ?sslmode= ({', '.join(SSLMODES)}) is understood after the "
                            "database name")
        env["PGSSLMODE"] = value
    return Source(f"postgresql {user}@{host}:{port}/{db}", env=env, db=db)


def redis_source(var: str, url: str) -> Source:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("redis", "rediss"):
        raise _bad(var, "must start with redis:// or rediss:// (TLS)")
    if parts.query:
        raise _bad(var, "takes no ?options")
    host, port = _host_port(var, parts, 6379)
    user, path = unquote(parts.username or ""), parts.path.lstrip("/")
    if path and not path.isdigit():
        raise _bad(var, "the part after the last / must be a database number")
    args = ["-h", host, "-p", str(port)]
    if user and user != "default":
        if not USER.fullmatch(user):
            raise _bad(var, "the user name holds characters other than letters, digits, _ . @ -")
        args += ["--user", user]
    if parts.scheme == "rediss":
        args.append("--tls")
    password = _password(var, parts)
    return Source(f"redis {user + '@' if user else ''}{host}:{port}", tuple(args),
                  {"REDISCLI_AUTH": password} if password else {})


def old_host(environ: Mapping[str, str] = os.environ) -> OldHost:
    pg, redis = environ.get(PG_VAR, "").strip(), environ.get(REDIS_VAR, "").strip()
    if not pg and not redis:
        raise ConfigError(f"set {PG_VAR} (postgresql://user:password@host:port/db) and/or "
                          f"{REDIS_VAR} (redis://:password@host:port) in the environment: "
                          "the current host's databases")
    return OldHost(postgres_source(PG_VAR, pg) if pg else None,
                   redis_source(REDIS_VAR, redis) if redis else None)


def given(environ: Mapping[str, str] = os.environ) -> bool:
    return bool(environ.get(PG_VAR, "").strip() or environ.get(REDIS_VAR, "").strip())


# --- the dump, on this machine ------------------------------------------------------------------

NEEDED = {"postgres": ("pg_dump", "pg_restore", "psql"), "redis": ("redis-cli", "redis-check-rdb")}
PACKAGE = {"postgres": "postgresql-client", "redis": "redis-tools"}


def _check_tools(old: OldHost) -> None:
    for kind, source in (("postgres", old.postgres), ("redis", old.redis)):
        missing = [t for t in NEEDED[kind] if source and not process.which(t)]
        if missing:
            raise ConfigError(f"migrate import needs {', '.join(missing)} on this machine "
                              f"(Debian: apt install {PACKAGE[kind]})")


def _runner(source: Source, timeout: float):
    def run(argv: list[str]) -> str:
        return process.run(argv, env=source.env, timeout=timeout).stdout
    return run


def _pg_counts(source: Source) -> dict[str, int]:
    return agent.pg_counts({"db": source.db}, run=_runner(source, COUNT_TIMEOUT))


def _redis_counts(source: Source) -> dict[str, int]:
    return agent.redis_counts({"args": list(source.args)}, run=_runner(source, COUNT_TIMEOUT))


def _dump_pg(source: Source, folder: Path) -> dict:
    before = _pg_counts(source)
    dump = folder / "postgres.dump"
    # -O -x: no owners, no GRANTs; the new server's roles are not the old host's.
    process.run(["pg_dump", "-Fc", "-O", "-x", "-f", str(dump), "-d", source.db],
                env=source.env, timeout=DUMP_TIMEOUT)
    listing = process.run(["pg_restore", "--list", str(dump)], timeout=COUNT_TIMEOUT).stdout
    if before and "TABLE DATA" not in listing:
        raise CommandError(f"{source.label}: pg_restore --list shows no table data in the dump")
    _unchanged("rows", before, _pg_counts(source), source)
    return {"file": dump.name, "counts": before}


def _dump_redis(source: Source, folder: Path) -> dict:
    before = _redis_counts(source)
    rdb = folder / "dump.rdb"
    process.run(["redis-cli", *source.args, "--rdb", str(rdb)], env=source.env,
                timeout=DUMP_TIMEOUT)
    process.run(["redis-check-rdb", str(rdb)], timeout=COUNT_TIMEOUT)
    _unchanged("keys", before, _redis_counts(source), source)
    return {"file": rdb.name, "counts": before}


def _unchanged(what: str, before: dict, after: dict, source: Source) -> None:
    if before != after:
        raise RefusedError(f"{source.label}: {what} changed during the dump ({sum(before.values())}"
                           f" before, {sum(after.values())} after): the old host is still being "
                           "written to; freeze writes (README, Write freeze) and import again")


def dump(old: OldHost, root: Path, now: dt.datetime | None = None) -> Path:
    """Dump the old host into root/<UTC time> (0700, files 0600) in the agent's backup format;
    returns that folder. A failed or interrupted dump leaves only `<name>.partial`, removed by
    the next run."""
    _check_tools(old)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in root.glob("*.partial"):
        shutil.rmtree(stale, ignore_errors=True)
    now = now or dt.datetime.now(dt.timezone.utc)
    name = now.strftime("%Y%m%dT%H%M%SZ")
    partial = root / f"{name}.partial"
    from runner.workspace import private_umask
    with private_umask():
        partial.mkdir(mode=0o700)
        parts = {}
        if old.postgres:
            parts["postgres"] = _dump_pg(old.postgres, partial)
        if old.redis:
            parts["redis"] = _dump_redis(old.redis, partial)
        files = {}
        for part in parts.values():
            path = partial / part["file"]
            os.chmod(path, 0o600)
            files[part["file"]] = {"bytes": path.stat().st_size, "sha256": agent._sha256(path)}
        agent._write_json(partial / "manifest.json", {
            "version": 1, "time": now.isoformat(), "files": files, **parts,
            "source": f"migrate import from {old.labels()}"})
    final = root / name
    os.rename(partial, final)
    return final


def summary(manifest_counts: dict) -> str:
    pg = manifest_counts.get("postgres", {})
    redis = manifest_counts.get("redis", {})
    return (f"{sum(pg.values())} rows in {len(pg)} tables, {sum(redis.values())} keys in "
            f"{len(redis)} databases")


# --- onto the new server --------------------------------------------------------------------

async def upload(conn, folder: Path) -> str:
    """The dump folder into the server's backups as `<name>.partial`, renamed when complete
    (only a complete backup has a final name there too). Returns the name."""
    from remote import backup_commands as b
    name = folder.name
    if (await conn.run(b.exists(name), check=False)).exit_status == 0:
        raise RefusedError(f"{conn.target.label}: a backup named {name} is already there")
    await conn.run(b.make_dirs())
    await conn.run(b.import_start(name))
    for path in sorted(folder.iterdir()):
        # A minute, plus a slow link's 2 MB/s: a dump of gigabytes must not hit a fixed limit.
        await conn.upload(str(b.DATA / f"{name}.partial" / path.name), path, 0o600,
                          timeout=60 + path.stat().st_size / 2e6)
    await conn.run(b.import_commit(name))
    return name


async def import_to(conn, config, folder: Path) -> dict:
    """Upload, then the live restore (drill first; the data as it was is backed up)."""
    from ops.backup_service import restore_live
    name = await upload(conn, folder)
    return await restore_live(conn, config, name)

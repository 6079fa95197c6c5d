"""Backups on the servers over SSH: install (app phase), backup now, list, status, restore.

The database host is the all-in-one server, or the db server in 3-tier
(app/service.py targets_from with DB_ROLES). Everything on the server is done
by the agent (ops/backup_agent.py + ops/backup_restore.py, uploaded here);
this module runs it with argv lists from remote/backup_commands.py and turns
its answers into typed results. Library code: it raises, commands/ prints.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

from errors import ConfigError, RefusedError, RemoteError
from ops import backup_setup as setup
from remote import backup_commands as b

DB_ROLES = ("all-in-one", "db")
HERE = Path(__file__).resolve().parent
AGENT_FILES = ("backup_agent.py", "backup_restore.py")
LONG = 4 * 3600.0          # a backup or restore of a big database


def _backup_config(config):
    if config.backup is None:
        raise ConfigError("no [backup] section in deploy.toml: add one (see README, Backups)")
    return config.backup


def targets(config, outputs):
    from app.service import targets_from
    return targets_from(config, outputs, DB_ROLES)


# --- install (the app phase) ------------------------------------------------------------------

async def _redis_image(conn, project: str, service: str) -> str | None:
    ids = await conn.run(b.service_container(project, service), check=False, timeout=60)
    first = ids.stdout.split()[:1]
    if ids.exit_status != 0 or not first:
        return None
    image = await conn.run(b.container_image(first[0]), check=False)
    return image.stdout.strip() or None if image.exit_status == 0 else None


async def install(conn, config, env: bytes, environ=os.environ) -> str:
    """Upload the agent, its config and the units; enable the timers when systemd runs.
    Returns what was done, in words."""
    backup = _backup_config(config)
    from remote import commands as c
    if (await conn.run(c.read_current(config.project), check=False)).exit_status != 0:
        # 3-tier: the databases must run in the app's Compose project on the db server.
        raise RemoteError(f"{conn.target.label}: no app release here, so no databases to back "
                          f"up; [backup] needs the app's Compose project on the database host")
    await conn.run(b.make_dirs())
    for name in AGENT_FILES:
        await conn.upload(str(b.ROOT / name), (HERE / name).read_bytes(), 0o700)
    image = await _redis_image(conn, config.project, backup.redis_service) \
        if backup.redis_service else None
    if backup.redis_service and not image:
        raise RemoteError(f"{conn.target.label}: no running container of the Compose service "
                          f"{backup.redis_service!r} ([backup.services] redis)")
    doc = setup.agent_config(config.project, backup, redis_image=image,
                             postgres_db=setup.env_value(env, "POSTGRES_DB"))
    await conn.upload(str(b.CONFIG), setup.config_bytes(doc), 0o600)
    if backup.s3:
        keys = setup.s3_env(environ)
        if keys is None:
            raise ConfigError("[backup] s3 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in "
                              "the environment of this run (they are copied to the server, 0600)")
        await conn.upload(str(b.S3_ENV), keys, 0o600)
        if (await conn.run(b.has_rclone(), check=False)).exit_status != 0:
            await conn.run(b.install_rclone(), timeout=600)
    systemd = (await conn.run(b.systemd_running(), check=False)).exit_status == 0
    if systemd:
        for key, value in (("schedule", backup.schedule), ("drill_schedule", backup.drill_schedule)):
            if (await conn.run(b.check_calendar(value), check=False)).exit_status != 0:
                raise ConfigError(f"backup.{key}: systemd does not read {value!r} as a time "
                                  f"(see `man systemd.time`, e.g. daily or \"*-*-* 03:15:00\")")
    for name, text in setup.units(backup).items():
        await conn.upload(str(b.UNIT_DIR / name), text.encode(), setup.UNIT_MODE)
    if not systemd:
        return "backup units written, timers not active (no systemd on this server)"
    await conn.run(b.daemon_reload())
    await conn.run(b.enable_timers())
    return f"backup timer active ({backup.schedule})"


# --- now, list, status --------------------------------------------------------------------------

@dataclass(frozen=True)
class Listing:
    local: tuple[dict, ...]
    offsite: tuple[dict, ...] | None
    offsite_error: str | None
    status: dict
    stale_after_hours: int

    @property
    def newest(self) -> dict | None:
        return self.local[-1] if self.local else None

    def verdict(self, now: dt.datetime | None = None) -> tuple[str, str]:
        """("ok" | "stale" | "failed" | "none", why)."""
        now = now or dt.datetime.now(dt.timezone.utc)
        state = self.status.get("status")
        if state == "failed":
            return "failed", self.status.get("error", "the last backup failed")
        if not self.local:
            return "none", "no backup on the server yet"
        age = now - dt.datetime.fromisoformat(self.local[-1]["time"])
        hours = age.total_seconds() / 3600
        if hours > self.stale_after_hours:
            return "stale", (f"the newest backup {self.local[-1]['name']} is {hours:.1f} h old "
                             f"(stale after {self.stale_after_hours} h)")
        if self.offsite_error:
            return "failed", f"off-site listing failed: {self.offsite_error}"
        return "ok", f"newest {self.local[-1]['name']}, {hours:.1f} h old"


async def listing(conn) -> Listing:
    done = await conn.run(b.agent("list"), check=False, timeout=300)
    if done.exit_status != 0:
        last = (done.stderr.strip() or "no output").splitlines()[-1]
        raise RemoteError(f"{conn.target.label}: backups not installed or not readable "
                          f"(deploy with [backup] first): {last[:300]}")
    doc = json.loads(done.stdout)
    return Listing(tuple(doc["local"]), tuple(doc["offsite"]) if "offsite" in doc else None,
                   doc.get("offsite_error"), doc["status"], int(doc["stale_after_hours"]))


async def backup_now(conn, keep: str | None = None) -> str:
    """Run one backup now and wait; the new backup's name, or RemoteError with the agent's
    reason (from status.json: a failure never reads as success). `keep`: a backup this
    run's retention must not remove (the agent is then run directly, not through systemd)."""
    systemd = (await conn.run(b.systemd_running(), check=False)).exit_status == 0
    argv = b.agent("backup", "--keep", keep) if keep else b.backup_now(systemd)
    done = await conn.run(argv, check=False, timeout=LONG)
    state = (await listing(conn)).status
    if done.exit_status != 0 or state.get("status") != "ok":
        raise RemoteError(f"{conn.target.label}: backup failed: "
                          f"{state.get('error') or done.stderr.strip()[-300:] or 'no reason given'}")
    return state["backup"]


# --- restore ---------------------------------------------------------------------------------------

async def drill(conn, name: str | None) -> str:
    done = await conn.run(b.agent("drill", *(["--backup", name] if name else [])), check=False,
                          timeout=LONG)
    if done.exit_status != 0:
        raise RemoteError(f"{conn.target.label}: {done.stderr.strip()[-400:] or 'drill failed'}")
    return done.stdout.strip()


async def restore_live(conn, config, name: str) -> dict:
    """Drill the backup (a corrupt one is refused before anything changes), back up the data
    as it is now, stop the app's own services, restore, compare counts, start the app and
    wait for its health check. Returns {"fresh": name, "restored": counts, "url": ...}."""
    backup, project = _backup_config(config), config.project
    try:
        await drill(conn, name)
    except RemoteError as exc:
        raise RefusedError(f"live restore refused: {name} does not pass its restore drill "
                           f"({exc.message})") from None
    fresh = await backup_now(conn, keep=name)
    services = (await conn.run(b.list_services(project), timeout=120)).stdout.split()
    app_services = [s for s in services if s not in (backup.postgres_service, backup.redis_service)]
    if app_services:
        await conn.run(b.stop_services(project, app_services), timeout=600)
    done = await conn.run(b.agent("restore", "--backup", name), check=False, timeout=LONG)
    if done.exit_status != 0:
        raise RemoteError(f"{conn.target.label}: {done.stderr.strip()[-400:]}; the app is left "
                          f"stopped; the data from before is backup {fresh} (restore --from "
                          f"{fresh} --target live puts it back)")
    restored = json.loads(done.stdout)
    await conn.run(b.start_all(project), timeout=600)
    url = ""
    if config.app is not None:
        from app.health import wait_healthy
        a = config.app
        health = await wait_healthy(conn.target.address, a.health_port, a.health_path,
                                    a.health_timeout_s)
        if not health.ok:
            raise RemoteError(f"{conn.target.label}: restored {name}, but the app's health check "
                              f"{health.url} failed ({health.detail}); the data from before is "
                              f"backup {fresh}")
        url = health.url
    return {"fresh": fresh, "restored": restored, "url": url}


# --- sync entry points (commands/) -------------------------------------------------------------

def each(config, outputs, make, what: str):
    from remote.ssh import connect, run_sync
    hosts = targets(config, outputs)

    async def main():
        out = []
        for target in hosts:
            async with connect(target) as conn:
                out.append((target, await make(conn)))
        return out
    return run_sync(main(), what=what)

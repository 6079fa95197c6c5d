"""`verify --after` rows of the app phase: SSH with the pinned key, containers, .env, databases.

Each app host gets: SSH reachable with its pinned host key; the current
release's containers running (and healthy where they have a health check);
.env mode 0600 owned by root; ports 5432 and 6379 NOT reachable on the public
address from here (Docker's published ports bypass UFW: databases must bind to
127.0.0.1 or the private network).
"""
from __future__ import annotations

import socket

from checks.base import FAIL, NOT_CHECKED, OK, Check
from errors import DeployError
from remote import commands as c

SECTION = "after"
DATABASE_PORTS = (5432, 6379)


def app_checks(after) -> list[Check]:
    config = after.config
    if config is None or getattr(config, "app", None) is None:
        return [Check(SECTION, "Server reachable over SSH", NOT_CHECKED, "no [app] in deploy.toml"),
                Check(SECTION, "Containers healthy", NOT_CHECKED, "no [app] in deploy.toml")]
    from app.service import targets_from
    try:
        # 3-tier: the db server runs the app's data services, so it is checked too (its
        # 5432/6379 above all must not answer on its public address).
        targets = targets_from(config, after.outputs, ("all-in-one", "app", "db"))
    except DeployError as exc:
        return [Check(SECTION, "Server reachable over SSH", FAIL, str(exc))]
    checks = []
    for target in targets:
        checks += _host_checks(config.project, target)
    return checks


def _host_checks(project: str, target) -> list[Check]:
    from remote.ssh import connect, run_sync
    who = target.name

    async def gather():
        async with connect(target, timeout=15) as conn:
            current = await conn.run(c.read_current(project), check=False)
            if current.exit_status != 0:
                return None, None, None
            release = current.stdout.strip().rsplit("/", 1)[-1]
            ids = (await conn.run(c.compose_container_ids(project, release))).stdout.split()
            states = (await conn.run(c.inspect_state(ids))).stdout if ids else ""
            mode = (await conn.run(c.env_mode(project))).stdout.strip()
            return release, states, mode
    try:
        release, states, mode = run_sync(gather(), what="verify --after")
    except DeployError as exc:
        return [Check(SECTION, f"{who}: SSH with the pinned host key", FAIL, str(exc),
                      "check the server is running and its pinned key (see the message)")]
    rows = [Check(SECTION, f"{who}: SSH with the pinned host key", OK, target.address)]
    if release is None:
        rows.append(Check(SECTION, f"{who}: containers running", FAIL, "no current release",
                          "run `hetzner-deploy app deploy`"))
    else:
        bad = [ln for ln in states.splitlines()
               if ln.split()[1:2] != ["running"] or ln.split()[2:3] not in (["healthy"], ["-"])]
        count = len(states.splitlines())
        rows.append(Check(SECTION, f"{who}: containers running", OK if count and not bad else FAIL,
                          f"release {release}: {count} container(s)"
                          + (f"; not running/healthy: {', '.join(b.split()[0] for b in bad)}" if bad else "")))
        rows.append(Check(SECTION, f"{who}: .env mode 0600 root", OK if mode == "600 root" else FAIL,
                          f"mode/owner {mode}"))
    for port in DATABASE_PORTS:
        open_ = _reachable(target.address, port)
        rows.append(Check(SECTION, f"{who}: port {port} closed from outside", FAIL if open_ else OK,
                          f"{target.address}:{port} {'ANSWERS' if open_ else 'does not answer'}",
                          "bind the database to 127.0.0.1 or the private network: Docker's "
                          "published ports bypass UFW" if open_ else None))
    return rows


def _reachable(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=2):
            return True
    except OSError:
        return False

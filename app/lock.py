"""The deploy lock on the server: an atomic `mkdir` holding who, when and what.

Of two deploys that race, exactly one creates the folder; the other reads the
owner record and stops with its age. A lock older than STALE_AFTER_S is called
stale in the message; breaking it is always the user's explicit --break-lock.
"""
from __future__ import annotations

import getpass
import json
import os
import socket
import time
from contextlib import asynccontextmanager

from errors import RemoteError
from remote import commands as c

STALE_AFTER_S = 15 * 60


def owner_record(command: str, now: float | None = None) -> bytes:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return json.dumps({"owner": f"{user}@{socket.gethostname()}", "pid": os.getpid(),
                       "time": int(now if now is not None else time.time()),
                       "command": command}, sort_keys=True).encode()


def describe(record: str, now: float | None = None) -> str:
    try:
        data = json.loads(record)
        age = int((now if now is not None else time.time()) - int(data["time"]))
        stale = " (stale)" if age > STALE_AFTER_S else ""
        return (f"held by {data['owner']} (pid {data['pid']}) running `{data['command']}` "
                f"for {age} s{stale}")
    except (ValueError, KeyError, TypeError):
        return "held, with an unreadable owner record"


@asynccontextmanager
async def deploy_lock(conn, project: str, command: str, *, break_lock: bool = False):
    await conn.run(c.make_app_root(project))
    taken = await conn.run(c.take_lock(project), check=False)
    if taken.exit_status != 0:
        held = await conn.run(c.read_lock(project), check=False)
        what = describe(held.stdout)
        if not break_lock:
            raise RemoteError(f"{conn.target.label}: the deploy lock {c.lock_dir(project)} is {what}; "
                              f"wait for it, or rerun with --break-lock if no deploy is running")
        await conn.run(c.release_lock(project))
        await conn.run(c.take_lock(project))
    await conn.upload(str(c.lock_dir(project) / "owner"), owner_record(command), 0o600)
    try:
        yield
    finally:
        # Also on an error or a cancel: a lock left behind would need --break-lock.
        try:
            await conn.run(c.release_lock(project), timeout=15)
        except BaseException:   # noqa: BLE001 - the connection may be gone; the age says so later
            pass

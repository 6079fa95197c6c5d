"""One run at a time per work directory.

Two `deploy` runs in one checkout would interleave plan files, checkpoints
and state backups. Terraform's own state lock only covers the state, and
only while terraform runs, so we hold an exclusive flock on
<workdir>/.work/run.lock for the whole plan/apply/deploy/destroy/adopt.

flock, not a PID file: the kernel drops the lock when its holder dies, even
by kill -9, so there is no stale lock to clean up. The file's content (the
holder's PID and operation) is only for the message; it never decides.
The lock is re-entrant within one process, so `deploy` can hold it while the
plan and apply it calls take it again.
"""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from errors import RefusedError
from runner.workspace import PRIVATE_FILE_MODE, private_dir

LOCK_NAME = "run.lock"
WAIT_ENV = "HETZNER_DEPLOY_WAIT"   # seconds to wait for another run instead of failing
POLL_S = 0.1

# Files that exist only while a locked operation runs: found at lock time,
# they are leftovers of a killed run. The destroy override would otherwise
# silently switch prevent_destroy off for every later plan.
DESTROY_OVERRIDE = "zz_destroy_volume_override.tf"

_held: dict[str, list[int]] = {}   # lock path -> [fd, depth]


class WorkdirBusy(RefusedError):
    """Another run holds this work directory."""


def lock_path(workdir: Path) -> Path:
    return workdir / ".work" / LOCK_NAME


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return "unknown"
    return text.splitlines()[0][:120] if text else "unknown"


def clean_stale(workdir: Path) -> list[Path]:
    """Temporary files a killed run left behind (only safe while we hold the lock)."""
    removed = []
    for folder, pattern in ((workdir / ".work", "*.tmp"), (workdir / ".work", ".*.tmp"),
                            (workdir, ".*.tmp")):
        for path in folder.glob(pattern):
            if path.is_file():
                path.unlink(missing_ok=True)
                removed.append(path)
    override = workdir / DESTROY_OVERRIDE
    if override.is_file():
        override.unlink()
        removed.append(override)
    return removed


def _wait_seconds(wait: float | None) -> float:
    if wait is not None:
        return wait
    raw = os.environ.get(WAIT_ENV, "").strip()
    try:
        return max(0.0, float(raw)) if raw else 0.0
    except ValueError:
        return 0.0


def _acquire(path: Path, what: str, wait: float) -> int:
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = _holder(path)
                os.close(fd)
                waited = f" after waiting {wait:g}s" if wait else ""
                raise WorkdirBusy(
                    f"another hetzner-deploy run holds {path.parent.parent} ({holder}){waited}; "
                    f"let it finish, or set {WAIT_ENV}=<seconds> to wait for it") from None
            time.sleep(POLL_S)
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()} {what} since "
                 f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n".encode())
    return fd


@contextmanager
def workdir_lock(workdir: Path, what: str = "run", *, wait: float | None = None) -> Iterator[Path]:
    path = lock_path(Path(workdir))
    key = str(Path(workdir).resolve() / ".work" / LOCK_NAME)
    entry = _held.get(key)
    if entry is not None:
        entry[1] += 1
    else:
        fd = _acquire(path, what, _wait_seconds(wait))
        _held[key] = [fd, 1]
        clean_stale(Path(workdir))
    try:
        yield path
    finally:
        entry = _held[key]
        entry[1] -= 1
        if entry[1] == 0:
            del _held[key]
            # Content stays; it is ignored. Closing the fd releases the flock.
            os.close(entry[0])

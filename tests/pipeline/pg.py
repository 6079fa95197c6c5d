"""A throwaway PostgreSQL for backend tests: non-root, 127.0.0.1, free port, tmp dir."""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

from runner.process import run

PG_USER = "postgres"  # PostgreSQL refuses to run as root


def _bindir() -> Path | None:
    for candidate in (*sorted(Path("/usr/lib/postgresql").glob("*/bin")), Path("/usr/local/bin")):
        if (candidate / "pg_ctl").is_file() and (candidate / "initdb").is_file():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalPostgres:
    def __init__(self) -> None:
        self.bindir = _bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL binaries (pg_ctl, initdb) not found")
        self.dir = Path(tempfile.mkdtemp(prefix="h3-pg-"))
        self.port = _free_port()
        shutil.chown(self.dir, user=PG_USER)
        os.chmod(self.dir, 0o700)

    def _as_pg(self, *argv: str) -> None:
        prefix = ["runuser", "-u", PG_USER, "--"] if os.geteuid() == 0 else []
        run(prefix + list(argv), cwd="/", timeout=60)

    def start(self) -> str:
        data = self.dir / "data"
        self._as_pg(str(self.bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "tf")
        self._as_pg(str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "log"),
                    "-w", "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1",
                    "start")
        # initdb's own "postgres" database is enough: the backend makes its schema.
        return f"postgres://tf@127.0.0.1:{self.port}/postgres?sslmode=disable"

    def stop(self) -> None:
        try:
            self._as_pg(str(self.bindir / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast",
                        "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

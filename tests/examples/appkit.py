"""Shipping examples/app to a sandbox machine and talking to it: shared by
the e2e tests and bench/example_app.py."""
from __future__ import annotations

import base64
import io
import json
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.sandbox.machines.machinekit import ssh

APP_DIR = Path(__file__).resolve().parents[2] / "examples" / "app"
REMOTE = "/srv/app"
# How the app starts on a server (the app phase runs the same, over SSH, in REMOTE).
START = ["docker", "compose", "up", "-d", "--remove-orphans"]


def app_tarball(env_text: str) -> bytes:
    """examples/app as a tar (no caches), with .env made from .env.example plus overrides."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in sorted(APP_DIR.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.name != ".env":
                tar.add(path, arcname=str(path.relative_to(APP_DIR)), recursive=False)
        data = env_text.encode()
        info = tarfile.TarInfo(".env")
        info.size, info.mode = len(data), 0o600
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def ship(ip: str, client_key: str, host_public: str, project: str) -> None:
    env_text = (APP_DIR / ".env.example").read_text() + f"PROJECT={project}\n"
    payload = base64.b64encode(app_tarball(env_text)).decode()
    done = ssh(ip, f"mkdir -p {REMOTE} && base64 -d | tar -x -C {REMOTE}", client_key, host_public, input=payload)
    assert done.exit_status == 0, done.stderr


def compose(ip: str, client_key: str, host_public: str, *args: str, timeout: float = 180.0):
    return ssh(ip, f"cd {REMOTE} && docker compose {' '.join(args)}", client_key, host_public, timeout=timeout)


def http(ip: str, method: str, path: str, body: str | None = None, timeout: float = 5.0) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://{ip}:80{path}", method=method,
                                     data=body.encode() if body is not None else None)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def wait_health(ip: str, want: int = 200, timeout: float = 90.0) -> tuple[int, dict]:
    """Until GET /health answers `want` (connection errors count as not yet)."""
    deadline = time.monotonic() + timeout
    last: tuple[int, dict] | str = "no answer"
    while time.monotonic() < deadline:
        try:
            last = http(ip, "GET", "/health", timeout=5)
            if last[0] == want:
                return last
        except OSError as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise AssertionError(f"{ip}: /health did not answer {want} within {timeout}s (last: {last})")

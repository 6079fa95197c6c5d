"""Helpers for the verify/preflight tests: a scripted local HTTP API and the emulator.

ScriptedApi answers on 127.0.0.1 with queued (status, headers, body) per
path, then a default; it exists so the real urllib3 retry path (sleeps,
Retry-After) runs, which `responses` bypasses. Nothing here leaves the machine.
"""
from __future__ import annotations

import json
import socket
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest
import requests

TOKEN = "hd-tok-ZQ9xV7-DISTINCTIVE-4f1e"  # grep-able in every output

EMPTY_PAGE = {"pagination": {"page": 1, "per_page": 50, "previous_page": None,
                             "next_page": None, "last_page": 1, "total_entries": 0}}


class ScriptedApi(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: dict[str, list[tuple[int, dict, dict]]] = {}
        self.default: dict[str, tuple[int, dict, dict]] = {}
        self.hits: list[str] = []
        self.auth_headers: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def queue(self, path: str, status: int, body: dict | None = None,
              headers: dict | None = None) -> None:
        self.script.setdefault(path, []).append((status, headers or {}, body or {}))

    def answer(self, path: str, status: int, body: dict | None = None,
               headers: dict | None = None) -> None:
        self.default[path] = (status, headers or {}, body or {})

    def next_for(self, path: str) -> tuple[int, dict, dict]:
        queued = self.script.get(path)
        if queued:
            return queued.pop(0)
        if path in self.default:
            return self.default[path]
        return 404, {}, {"error": {"code": "not_found", "message": "not found", "details": {}}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ScriptedApi

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        path = urlsplit(self.path).path.removeprefix("/v1")
        self.server.hits.append(path)
        self.server.auth_headers.append(self.headers.get("Authorization", ""))
        status, headers, body = self.server.next_for(path)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, str(value))
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def scripted_api() -> Iterator[ScriptedApi]:
    server = ScriptedApi()
    # A short poll keeps shutdown() quick: it waits for the loop to look again.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class FakeClock:
    """A clock for checks.hetzner_api: `sleep` records the wait and moves time
    on at once, so retry tests count waits and reach deadlines without sleeping."""

    def __init__(self, start: float = 1000.0):
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def emulator(state_dir: Path, token: str = TOKEN) -> Iterator[object]:
    """The sandbox Hetzner API emulator on a free loopback port, stopped afterwards."""
    from tests.sandbox.conftest import start_emulator
    running = start_emulator(state_dir, token=token)
    try:
        yield running.server
    finally:
        running.server.close()


def admin(server, method: str, path: str, body: dict | None = None, token: str = TOKEN) -> dict:
    """Call an emulator admin endpoint (/_sandbox/...)."""
    base = server.url.removesuffix("/v1")
    resp = requests.request(method, base + path, json=body, timeout=10,
                            headers={"Authorization": f"Bearer {token}"})
    resp.raise_for_status()
    return resp.json()


def api(server, method: str, path: str, body: dict | None = None, token: str = TOKEN) -> dict:
    """Create things in the emulator the way a foreign tool (console, hcloud CLI) would."""
    resp = requests.request(method, server.url + path, json=body, timeout=10,
                            headers={"Authorization": f"Bearer {token}"})
    resp.raise_for_status()
    return resp.json()


@pytest.fixture
def emu(tmp_path):
    """The emulator for one test, on a free loopback port (import this fixture by name)."""
    with emulator(tmp_path / "emulator-state") as server:
        yield server

"""Shared sandbox fixtures: an emulator on a free port, in a tmp dir, stopped
after the test. Other sandbox tests (the stand-in provider's too) use these.

    def test_x(emulator):            # RunningEmulator
        emulator.url, emulator.token, emulator.state_dir
        emulator.admin("POST", "/_sandbox/faults", {"count": 1, "status": 503})
    def test_y(hcloud_client): ...   # hcloud.Client bound to the emulator
"""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sandbox.emulator import EmulatorServer, make_server

TOKEN = "test-token-not-a-secret"


@dataclass
class RunningEmulator:
    url: str                 # http://127.0.0.1:PORT/v1
    token: str = field(repr=False)
    state_dir: Path
    server: EmulatorServer

    @property
    def base(self) -> str:
        return self.url[: -len("/v1")]

    def request(self, method: str, path: str, body: dict | None = None,
                token: str | None = None, auth: str | None = None) -> tuple[int, dict | None, dict]:
        """Raw HTTP call; path is relative to the host (e.g. "/v1/servers").
        `auth` replaces the whole Authorization header ("" sends none).
        Returns (status, json body or None, headers)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        header = f"Bearer {self.token if token is None else token}" if auth is None else auth
        if header:
            req.add_header("Authorization", header)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None, dict(resp.headers)
        except urllib.error.HTTPError as err:
            raw = err.read()
            return err.code, json.loads(raw) if raw else None, dict(err.headers)

    def api(self, method: str, path: str, body: dict | None = None):
        return self.request(method, "/v1" + path, body)

    def admin(self, method: str, path: str, body: dict | None = None) -> dict | None:
        status, payload, _ = self.request(method, path, body)
        assert status == 200, (status, payload)
        return payload

    def client(self, **kwargs):
        from hcloud import Client
        kwargs.setdefault("poll_interval", 0.05)
        return Client(token=self.token, api_endpoint=self.url, **kwargs)


def start_emulator(state_dir: Path, **kwargs) -> RunningEmulator:
    server = make_server(state_dir, port=0, token=kwargs.pop("token", TOKEN), **kwargs)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return RunningEmulator(server.url, server.token, Path(state_dir), server)


@pytest.fixture
def emulator(tmp_path):
    running = start_emulator(tmp_path / "emulator-state")
    try:
        yield running
    finally:
        running.server.close()


@pytest.fixture
def hcloud_client(emulator):
    return emulator.client()

"""The example backend's handlers against a real redis-server on loopback
(the host's Debian one) and a PostgreSQL port nobody listens on; its HTTP
routes through a real server on an ephemeral port."""
from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.examples.appkit import APP_DIR


def _load(name: str, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


app = _load("example_backend", APP_DIR / "backend" / "app.py")
worker = _load("example_ai", APP_DIR / "ai" / "worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_server(tmp_path):
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = _free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path),
                             "--requirepass", "pw"], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield app.Redis("127.0.0.1", port, "pw")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _no_postgres():
    """A connect that fails the way psycopg2 does when nothing listens."""
    socket.create_connection(("127.0.0.1", _free_port()), timeout=1)


def test_resp_client_speaks_to_a_real_redis(redis_server):
    assert redis_server.command("PING") == "PONG"
    assert redis_server.command("INCR", "n") == 1
    assert redis_server.command("SET", "k", "välue\r\nwith newline") == "OK"
    assert redis_server.command("GET", "k") == "välue\r\nwith newline"
    assert redis_server.command("GET", "missing") is None
    wrong = app.Redis(redis_server.host, redis_server.port, "not-the-password")
    with pytest.raises(app.Unavailable, match="redis: WRONGPASS"):
        wrong.command("PING")


def test_health_is_503_naming_postgres_when_it_does_not_answer(redis_server):
    status, body = app.health(connect=_no_postgres, cache=redis_server)
    assert status == 503
    assert body["status"] == "unavailable" and body["checks"]["redis"] == "ok"
    assert body["checks"]["postgres"].startswith("postgres: ")


def test_health_is_503_naming_redis_when_it_is_gone():
    class Answers:            # a DB-API connection that really runs nothing but SELECT 1
        def cursor(self):
            return self
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            return False
        def execute(self, sql, params=()):
            assert sql == "SELECT 1"
        description = ("?column?",)
        def fetchone(self):
            return (1,)
        def close(self):
            pass
    status, body = app.health(connect=Answers, cache=app.Redis("127.0.0.1", _free_port()))
    assert status == 503 and body["checks"]["postgres"] == "ok" and body["checks"]["redis"] != "ok"


def test_an_unknown_service_name_fails_fast():
    with pytest.raises(app.Unavailable, match="does not resolve"):
        app.resolve("no-such-service.invalid", timeout=1.0)


@pytest.fixture
def servers(monkeypatch):
    ai = worker.ThreadingHTTPServer(("127.0.0.1", 0), worker.Handler)
    monkeypatch.setenv("AI_HOST", "127.0.0.1")
    monkeypatch.setenv("AI_PORT", str(ai.server_address[1]))
    monkeypatch.setenv("POSTGRES_HOST", "127.0.0.1")
    monkeypatch.setenv("POSTGRES_PORT", str(_free_port()))
    monkeypatch.setenv("REDIS_HOST", "127.0.0.1")
    monkeypatch.setenv("REDIS_PORT", str(_free_port()))
    backend = app.ThreadingHTTPServer(("127.0.0.1", 0), app.Handler)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (ai, backend)]
    for t in threads:
        t.start()
    yield f"http://127.0.0.1:{backend.server_address[1]}"
    for s in (ai, backend):
        s.shutdown()
        s.server_close()


def _call(url, method="GET", body=None):
    request = urllib.request.Request(url, method=method, data=body)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_routes(servers):
    assert _call(servers + "/ask", "POST", b"one two three") == (200, {"model": "stub", "words": 3,
                                                                       "summary": "one two three"})
    status, body = _call(servers + "/health")
    assert status == 503 and set(body["checks"]) == {"postgres", "redis"}
    assert _call(servers + "/notes", "POST", b"x")[0] == 503
    assert _call(servers + "/notes", "POST", b"")[0] == 400
    assert _call(servers + "/nope")[0] == 404
    assert _call(servers + "/notes", "POST", b"x" * (app.MAX_BODY + 1))[0] == 400

"""The example backend: a small stdlib HTTP server in front of PostgreSQL and
Redis, the shape of the team's app (backend + AI layer, Compose).

    GET  /health        200 {"status": "ok", ...} only when a real query on
                        PostgreSQL and a Redis PING both answer; else 503
                        naming what failed (the deploy's health gate reads it)
    POST /notes         body = text: one row in PostgreSQL, one key in Redis
    GET  /notes/count   rows in PostgreSQL and the Redis counter (proof that
                        data survives restarts, tier switches and restores)
    POST /ask           body = text: forwarded to the ai service
Config comes from the environment (Compose's env_file: .env)."""
from __future__ import annotations

import json
import os
import socket
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 64 * 1024


class Unavailable(Exception):
    """A dependency did not answer (mapped to 503)."""


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


class Redis:
    """Just enough RESP (the Redis protocol) for AUTH, PING, INCR, SET, GET:
    the sandbox image carries no redis client library, and these four
    commands need none."""

    def __init__(self, host: str, port: int, password: str = "", timeout: float = 2.0):
        self.host, self.port, self.password, self.timeout = host, port, password, timeout

    def command(self, *args: str) -> object:
        with socket.create_connection((resolve(self.host, self.timeout), self.port), timeout=self.timeout) as conn:
            stream = conn.makefile("rwb")
            if self.password:
                self._send(stream, "AUTH", self.password)
                self._read(stream)
            self._send(stream, *args)
            return self._read(stream)

    @staticmethod
    def _send(stream, *args: str) -> None:
        parts = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            data = arg.encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        stream.write(b"".join(parts))
        stream.flush()

    def _read(self, stream) -> object:
        line = stream.readline()
        if not line.endswith(b"\r\n"):
            raise Unavailable("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise Unavailable(f"redis: {rest.decode()}")
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else stream.read(size + 2)[:-2].decode()
        raise Unavailable(f"redis: unexpected reply {line[:20]!r}")


def resolve(host: str, timeout: float = 2.0) -> str:
    """The address of a Compose service, within `timeout`. A stopped service's
    name is unknown to Docker's DNS, which then asks upstream resolvers an
    internal network cannot reach: the lookup would hang for many seconds and
    so would /health. Resolving in a thread bounds it."""
    found: list = []

    def lookup() -> None:
        try:
            found.append(socket.getaddrinfo(host, None, socket.AF_INET))
        except OSError:
            pass   # reported below as not resolving

    worker = threading.Thread(target=lookup, daemon=True)
    worker.start()
    worker.join(timeout)
    if not found:
        raise Unavailable(f"name {host!r} does not resolve")
    return found[0][0][4][0]


def pg_connect():
    import psycopg2   # imported here so the handlers' unit tests need no libpq
    return psycopg2.connect(host=resolve(env("POSTGRES_HOST", "postgres")), port=int(env("POSTGRES_PORT", "5432")),
                            user=env("POSTGRES_USER", "app"), password=env("POSTGRES_PASSWORD"),
                            dbname=env("POSTGRES_DB", "app"), connect_timeout=2)


def redis() -> Redis:
    return Redis(env("REDIS_HOST", "redis"), int(env("REDIS_PORT", "6379")), env("REDIS_PASSWORD"))


def pg_run(sql: str, params: tuple = (), connect=None):
    try:
        conn = (connect or pg_connect)()
    except Unavailable as exc:
        raise Unavailable(f"postgres: {exc}")
    except Exception as exc:   # psycopg2.OperationalError and socket errors alike: not reachable
        raise Unavailable(f"postgres: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}")
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone() if cur.description else None
    finally:
        conn.close()


def health(connect=None, cache: Redis | None = None) -> tuple[int, dict]:
    checks = {}
    try:
        checks["postgres"] = "ok" if pg_run("SELECT 1", connect=connect) == (1,) else "wrong answer"
    except Unavailable as exc:
        checks["postgres"] = str(exc)
    try:
        checks["redis"] = "ok" if (cache or redis()).command("PING") == "PONG" else "wrong answer"
    except (Unavailable, OSError) as exc:
        checks["redis"] = str(exc) or type(exc).__name__
    ok = all(v == "ok" for v in checks.values())
    return (200 if ok else 503), {"status": "ok" if ok else "unavailable", "checks": checks}


SCHEMA = "CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, body text NOT NULL, at timestamptz DEFAULT now())"


def add_note(text: str, connect=None, cache: Redis | None = None) -> dict:
    pg_run(SCHEMA, connect=connect)
    row = pg_run("INSERT INTO notes (body) VALUES (%s) RETURNING id", (text,), connect=connect)
    cache = cache or redis()
    written = cache.command("INCR", "notes:written")
    cache.command("SET", "notes:last", text)
    return {"id": row[0], "written": written}


def count_notes(connect=None, cache: Redis | None = None) -> dict:
    pg_run(SCHEMA, connect=connect)
    rows = pg_run("SELECT count(*) FROM notes", connect=connect)[0]
    cache = cache or redis()
    return {"rows": rows, "written": int(cache.command("GET", "notes:written") or 0),
            "last": cache.command("GET", "notes:last")}


def ask(text: str) -> dict:
    url = f"http://{env('AI_HOST', 'ai')}:{env('AI_PORT', '8100')}/answer"
    request = urllib.request.Request(url, data=text.encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return json.loads(reply.read())
    except OSError as exc:
        raise Unavailable(f"ai: {exc}")


class Handler(BaseHTTPRequestHandler):
    server_version = "example-backend"

    def reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self) -> str | None:
        size = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(size).decode("utf-8", "replace") if 0 < size <= MAX_BODY else None

    def do_GET(self) -> None:
        self.route({"/health": lambda: health(), "/notes/count": lambda: (200, count_notes())})

    def do_POST(self) -> None:
        text = self.body()
        if text is None:
            return self.reply(400, {"error": f"send a text body of 1..{MAX_BODY} bytes"})
        self.route({"/notes": lambda: (201, add_note(text)), "/ask": lambda: (200, ask(text))})

    def route(self, table) -> None:
        action = table.get(self.path)
        if action is None:
            return self.reply(404, {"error": f"no {self.command} {self.path}"})
        try:
            self.reply(*action())
        except Unavailable as exc:
            self.reply(503, {"error": str(exc)})

    def log_message(self, fmt, *args) -> None:   # one line per request on stderr, no reverse DNS
        sys.stderr.write(f"{self.client_address[0]} {fmt % args}\n")


def main() -> None:
    port = int(env("BACKEND_PORT", "8000"))
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    print(f"backend listening on :{port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

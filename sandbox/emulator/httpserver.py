"""The HTTP side: bearer-token check, rate limit, JSON in and out (errors
included, for any method or path), injected faults, the /_sandbox admin
endpoints, and make_server() for tests and the CLI."""
from __future__ import annotations

import hmac
import json
import re
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import catalog
from .apierrors import FAULT_CODES, ApiFault, invalid_input
from .routing import Call, Router
from .store import Store
from .timing import DEFAULT_RATE_LIMIT, RateLimiter

# POST/PUT/DELETE on /<family>/<id>[/actions/...]: refused with `locked` while
# an action on that resource runs (the API: "there is already an Action running").
_TARGET = re.compile(r"^/(servers|volumes|firewalls|networks|load_balancers|floating_ips|primary_ips|"
                     r"certificates|images)/(\d+)(/actions/[a-z_]+)?/?$")


def build_router() -> Router:
    from . import catalog_routes, certificates, firewalls, ips, load_balancers, networks
    from . import servers, simple, volumes, zones
    from .routing import add_global_action_routes
    router = Router()
    for module in (catalog_routes, servers, volumes, firewalls, networks, load_balancers,
                   ips, simple, certificates, zones):
        module.register(router)
    add_global_action_routes(router)
    return router


class Faults:
    """The next `count` API requests get `status` (or only `latency_ms`)."""

    def __init__(self):
        self.plan: dict | None = None

    def set(self, body: dict) -> dict:
        count = body.get("count", 1)
        status = body.get("status")
        if not isinstance(count, int) or count < 0:
            raise invalid_input("count must be a non-negative integer", count="invalid")
        if status is not None and status not in FAULT_CODES:
            raise invalid_input(f"status must be one of {sorted(FAULT_CODES)}", status="invalid")
        latency = body.get("latency_ms", 0)
        retry_after = body.get("retry_after", 1)
        if not isinstance(latency, (int, float)) or latency < 0 or latency > 60000:
            raise invalid_input("latency_ms must be between 0 and 60000", latency_ms="invalid")
        self.plan = {"count": count, "status": status, "retry_after": retry_after,
                     "latency_ms": latency, "path_prefix": body.get("path_prefix", "")}
        return self.plan

    def take(self, path: str) -> dict | None:
        plan = self.plan
        if not plan or plan["count"] <= 0 or not path.startswith(plan["path_prefix"]):
            return None
        plan["count"] -= 1
        return dict(plan)


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, store: Store, token: str, rate_limit: int = DEFAULT_RATE_LIMIT):
        self.store = store
        self.token = token
        self.router = build_router()
        self.faults = Faults()
        self.fault_lock = threading.Lock()
        self.rate = RateLimiter(rate_limit, store.clock)
        self.extra_summary: dict = {}     # merged into /_sandbox/state (the registrar's endpoints)
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def port(self) -> int:
        return self.server_address[1]

    def close(self) -> None:
        self.shutdown()
        self.server_close()


def make_server(state_dir=None, host: str = "127.0.0.1", port: int = 0, token: str = "sandbox-token",
                ip_range: str | None = None, action_seconds: float = 0.0,
                rate_limit: int = DEFAULT_RATE_LIMIT, clock=time.time) -> EmulatorServer:
    """`action_seconds`: how long each action runs (0: done when first read);
    `rate_limit`: requests per hour per token; `clock`: seconds since the
    epoch, injectable so tests move time by hand (timing.ManualClock)."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the emulator only listens on the loopback interface")
    if not action_seconds >= 0:
        raise ValueError("action_seconds must not be negative")
    if rate_limit < 1:
        raise ValueError("rate_limit must be at least 1 request per hour")
    store = Store(state_dir, ip_range, action_seconds=action_seconds, clock=clock)
    return EmulatorServer((host, port), store, token, rate_limit)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EmulatorServer

    def setup(self):
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle plus the
        # client's delayed ACK adds ~40 ms to every request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):  # one line per request, token never included
        if getattr(self.server, "verbose", False):
            super().log_message(fmt, *args)

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_PUT(self):
        self._serve("PUT")

    def do_DELETE(self):
        self._serve("DELETE")

    # Methods the API does not serve still get a JSON error, never the
    # standard library's HTML "501 Unsupported method" page.
    def do_PATCH(self):
        self._serve("PATCH")

    def do_OPTIONS(self):
        self._serve("OPTIONS")

    def do_HEAD(self):
        self._serve("HEAD")

    def send_error(self, code, message=None, explain=None):
        """The standard library's own errors (an unknown method such as BREW,
        a malformed request line) as JSON too, not its HTML page."""
        status, err = (405, "method_not_allowed") if code == 501 else (
            code, {404: "not_found", 405: "method_not_allowed"}.get(code, "invalid_input" if code < 500
                                                                      else "server_error"))
        self.close_connection = True
        try:
            self._send(status, {"error": {"code": err, "message": message or "request refused", "details": {}}},
                       {"Connection": "close"})
        except OSError:
            pass

    # -- plumbing ----------------------------------------------------------
    def _send(self, status: int, body: dict | None, headers: dict | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Correlation-Id", uuid.uuid4().hex[:16])
        for key, value in (headers or {}).items():
            self.send_header(key, str(value))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def _read_body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise ApiFault(400, "json_error", "request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ApiFault(400, "json_error", "request body must be a JSON object")
        return body

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                                  self.server.token.encode())

    def _presented_token(self) -> str:
        return self.headers.get("Authorization", "").partition(" ")[2].strip()

    def _serve(self, method: str) -> None:
        split = urlsplit(self.path)
        path = split.path
        is_api = path == "/v1" or path.startswith("/v1/")
        rate: dict = {}
        try:
            if is_api:  # every API request counts, authenticated or not (the admin side does not)
                rate = self.server.rate.take(self._presented_token())
            body = self._read_body()
            if not self._authorized():
                raise ApiFault(401, "unauthorized", "unable to authenticate")
            query = parse_qs(split.query, keep_blank_values=True)
            if path.startswith("/_sandbox/"):
                status, payload = self._admin(method, path, body)
            elif is_api:
                status, payload, rate = self._api(method, path[3:], query, body, rate)
            else:
                raise ApiFault(404, "not_found", f"not found: {path}")
        except ApiFault as fault:
            headers = dict(rate, **fault.headers)
            self._send(fault.status, fault.body(), headers)
            return
        except Exception as exc:  # a bug in the emulator: answer like the API would, keep serving
            self._send(500, {"error": {"code": "server_error", "message": f"emulator bug: {exc!r}",
                                       "details": {}}}, rate)
            raise
        self._send(status, payload, rate)

    def _api(self, method, path, query, body, rate):
        with self.server.fault_lock:
            fault = self.server.faults.take(path)
        if fault:
            if fault["latency_ms"]:
                time.sleep(fault["latency_ms"] / 1000)
            if fault["status"]:
                code, message = FAULT_CODES[fault["status"]]
                headers = {}
                if fault["status"] == 429:
                    rate = dict(rate, **{"RateLimit-Remaining": 0})
                    headers["Retry-After"] = fault["retry_after"]
                raise ApiFault(fault["status"], code, message, headers=dict(rate, **headers))
        handler, params = self.server.router.resolve(method, path or "/")
        store = self.server.store
        with store.lock:
            target = _TARGET.match(path) if method in ("POST", "DELETE") else None
            if target and store.busy(target[1].rstrip("s"), target[2]):
                from .apierrors import locked
                raise locked(f"{target[1].rstrip('s').replace('_', ' ')} {target[2]}")
            # While actions take time, a `locked` can come from an action started
            # after the handler changed things: undo those changes then.
            saved = store.snapshot() if method != "GET" and store.action_seconds > 0 else None
            try:
                result = handler(Call(store, params, query, body))
            except ApiFault:
                if saved is not None:
                    store.restore(saved)
                raise
            finally:
                store.save_if_dirty()
        status, payload = result if isinstance(result, tuple) else (200, result)
        return status, payload, rate

    def _admin(self, method: str, path: str, body: dict):
        store = self.server.store
        if path == "/_sandbox/state" and method == "GET":
            with store.lock:
                return 200, {**store.summary(), **self.server.extra_summary}
        if path == "/_sandbox/faults":
            with self.server.fault_lock:
                if method == "POST":
                    return 200, {"faults": self.server.faults.set(body)}
                if method == "DELETE":
                    self.server.faults.plan = None
                    return 200, {"faults": None}
                if method == "GET":
                    return 200, {"faults": self.server.faults.plan}
        if path == "/_sandbox/action_failures" and method == "POST":
            count = body.get("count", 1)
            if not isinstance(count, int) or count < 0:
                raise invalid_input("count must be a non-negative integer", count="invalid")
            with store.lock:
                store.failing_actions = {"count": count, "code": str(body.get("code", "action_failed")),
                                         "message": str(body.get("message", "failed (injected by the sandbox)"))}
                return 200, {"action_failures": dict(store.failing_actions)}
        if path == "/_sandbox/availability" and method == "POST":
            stype, loc = body.get("server_type"), body.get("location")
            if catalog.server_type_by(stype) is None or loc not in catalog.LOCATIONS:
                raise invalid_input("unknown server_type or location", server_type="unknown")
            with store.lock:
                store.set_available(catalog.server_type_by(stype), loc, bool(body.get("available", False)))
                store.save_if_dirty()
                return 200, {"unavailable": [list(p) for p in sorted(store.unavailable())]}
        raise ApiFault(404, "not_found", f"no admin endpoint {method} {path}")

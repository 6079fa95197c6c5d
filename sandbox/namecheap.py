"""A local emulator of Namecheap's XML API, as strict as the real one where it hurts.

- `namecheap.domains.getList`, `namecheap.domains.dns.getHosts` and `setHosts`;
- setHosts replaces the whole zone with what the call sends (records not sent
  are deleted), takes EmailType (a call without it sets the mail type to
  NONE, dropping MX handling as Namecheap does), accepts GET and POST;
- the caller's ClientIp must be on the account's whitelist (1011150), the API
  key must match (1011102), the domain must exist (2019166) and belong to the
  account (2016166); a domain on other nameservers refuses setHosts (2030288);
- a rate limit (error 500000 once the calls in the window pass the limit);
- responses shaped like the real API's XML (`host` elements, lowercase, as
  the live API sends them).

Admin endpoints under /_sandbox/ seed zones and inject faults for tests.
State is kept in memory; `zones()` lets the sandbox's DNS server follow it.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

NS = "http://api.namecheap.com/xml.response"
RECORD_TYPES = {"A", "AAAA", "ALIAS", "CAA", "CNAME", "MX", "MXE", "NS", "TXT", "URL",
                "URL301", "FRAME"}
EMAIL_TYPES = {"MX", "MXE", "FWD", "OX", "GMAIL", "NONE"}


@dataclass
class NamecheapState:
    api_user: str = "sandbox"
    api_key: str = "sandbox-key"
    username: str = "sandbox"
    whitelist: set[str] = field(default_factory=lambda: {"127.0.0.1"})
    rate_limit: int = 20                   # calls per window, as Namecheap's per-minute cap
    window_s: float = 60.0
    # domain -> {"email_type", "using_our_dns", "account", "hosts": [dict]}
    domains: dict[str, dict] = field(default_factory=dict)
    calls: list[float] = field(default_factory=list)
    reject_next_set: int = 0               # fault: the next N setHosts are refused
    next_host_id: int = 1000
    clock: Callable[[], float] = time.monotonic
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Called (under the lock) after a zone changed: the sandbox saves its state there.
    on_change: Callable[["NamecheapState"], None] | None = None

    def changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)


def _xml(status: str, command: str, body: str = "", errors: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<ApiResponse Status="{status}" '
            f'xmlns="{NS}">\n  <Errors>{errors}</Errors>\n  <Warnings />\n'
            f'  <RequestedCommand>{escape(command.lower())}</RequestedCommand>\n'
            f'{body}  <Server>SANDBOX</Server>\n  <GMTTimeDifference>--5:00</GMTTimeDifference>\n'
            f'  <ExecutionTime>0.01</ExecutionTime>\n</ApiResponse>\n').encode()


class ApiErr(Exception):
    def __init__(self, number: str, text: str):
        super().__init__(text)
        self.number, self.text = number, text


def _domain(params: dict, state: NamecheapState) -> tuple[str, dict]:
    sld, tld = params.get("SLD", ""), params.get("TLD", "")
    if not sld or not tld:
        raise ApiErr("2010324", "SLD and TLD are required")
    name = f"{sld}.{tld}".lower()
    zone = state.domains.get(name)
    if zone is None:
        raise ApiErr("2019166", "Domain not found")
    if zone.get("account", state.username) != params.get("UserName"):
        raise ApiErr("2016166", "Domain is not associated with your account")
    return name, zone


def _get_hosts(params: dict, state: NamecheapState) -> str:
    name, zone = _domain(params, state)
    hosts = "".join(
        f'      <host HostId="{h["id"]}" Name={quoteattr(h["name"])} Type="{h["type"]}" '
        f'Address={quoteattr(h["address"])} MXPref="{h["mx_pref"]}" TTL="{h["ttl"]}" '
        'AssociatedAppTitle="" FriendlyName="" IsActive="true" IsDDNSEnabled="false" />\n'
        for h in zone["hosts"])
    return (f'  <CommandResponse Type="namecheap.domains.dns.getHosts">\n'
            f'    <DomainDNSGetHostsResult Domain="{name}" EmailType="{zone["email_type"]}" '
            f'IsUsingOurDNS="{str(zone["using_our_dns"]).lower()}">\n{hosts}'
            f'    </DomainDNSGetHostsResult>\n  </CommandResponse>\n')


def _set_hosts(params: dict, state: NamecheapState) -> str:
    name, zone = _domain(params, state)
    if not zone["using_our_dns"]:
        raise ApiErr("2030288", "Cannot complete this command as this domain is not using "
                                "proper DNS servers")
    if state.reject_next_set > 0:
        state.reject_next_set -= 1
        raise ApiErr("2050900", "Unknown error when adding hosts (injected)")
    hosts, i = [], 1
    while f"HostName{i}" in params:
        rtype = params.get(f"RecordType{i}", "").upper()
        if rtype not in RECORD_TYPES:
            raise ApiErr("2015280", f"RecordType{i} is invalid")
        ttl = int(params.get(f"TTL{i}") or 1800)
        if not 60 <= ttl <= 60000:
            raise ApiErr("2015280", f"TTL{i} must be between 60 and 60000")
        state.next_host_id += 1
        hosts.append({"id": state.next_host_id, "name": params[f"HostName{i}"], "type": rtype,
                      "address": params.get(f"Address{i}", ""), "ttl": ttl,
                      "mx_pref": int(params.get(f"MXPref{i}") or 10)})
        i += 1
    email = params.get("EmailType", "").upper() or "NONE"
    if email not in EMAIL_TYPES:
        raise ApiErr("2015280", "EmailType is invalid")
    zone["hosts"] = hosts                       # everything not sent is gone
    zone["email_type"] = email
    state.changed()
    return (f'  <CommandResponse Type="namecheap.domains.dns.setHosts">\n'
            f'    <DomainDNSSetHostsResult Domain="{name}" IsSuccess="true" />\n'
            '  </CommandResponse>\n')


def _get_list(params: dict, state: NamecheapState) -> str:
    rows = "".join(f'      <Domain Name="{d}" User="{z.get("account", state.username)}" '
                   f'IsOurDNS="{str(z["using_our_dns"]).lower()}" />\n'
                   for d, z in sorted(state.domains.items())
                   if z.get("account", state.username) == params.get("UserName"))
    return (f'  <CommandResponse Type="namecheap.domains.getList">\n'
            f'    <DomainGetListResult>\n{rows}    </DomainGetListResult>\n'
            '  </CommandResponse>\n')


COMMANDS = {"namecheap.domains.dns.gethosts": _get_hosts,
            "namecheap.domains.dns.sethosts": _set_hosts,
            "namecheap.domains.getlist": _get_list}


def handle(params: dict[str, str], state: NamecheapState) -> bytes:
    command = params.get("Command", "")
    with state.lock:
        try:
            if params.get("ApiUser") != state.api_user or params.get("ApiKey") != state.api_key:
                raise ApiErr("1011102", "API Key is invalid or API access has not been enabled")
            if params.get("ClientIp") not in state.whitelist:
                raise ApiErr("1011150", f"Invalid request IP: {params.get('ClientIp', '')}")
            now = state.clock()
            state.calls = [t for t in state.calls if now - t < state.window_s] + [now]
            if len(state.calls) > state.rate_limit:
                raise ApiErr("500000", "Too many requests")
            handler = COMMANDS.get(command.lower())
            if handler is None:
                raise ApiErr("1010101", f"Command {command} is not supported")
            return _xml("OK", command, handler(params, state))
        except ApiErr as err:
            return _xml("ERROR", command, errors=f'<Error Number="{err.number}">'
                                                 f'{escape(err.text)}</Error>')


def seed(state: NamecheapState, body: dict) -> None:
    """Admin: put a whole zone in place (tests pre-populate MX, TXT, CAA…)."""
    with state.lock:
        hosts = []
        for h in body.get("hosts", []):
            state.next_host_id += 1
            hosts.append({"id": state.next_host_id, "name": h["name"], "type": h["type"],
                          "address": h["address"], "ttl": int(h.get("ttl", 1800)),
                          "mx_pref": int(h.get("mx_pref", 10))})
        state.domains[body["domain"].lower()] = {
            "email_type": body.get("email_type", "MX"),
            "using_our_dns": bool(body.get("using_our_dns", True)),
            "account": body.get("account", state.username), "hosts": hosts}
        state.changed()


def make_handler(state: NamecheapState):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):   # the tool logs; the emulator stays quiet
            pass

        def _send(self, status: int, body: bytes, ctype: str = "text/xml; charset=utf-8"):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _params(self) -> dict[str, str]:
            query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
            if self.command == "POST":
                length = int(self.headers.get("Content-Length") or 0)
                query.update(parse_qs(self.rfile.read(length).decode(), keep_blank_values=True))
            return {k: v[-1] for k, v in query.items()}

        def do_GET(self):
            path = urlsplit(self.path).path
            if path == "/_sandbox/domains":
                with state.lock:
                    body = json.dumps(state.domains, sort_keys=True).encode()
                return self._send(200, body, "application/json")
            if path != "/xml.response":
                return self._send(404, b"not found", "text/plain")
            self._send(200, handle(self._params(), state))

        def do_POST(self):
            path = urlsplit(self.path).path
            if path == "/_sandbox/domains":
                length = int(self.headers.get("Content-Length") or 0)
                seed(state, json.loads(self.rfile.read(length)))
                return self._send(200, b"{}", "application/json")
            if path == "/_sandbox/faults":
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length))
                with state.lock:
                    state.reject_next_set = int(body.get("reject_set_hosts", 0))
                return self._send(200, b"{}", "application/json")
            if path != "/xml.response":
                return self._send(404, b"not found", "text/plain")
            self._send(200, handle(self._params(), state))
    return Handler


@dataclass
class RunningNamecheap:
    server: ThreadingHTTPServer
    state: NamecheapState
    thread: threading.Thread

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/xml.response"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def start(state: NamecheapState | None = None, port: int = 0) -> RunningNamecheap:
    """Serve on 127.0.0.1 only (never another address)."""
    state = state or NamecheapState()
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return RunningNamecheap(server, state, thread)

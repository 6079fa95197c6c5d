"""haproxy.cfg for one sandbox load balancer, from the emulator's record.

Every value that reaches the file is checked against a whole-string pattern
(ports are ints in range, addresses go through `ipaddress`, the check path,
domain and status codes through a regex) and a value that fails raises
ConfigRefused: hostile input is refused, never interpolated.

Health check timing: Hetzner's interval/timeout (seconds) are multiplied by a
scale (HCLOUD_SANDBOX_LB_CHECK_SCALE, default 0.1, as the emulator shortens
actions) with a floor of 100 ms, so a dead target is seen in seconds, not in
a minute; `retries` is haproxy's `fall` unchanged and `rise` is 1 (one good
answer makes a target healthy again, as Hetzner reports it).
"""
from __future__ import annotations

import ipaddress
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

ENV_SCALE = "HCLOUD_SANDBOX_LB_CHECK_SCALE"
DEFAULT_SCALE = 0.1
MIN_MS = 100

# No quotes, `$`, `#`, backslashes or spaces: HAProxy's parser gives them meaning.
_PATH = re.compile(r"/[A-Za-z0-9._~!&()*+,;=:@%/?-]{0,254}")
_DOMAIN = re.compile(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")
_STATUS = re.compile(r"[1-5][0-9?]{2}")
_RESPONSE = re.compile(r"[A-Za-z0-9 ._:/-]{1,128}")   # written in double quotes (it may hold spaces)
_NAME = re.compile(r"(s|ip)[0-9]{1,12}")
ALGORITHMS = {"round_robin": "roundrobin", "least_connections": "leastconn"}


class ConfigRefused(ValueError):
    """A value in the load balancer's record that may not go into haproxy.cfg."""


@dataclass(frozen=True)
class Target:
    name: str          # s<server id> or ip<index>: how haproxy names it, mapped back for health
    ip: str


def scale_from_env() -> float:
    raw = os.environ.get(ENV_SCALE, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_SCALE
    except ValueError:
        raise ConfigRefused(f"{ENV_SCALE} must be a number (got {raw!r})") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigRefused(f"{ENV_SCALE} must be above 0 (got {raw!r})")
    return value


def _int(value, field: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigRefused(f"{field} must be an integer from {low} to {high}")
    return value


def _ipv4(value, field: str) -> str:
    try:
        ip = ipaddress.IPv4Address(value)
    except (ValueError, TypeError):
        raise ConfigRefused(f"{field} is not an IPv4 address") from None
    return str(ip)


def _match(pattern: re.Pattern, value, field: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ConfigRefused(f"{field} has characters or a form the sandbox refuses")
    return value


def _ms(seconds, field: str, scale: float) -> int:
    return max(MIN_MS, round(_int(seconds, field, 1, 86400) * 1000 * scale))


def _status_regex(codes) -> str:
    if not isinstance(codes, list) or not codes or len(codes) > 20:
        raise ConfigRefused("health_check.http.status_codes must be a list of 1 to 20 codes")
    parts = [_match(_STATUS, c, "health_check.http.status_codes").replace("?", "[0-9]") for c in codes]
    return "^(" + "|".join(parts) + ")$"


def _codes(http: dict):
    codes = http.get("status_codes")
    return ["2??", "3??"] if codes is None or codes == [] else codes   # Hetzner's default


def _check_lines(hc: dict, scale: float) -> tuple[list[str], str]:
    """Lines for the listen section and the options for each server line."""
    proto = hc.get("protocol")
    port = _int(hc.get("port"), "health_check.port", 1, 65535)
    inter = _ms(hc.get("interval"), "health_check.interval", scale)
    timeout = _ms(hc.get("timeout"), "health_check.timeout", scale)
    fall = _int(hc.get("retries"), "health_check.retries", 0, 100)
    lines = [f"timeout check {timeout}"]
    if proto == "http":
        http = hc.get("http") or {}
        path = _match(_PATH, http.get("path") or "/", "health_check.http.path")
        send = f"http-check send meth GET uri {path} ver HTTP/1.1"
        if http.get("domain"):
            send += f" hdr Host {_match(_DOMAIN, http['domain'], 'health_check.http.domain')}"
        lines += ["option httpchk", send,
                  f"http-check expect rstatus {_status_regex(_codes(http))}"]
        if http.get("response"):
            lines.append(f'http-check expect string "{_match(_RESPONSE, http["response"], "health_check.http.response")}"')
        tls = " check-ssl verify none" if http.get("tls") is True else ""
    elif proto == "tcp":
        tls = ""
    else:
        raise ConfigRefused("health_check.protocol must be tcp or http")
    # fall 0 would never mark a target down; Hetzner's minimum is 0 retries = first failure.
    return lines, f"check port {port} inter {inter} fall {max(fall, 1)} rise 1{tls}"


def render(lb: dict, binds: list[str], targets: list[Target], stats_socket: Path,
           scale: float | None = None) -> str:
    """The whole haproxy.cfg; ConfigRefused when any value fails its pattern."""
    scale = scale_from_env() if scale is None else scale
    algorithm = ALGORITHMS.get((lb.get("algorithm") or {}).get("type"))
    if algorithm is None:
        raise ConfigRefused("algorithm must be round_robin or least_connections")
    binds = [_ipv4(ip, "bind address") for ip in binds]
    socket_path = str(stats_socket)
    if not re.fullmatch(r"/[A-Za-z0-9._/-]{1,200}", socket_path):
        raise ConfigRefused("the stats socket path has characters the sandbox refuses")
    servers = [(_match(_NAME, t.name, "target name"), _ipv4(t.ip, "target address")) for t in targets]
    # Health survives a reload: the controller dumps `show servers state` here first.
    state = str(stats_socket.with_name("servers.state"))
    out = ["# written by hetzner-deploy's sandbox for load balancer "
           f"{_int(lb.get('id'), 'id', 1, 10**12)}; rewritten on every change",
           "global", f"    stats socket {socket_path} mode 600 level admin", "    maxconn 2000",
           f"    server-state-file {state}",
           "defaults", "    timeout connect 5s", "    timeout client 60s", "    timeout server 60s",
           "    timeout http-request 10s", "    load-server-state-from-file global", ""]
    for svc in lb.get("services") or []:
        listen = _int(svc.get("listen_port"), "listen_port", 1, 65535)
        dest = _int(svc.get("destination_port"), "destination_port", 1, 65535)
        protocol = svc.get("protocol")
        if protocol not in ("tcp", "http", "https"):
            raise ConfigRefused("service protocol must be tcp, http or https")
        check, server_opts = _check_lines(svc.get("health_check") or {}, scale)
        # https: the emulator keeps no private key for the certificate, so TLS
        # passes through to the targets (a documented difference).
        mode = "http" if protocol == "http" else "tcp"
        out += [f"listen svc_{listen}", f"    mode {mode}", f"    balance {algorithm}"]
        out += [f"    bind {ip}:{listen}" for ip in binds]
        if mode == "http":
            out += ["    option forwardfor", "    option http-server-close"]
        out += [f"    {line}" for line in check]
        proxy = " send-proxy" if svc.get("proxyprotocol") is True else ""
        out += [f"    server {name} {ip}:{dest} {server_opts}{proxy}" for name, ip in servers]
        out.append("")
    return "\n".join(out) + "\n"


_SERVER_LINE = re.compile(r"\s+server (\S+) ([0-9.]+):([0-9]+) ")


def server_names(config: str) -> set[tuple[str, str]]:
    """(listen section, server name) of every server line in `config`."""
    out, backend = set(), None
    for line in config.split("\n"):
        if line.startswith("listen "):
            backend = line.split()[1]
        elif backend and (found := _SERVER_LINE.match(line)):
            out.add((backend, found[1]))
    return out


def server_names_in_state(state: str) -> set[tuple[str, str]]:
    """(backend, server name) of every server `show servers state` reports."""
    return {(f[1], f[3]) for f in (line.split() for line in state.splitlines())
            if len(f) > 4 and f[0].isdigit() and f[2].isdigit()}


def new_servers_down(state: str, config: str) -> str:
    """`state` (haproxy's `show servers state`) with a DOWN, unchecked line added for every
    server in `config` that it does not name, so a reload starts a target the load balancer
    has never checked as down until its first check passes (haproxy alone would start it
    up: a machine with nothing listening yet would get requests). As Hetzner's load
    balancer does: it sends a new target nothing before its health check says healthy.
    Lines are matched by backend and server name (haproxy ignores ids it did not force)."""
    lines = state.rstrip("\n").split("\n") if state.strip() else ["1"]
    known, be_ids = set(), {}
    for line in lines:
        fields = line.split()
        if len(fields) > 4 and fields[0].isdigit():
            known.add((fields[1], fields[3]))
            be_ids[fields[1]] = fields[0]
    if len(lines) == 1:
        lines.append("# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state "
                     "srv_uweight srv_iweight srv_time_since_last_change srv_check_status "
                     "srv_check_result srv_check_health srv_check_state srv_agent_state "
                     "bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl "
                     "srv_check_port srv_check_addr srv_agent_addr srv_agent_port")
    backend = None
    for line in config.split("\n"):
        if line.startswith("listen "):
            backend = line.split()[1]
            continue
        found = _SERVER_LINE.match(line)
        if backend and found and (backend, found[1]) not in known:
            # op_state 0 (stopped), check_health 0: one passing check (rise 1) brings it up.
            lines.append(f"{be_ids.get(backend, '0')} {backend} 0 {found[1]} {found[2]} 0 0 1 1 0 "
                         f"1 0 0 6 0 0 0 - {found[3]} - 0 0 - - 0")
    return "\n".join(lines) + "\n"

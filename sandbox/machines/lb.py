"""One sandbox load balancer: a namespace of its own (its public IPv4 as a
/32 on the machines' bridge, one leg on each private network it is attached
to) and HAProxy in master-worker mode inside it, started with
`nsenter --net` (HAProxy needs no /sys or mounts of its own).

A change of services, targets or algorithm rewrites haproxy.cfg and reloads
the master with SIGUSR2 (new worker, old connections finish); an address
change rebuilds the namespace. Health comes from the worker's stats socket
(`show stat`), a Unix socket under the load balancer's directory that the
host reaches whatever the network namespace.
"""
from __future__ import annotations

import csv
import io
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from errors import SandboxError
from runner.process import run

from . import haproxy_cfg
from .net import HostNet

START_TIMEOUT = 10.0
# A reload is signalled again if the new worker has not shown up after RELOAD_WAIT_S.
RELOAD_WAIT_S = 2.0
RELOAD_TRIES = 5


@dataclass
class LbSpec:
    """What the emulator says a load balancer is, ready for HAProxy."""
    lid: int
    ip: str
    private: dict[int, tuple[str, tuple[str, ...]]]   # network -> (range, (its private ip,))
    config: str                                        # haproxy.cfg (already validated)
    # Targets reached on their public IPv4 (machines on the same bridge): server id -> address.
    public: dict[int, str] = field(default_factory=dict)


def _our_haproxy(pid: int, cfg: Path) -> bool:
    """Only an haproxy whose command line names this load balancer's config."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(argv) and argv[0].endswith(b"haproxy") and str(cfg).encode() in argv


def kill_recorded(base: Path) -> list[int]:
    """SIGKILL the recorded master and its workers (checked by command line).
    Used by stop() after SIGTERM had its chance, and by the sweep after a crash."""
    pidfile, cfg = base / "pid", base / "haproxy.cfg"
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return []
    killed = []
    if _our_haproxy(pid, cfg):
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        for target in [pid, *map(int, children)]:
            try:
                os.kill(target, signal.SIGKILL)
                killed.append(target)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in killed) and time.monotonic() < deadline:
            time.sleep(0.02)
    pidfile.unlink(missing_ok=True)
    return killed


def live_pid(base: Path) -> int | None:
    try:
        pid = int((base / "pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _our_haproxy(pid, base / "haproxy.cfg") and _alive(pid) else None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


# A Unix socket's path holds at most 107 bytes (sun_path), and HAProxy binds a temporary
# "<path>.<pid>.tmp" first: a 99-byte path was refused. 80 leaves room for any pid.
SOCKET_PATH_MAX = 80


def stats_socket_for(base: Path) -> Path:
    """The stats socket (and, beside it, the saved server state) of the load balancer whose
    folder is `base`: in it when the path fits a Unix socket, else in a short private folder
    under the system's temporary directory named by a hash of `base` (removed at stop)."""
    path = Path(base) / "stats.sock"
    if len(str(path)) <= SOCKET_PATH_MAX:
        return path
    import hashlib
    import tempfile
    digest = hashlib.sha256(str(Path(base).resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"hd-lb-{digest}" / "stats.sock"


@dataclass
class LoadBalancerHost:
    spec: LbSpec
    base: Path
    hostnet: HostNet
    proc: subprocess.Popen | None = None
    joined: dict[int, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    routed: set[str] = field(default_factory=set)   # on-link /32s to public targets

    @property
    def cfg(self) -> Path:
        return self.base / "haproxy.cfg"

    @property
    def stats_socket(self) -> Path:
        return stats_socket_for(self.base)

    @property
    def server_state(self) -> Path:
        return self.stats_socket.with_name("servers.state")     # where haproxy.cfg reads it

    @property
    def netns(self) -> str:
        return self.hostnet.netns(self.spec.lid)

    def _write_config(self, text: str) -> None:
        tmp = self.cfg.with_suffix(".tmp")
        tmp.write_text(text)
        # HAProxy itself is the judge of the file before it replaces a working one.
        checked = run(["haproxy", "-c", "-f", str(tmp)], check=False)   # no -q: it hides why
        if checked.returncode != 0:
            tmp.unlink(missing_ok=True)
            said = (checked.stderr + checked.stdout).splitlines()
            why = next((ln for ln in said if "ALERT" in ln and "parsing" in ln),
                       next((ln for ln in said if "ALERT" in ln), "no reason given"))
            raise SandboxError(f"load balancer {self.spec.lid}: haproxy refused its config: "
                               f"{why.strip()[:300]}")
        os.replace(tmp, self.cfg)

    def start(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.stats_socket.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        kill_recorded(self.base)   # a master left by a killed emulator
        self._write_config(self.spec.config)
        self.hostnet.add(self.spec.lid, self.spec.ip)
        self.set_private(self.spec.private)
        self.set_routes(set(self.spec.public.values()))
        self.stats_socket.unlink(missing_ok=True)
        self.server_state.unlink(missing_ok=True)   # a fresh start checks afresh
        log = open(self.base / "haproxy.log", "ab")
        try:
            # nsenter without --fork execs haproxy: the Popen PID is the master's.
            self.proc = subprocess.Popen(
                ["nsenter", f"--net=/run/netns/{self.netns}", "haproxy", "-W", "-db", "-f", str(self.cfg)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()
        (self.base / "pid").write_text(f"{self.proc.pid}\n")
        deadline = time.monotonic() + START_TIMEOUT
        while not self.stats_socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SandboxError(f"load balancer {self.spec.lid}: haproxy did not start "
                                   f"(see {self.base / 'haproxy.log'})")
            time.sleep(0.02)

    def update(self, spec: LbSpec) -> None:
        """Same address: new private legs and/or a new config, reloaded in place."""
        self.set_private(spec.private)   # both compare with what is in place: cheap when unchanged
        self.set_routes(set(spec.public.values()))
        changed = spec.config != self.spec.config
        # Taken even if HAProxy refuses it below: the next change retries, not every tick.
        self.spec = spec
        if changed:
            self._write_config(spec.config)
            if self.proc is not None and self.proc.poll() is None:
                # Without the saved state the new worker would start every server as
                # up, unchecked: a dead target would get requests until its checks fail.
                state = self._ask(b"show servers state\n")
                if state is not None:
                    self.server_state.write_text(haproxy_cfg.new_servers_down(state, spec.config))
                self._reload(spec.config)

    def _reload(self, config: str) -> None:
        """SIGUSR2 (master-worker reload) until the serving worker has `config`'s servers.
        The master re-executes itself on a reload, and a signal that arrives meanwhile
        is lost: target changes in quick succession left the load balancer on an old
        config (no targets at all) for good, its targets `unknown` forever."""
        want = haproxy_cfg.server_names(config)
        for _ in range(RELOAD_TRIES):
            os.kill(self.proc.pid, signal.SIGUSR2)
            deadline = time.monotonic() + RELOAD_WAIT_S
            while time.monotonic() < deadline:
                text = self._ask(b"show servers state\n")
                if text is not None and haproxy_cfg.server_names_in_state(text) == want:
                    return
                if self.proc.poll() is not None:
                    return      # gone: the controller restarts it (running() is False)
                time.sleep(0.05)

    def set_private(self, private: dict[int, tuple[str, tuple[str, ...]]]) -> None:
        self.hostnet.sync_private(self.spec.lid, self.joined, private)

    def set_routes(self, ips: set[str]) -> None:
        """A /32 per public target over the bridge (the namespace has no
        default route); the machine behind it gets the way back from the
        controller (Machine.set_lb_routes)."""
        for ip in self.routed - ips:
            run(["ip", "-n", self.netns, "route", "del", f"{ip}/32", "dev", "eth0"], check=False)
        for ip in ips - self.routed:
            run(["ip", "-n", self.netns, "route", "replace", f"{ip}/32", "dev", "eth0"])
        self.routed = set(ips)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)   # the master stops its workers
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            kill_recorded(self.base)
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None
        (self.base / "pid").unlink(missing_ok=True)
        if self.stats_socket.parent != self.base:       # the short folder of a deep sandbox
            import shutil
            shutil.rmtree(self.stats_socket.parent, ignore_errors=True)
        self.hostnet.remove(self.spec.lid, self.spec.ip)   # private legs go with the namespace
        self.joined = {}
        self.routed = set()

    def _ask(self, command: bytes) -> str | None:
        """One command on the stats socket; None while it cannot answer (a reload)."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(2)
                conn.connect(str(self.stats_socket))
                conn.sendall(command)
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
        except OSError:
            return None
        return data.decode("utf-8", "replace")

    def health(self) -> dict[tuple[int, str], str] | None:
        """(listen port, haproxy server name) -> healthy | unhealthy | unknown;
        None when the socket does not answer (keep what was last read)."""
        text = self._ask(b"show stat\n")
        return None if text is None else parse_stat(text)


def parse_stat(text: str) -> dict[tuple[int, str], str]:
    text = text.lstrip("# ")
    found = {}
    for row in csv.DictReader(io.StringIO(text)):
        px, sv = row.get("pxname") or "", row.get("svname") or ""
        if not px.startswith("svc_") or sv in ("FRONTEND", "BACKEND") or not px[4:].isdigit():
            continue
        status, check = row.get("status") or "", row.get("check_status") or ""
        if check.startswith("INI") or not check:
            value = "unknown"        # no check has finished yet
        elif status.startswith("UP"):
            value = "healthy"        # "UP" and "UP 1/3" (going down, not yet down)
        elif status.startswith("DOWN"):
            value = "unhealthy"      # "DOWN" and "DOWN 1/2" (coming back, not yet up)
        else:
            value = "unknown"        # MAINT, no check
        found[(int(px[4:]), sv)] = value
    return found

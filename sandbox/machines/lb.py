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

from .net import HostNet

START_TIMEOUT = 10.0


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
        return self.base / "stats.sock"

    @property
    def netns(self) -> str:
        return self.hostnet.netns(self.spec.lid)

    def _write_config(self, text: str) -> None:
        tmp = self.cfg.with_suffix(".tmp")
        tmp.write_text(text)
        # HAProxy itself is the judge of the file before it replaces a working one.
        checked = run(["haproxy", "-c", "-q", "-f", str(tmp)], check=False)
        if checked.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise SandboxError(f"load balancer {self.spec.lid}: haproxy refused its config: "
                               f"{(checked.stderr or checked.stdout).strip().splitlines()[-1:]}")
        os.replace(tmp, self.cfg)

    def start(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        kill_recorded(self.base)   # a master left by a killed emulator
        self._write_config(self.spec.config)
        self.hostnet.add(self.spec.lid, self.spec.ip)
        self.set_private(self.spec.private)
        self.set_routes(set(self.spec.public.values()))
        self.stats_socket.unlink(missing_ok=True)
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
                os.kill(self.proc.pid, signal.SIGUSR2)   # master-worker reload

    def set_private(self, private: dict[int, tuple[str, tuple[str, ...]]]) -> None:
        for nid in [n for n, v in self.joined.items() if private.get(n) != v]:
            self.hostnet.remove_private(self.spec.lid, nid)
            del self.joined[nid]
        for nid, (ip_range, ips) in private.items():
            if nid not in self.joined:
                self.hostnet.add_private(self.spec.lid, nid, ip_range, list(ips))
                self.joined[nid] = (ip_range, ips)

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
        self.hostnet.remove(self.spec.lid, self.spec.ip)   # private legs go with the namespace
        self.joined = {}
        self.routed = set()

    def health(self) -> dict[tuple[int, str], str]:
        """(listen port, haproxy server name) -> healthy | unhealthy | unknown."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(2)
                conn.connect(str(self.stats_socket))
                conn.sendall(b"show stat\n")
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
        except OSError:
            return {}
        return parse_stat(data.decode("utf-8", "replace"))


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

"""One machine: start its PID 1 in the server's namespace, wait for sshd,
stop it leaving nothing behind."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from errors import SandboxError
from runner.process import run

from . import cloudinit, firewall, rootfs
from .net import HostNet

CGROUP_ROOT = Path("/sys/fs/cgroup")
SSHD_TIMEOUT = 15.0


@dataclass
class Spec:
    """What the emulator says a running server is."""
    sid: int
    name: str
    ip: str
    keys: list[str]
    user_data: str | None
    volumes: dict[int, Path]              # attached volume id -> its directory on the host
    firewalls: list[dict] | None          # None: no firewall applied
    generation: int = 0
    private: dict[int, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # network -> (range, ips)


@dataclass
class Machine:
    spec: Spec
    layout: rootfs.Layout
    hostnet: HostNet
    images: Path | None
    proc: subprocess.Popen | None = None
    plan: cloudinit.BootPlan | None = None
    mounted: dict[int, str] = field(default_factory=dict)   # volume id -> mount point inside
    rules: str | None = None
    joined: dict[int, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # private networks in place
    timings: dict[str, float] = field(default_factory=dict)
    lb_routes: set[str] = field(default_factory=set)   # load balancers that target this public IP

    @property
    def netns(self) -> str:
        return self.hostnet.netns(self.spec.sid)

    @property
    def pidfile(self) -> Path:
        return self.layout.base / "pid"

    def log(self, line: str) -> None:
        self.layout.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.layout.log, "a") as handle:
            handle.write(f"{time.strftime('%H:%M:%S', time.gmtime())} sandbox-machine: {line}\n")

    def _mount_points(self) -> dict[int, str]:
        """Attached volumes go where the user's `mounts` says; one it does not
        name goes where Hetzner's automount would put it."""
        return {vid: self.plan.volume_mounts.get(vid, f"/mnt/HC_Volume_{vid}") for vid in self.spec.volumes}

    def start(self) -> None:
        self.wait_up(self.launch())

    def launch(self) -> float:
        """Everything up to PID 1 started; its start time (wait_up waits for sshd)."""
        t0 = time.monotonic()
        spec = self.spec
        self.plan = cloudinit.parse(spec.user_data)
        sem = self.layout.upper / "var/lib/cloud/instance/sem/write_files"
        first = not sem.exists()
        rootfs.prepare(self.layout, ip=spec.ip, hostname=self.plan.hostname or spec.name, plan=self.plan,
                       keys=spec.keys, first_boot=first)
        rootfs.install_boot(self.layout.upper)
        rootfs.put(self.layout.upper, "/var/lib/cloud/instance/sem/write_files", b"", 0o644)
        for note in self.plan.notes:
            self.log(note)
        self.mounted = self._mount_points()
        for mountpoint in self.mounted.values():
            rootfs.mkdirs(self.layout.upper, mountpoint)
        script = rootfs.init_script(self.layout, hostname=self.plan.hostname or spec.name, images=self.images,
                                    cgroup=f"/{self.netns}",
                                    volumes={mp: spec.volumes[vid] for vid, mp in self.mounted.items()},
                                    devices=[rootfs.volume_device(vid) for vid in self.mounted])
        self.layout.init.write_text(script)
        self.hostnet.add(spec.sid, spec.ip)
        self.set_private(spec.private)
        # The firewall is in place before anything listens.
        self.apply_firewall(spec.firewalls)
        console = open(self.layout.base / "console.log", "ab")
        try:
            self.proc = subprocess.Popen(
                ["nsenter", f"--net=/run/netns/{self.netns}", "unshare", "--mount", "--uts", "--pid",
                 "--fork", "--kill-child", "/bin/sh", str(self.layout.init)],
                stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            console.close()
        self.pidfile.write_text(f"{self.proc.pid}\n")
        self.timings["machine_up"] = time.monotonic() - t0
        return t0

    def wait_up(self, t0: float) -> None:
        deadline = time.monotonic() + SSHD_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SandboxError(f"machine for server {self.spec.sid} exited at boot "
                                   f"(exit {self.proc.returncode}): see {self.layout.base / 'console.log'}")
            try:
                with socket.create_connection((self.spec.ip, 22), timeout=0.5) as conn:
                    if conn.recv(4).startswith(b"SSH-"):
                        self.timings["sshd_ready"] = time.monotonic() - t0
                        return
            except OSError:
                time.sleep(0.05)
        raise SandboxError(f"machine for server {self.spec.sid}: sshd did not answer on {self.spec.ip}:22 "
                           f"within {SSHD_TIMEOUT:.0f}s (log: {self.layout.log})")

    def apply_firewall(self, firewalls: list[dict] | None) -> None:
        rules = firewall.ruleset(firewalls)
        if rules == self.rules:
            return
        # `ip netns exec` is fine for nft (only dockerd minds its /sys remount).
        run(["ip", "netns", "exec", self.netns, "nft", "-f", "-"], input=rules)
        self.rules = rules
        self.spec.firewalls = firewalls

    def set_private(self, private: dict[int, tuple[str, tuple[str, ...]]]) -> None:
        """Join and leave Hetzner private networks, live (as Hetzner hot-plugs them)."""
        self.hostnet.sync_private(self.spec.sid, self.joined, private)
        self.spec.private = dict(private)

    def set_lb_routes(self, ips: set[str]) -> None:
        """The way back to load balancers that reach this machine on its public
        IP: a /32 each over the bridge (a machine routes nowhere else)."""
        if self.proc is None:
            return
        for ip in self.lb_routes - ips:
            run(["ip", "-n", self.netns, "route", "del", f"{ip}/32", "dev", "eth0"], check=False)
        for ip in ips - self.lb_routes:
            run(["ip", "-n", self.netns, "route", "replace", f"{ip}/32", "dev", "eth0"])
        self.lb_routes = set(ips)

    def pid1(self) -> int | None:
        if self.proc is None:
            return None
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return None
        return int(children[0]) if children else None

    def set_volumes(self, volumes: dict[int, Path]) -> None:
        """Hot attach / detach: bind or unbind inside the running machine's mounts."""
        pid = self.pid1()
        if pid is None:
            return
        self.spec.volumes = volumes
        wanted = self._mount_points()
        enter = ["nsenter", f"--target={pid}", "--mount", "--"]
        for vid, mountpoint in list(self.mounted.items()):
            if vid not in wanted:
                run([*enter, "umount", "-l", f"{self.layout.root}{mountpoint}"], check=False)
                run([*enter, "rm", "-f", f"{self.layout.root}{rootfs.volume_device(vid)}"], check=False)
                del self.mounted[vid]
                self.log(f"volume {vid} detached from {mountpoint}")
        for vid, mountpoint in wanted.items():
            if vid not in self.mounted:
                target = f"{self.layout.root}{mountpoint}"
                run([*enter, "mkdir", "-p", target])
                run([*enter, "mount", "--bind", str(volumes[vid]), target])
                device = f"{self.layout.root}{rootfs.volume_device(vid)}"
                run([*enter, "mkdir", "-p", os.path.dirname(device)])
                run([*enter, "ln", "-sfn", "/dev/null", device])
                self.mounted[vid] = mountpoint
                self.log(f"volume {vid} attached at {mountpoint}")

    def stop(self) -> None:
        """SIGKILL PID 1 (its namespace dies with it, mounts and all), then the
        network, then the cgroups Docker made under our parent."""
        if self.proc is not None:
            pid = self.pid1()
            for target in filter(None, (pid, self.proc.pid)):
                try:
                    os.kill(target, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait(timeout=10)
            if pid:
                _wait_gone(pid)
            self.proc = None
        self.pidfile.unlink(missing_ok=True)
        self.hostnet.remove(self.spec.sid, self.spec.ip)   # its private interfaces go with the namespace
        self.joined = {}
        self.lb_routes = set()
        remove_cgroups(f"{self.netns}")
        self.rules = None


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def remove_cgroups(name: str, timeout: float = 10.0) -> list[str]:
    """rmdir every cgroup directory called `name` (and what is under it) in
    every v1 hierarchy, deepest first; returns those it could not remove."""
    left = []
    for hierarchy in CGROUP_ROOT.iterdir() if CGROUP_ROOT.is_dir() else []:
        top = hierarchy / name
        if not top.is_dir() or top.is_symlink():
            continue
        dirs = sorted((Path(p) for p, _, _ in os.walk(top)), key=lambda p: len(p.parts), reverse=True)
        for d in dirs:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    # Tasks still exiting keep the group busy for a moment.
                    if time.monotonic() > deadline:
                        left.append(str(d))
                        break
                    time.sleep(0.05)
    return left

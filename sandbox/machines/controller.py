"""Follow the emulator: boot, restart, re-wire and remove machines so that
they match its servers.

The emulator's lifecycle hooks only record what the API cannot show later
(the user data, a reboot) and wake the worker thread; the worker compares a
snapshot of the store with the machines it runs and acts. A slow tick also
catches what has no hook (firewall rules, labels that select firewalls).
"""
from __future__ import annotations

import ipaddress
import json
import os
import shutil
import sys
import threading
import time
import traceback
from pathlib import Path

from errors import DeployError

from . import imageseed, lbsync, netguard, preflight, sweep
from .lb import LoadBalancerHost
from .machine import Machine, Spec
from .net import HostNet
from .rootfs import Layout

TICK = 0.5
# How long a fresh machine is held back for another one's image imports (_await_donor).
DONOR_WAIT_S = 30.0


def _say(line: str) -> None:
    print(f"machines: {line}", file=sys.stderr, flush=True)


class Controller:
    def __init__(self, store, machines_dir: str | os.PathLike, net_range: str,
                 images_dir: str | os.PathLike | None = None):
        self.store = store
        self.dir = Path(machines_dir).resolve()
        self.net = netguard.parse_range(net_range)
        self.images = Path(images_dir).resolve() if images_dir else None
        self.hostnet = HostNet(self.dir, self.net)
        self.machines: dict[int, Machine] = {}
        self.lbs: dict[int, LoadBalancerHost] = {}
        self.lb_failed: dict[int, str] = {}
        self.failed: dict[int, tuple] = {}
        self.private_checked: dict[str, bool] = {}
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()   # one reconcile at a time (the worker's, or a test's)
        # Machines launched this pass, waited for together (_wait_up); when each was
        # launched; which got their images linked (imageseed).
        self.pending: dict[int, tuple[Machine, float]] = {}
        self.launched: dict[int, float] = {}
        self.seeded: set[int] = set()

    # -- paths and records -------------------------------------------------
    def server_dir(self, sid: int) -> Path:
        return self.dir / "servers" / str(sid)

    def volume_dir(self, vid: int) -> Path:
        return self.dir / "volumes" / str(vid)

    def _record(self, sid: int) -> dict:
        try:
            return json.loads((self.server_dir(sid) / "record.json").read_text())
        except (OSError, ValueError):
            return {"user_data": None, "generation": 0}

    def _save_record(self, sid: int, record: dict) -> None:
        path = self.server_dir(sid) / "record.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        # 0600 from the start: user data can hold the host's private key.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(record))
        os.replace(tmp, path)   # a reader never sees half a record

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        preflight.check()
        sweep.sweep(self.dir)   # what a killed emulator left behind
        netguard.check(self.net, own=self.hostnet.own_devices())
        for sub in ("servers", "volumes", "lbs"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self.hostnet.setup()
        from sandbox.emulator import hooks
        hooks.register(self.on_event)
        # Health the load balancers' HAProxy reports; the API shows it (load_balancers.render).
        self.store.lb_health = {}
        self.thread = threading.Thread(target=self._loop, name="machines", daemon=True)
        self.thread.start()
        _say(f"machines on {self.net} (host address {self.hostnet.host_ip} on {self.hostnet.bridge})")

    def close(self) -> None:
        from sandbox.emulator import hooks
        hooks.unregister(self.on_event)
        self.stopping.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout=60)
        with self.lock:
            for sid in list(self.machines):
                self._stop(sid)
            for lid in list(self.lbs):
                self._stop_lb(lid)
        self.store.lb_health = None
        self.hostnet.teardown()
        sweep.sweep(self.dir)

    def on_event(self, event: str, store, **details) -> None:
        """Runs in the API handler under the store lock: record, wake, return."""
        server = details.get("server")
        if event == "server_created":
            body = details.get("body") or {}
            self._save_record(server["id"], {"user_data": body.get("user_data"), "generation": 0})
        restart = event in ("server_type_changed", "server_rebuilt") or \
            (event == "server_power" and details.get("command") in ("reboot_server", "reset_server"))
        if restart and server is not None:
            # Status alone cannot show a reboot: a new generation restarts the machine.
            record = self._record(server["id"])
            record["generation"] = record.get("generation", 0) + 1
            record["wipe"] = record.get("wipe", False) or event == "server_rebuilt"
            self._save_record(server["id"], record)
        self.wake.set()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            self.wake.wait(TICK)
            self.wake.clear()
            if self.stopping.is_set():
                break
            try:
                self.reconcile()
            except Exception:  # noqa: BLE001 - the worker must outlive one bad pass
                _say("reconcile failed:\n" + traceback.format_exc())

    # -- the comparison --------------------------------------------------------
    def snapshot(self) -> tuple[dict[int, Spec], set[int], set[int]]:
        from sandbox.emulator.selectors import firewalls_for_server
        from sandbox.emulator.servers import settle_status
        store = self.store
        with store.lock:
            servers = {s["id"]: s for s in store.all("servers")}
            volume_ids = {v["id"] for v in store.all("volumes")}
            specs = {}
            for sid, s in servers.items():
                # Transitional states (initializing, starting…) settle when read.
                settle_status(store, s)
                if s["status"] != "running" or not s.get("ipv4"):
                    continue
                pip = store.find("primary_ips", s["ipv4"])
                if pip is None:
                    continue
                fw_ids = firewalls_for_server(store, s)
                firewalls = [json.loads(json.dumps(store.find("firewalls", f))) for f in fw_ids] or None
                keys = [k["public_key"] for k in (store.find("ssh_keys", i) for i in s["ssh_keys"]) if k]
                vols = {v["id"]: self.volume_dir(v["id"]) for v in store.all("volumes") if v["server"] == sid}
                record = self._record(sid)
                private = {}
                for p in s.get("private_net", []):
                    network = store.find("networks", p["network"])
                    if network is not None and self._private_ok(network["ip_range"]):
                        private[p["network"]] = (network["ip_range"], (p["ip"], *p.get("alias_ips", [])))
                specs[sid] = Spec(sid, s["name"], pip["ip"], keys, record.get("user_data"), vols, firewalls,
                                  record.get("generation", 0), private)
        return specs, set(servers), volume_ids

    def _private_ok(self, ip_range: str) -> bool:
        """A private network lives only between the namespaces (its bridge has
        no host address), but one that overlaps the host's own routes or
        addresses is still refused, once, with a line in the log."""
        if ip_range not in self.private_checked:
            net = ipaddress.ip_network(ip_range, strict=False)
            found = netguard.host_conflicts(net) if net.version == 4 else ["not IPv4"]
            self.private_checked[ip_range] = not found
            if found:
                _say(f"private network {ip_range} not built: {found[0]}")
        return self.private_checked[ip_range]

    def reconcile(self) -> None:
        with self.lock:
            specs, existing, volume_ids = self.snapshot()
            for sid in list(self.machines):
                m, want = self.machines[sid], specs.get(sid)
                if want is None or want.generation != m.spec.generation or want.ip != m.spec.ip \
                        or (m.proc is not None and m.proc.poll() is not None):
                    self._stop(sid)
            for sid, spec in specs.items():
                if sid in self.machines:
                    m = self.machines[sid]
                    m.apply_firewall(spec.firewalls)
                    if spec.private != m.spec.private:
                        m.set_private(spec.private)
                    if set(spec.volumes) != set(m.spec.volumes):
                        self._volumes_exist(spec)
                        m.set_volumes(spec.volumes)
                elif self.failed.get(sid) != (spec.generation, spec.ip) \
                        and not self._await_donor(sid):
                    self._launch(spec)
            self._wait_up()
            self._forget(existing, volume_ids)
            self._reconcile_lbs()

    def _volumes_exist(self, spec: Spec) -> None:
        for path in spec.volumes.values():
            path.mkdir(parents=True, exist_ok=True)

    def _await_donor(self, sid: int) -> bool:
        """Hold a fresh machine back (True) while another one is importing the images it
        would otherwise import too: once that one has them, every held machine starts
        with hard links of them (imageseed) instead of importing on the same cores. Held
        at most DONOR_WAIT_S after that import began; a restarted machine is never held."""
        if self.images is None or not any(self.images.glob("*.tar")) or \
                (self.server_dir(sid) / "docker" / "image").exists():
            return False
        donors = [m.layout.docker for m in self.machines.values()]
        if any(imageseed.has_images(d, self.images) for d in donors):
            return False
        now = time.monotonic()
        return any(now - t < DONOR_WAIT_S for s, t in self.launched.items() if s in self.machines)

    def _wait_up(self) -> None:
        """Wait for the sshd of every machine this pass launched, all at once."""
        pending, self.pending = self.pending, {}
        if not pending:
            return
        from concurrent.futures import ThreadPoolExecutor

        def up(item):
            sid, (machine, t0) = item
            try:
                machine.wait_up(t0)
                return sid, None
            except (DeployError, OSError) as exc:
                return sid, exc
        with ThreadPoolExecutor(max_workers=min(16, len(pending))) as pool:
            for sid, exc in pool.map(up, pending.items()):
                machine = pending[sid][0]
                if exc is not None:
                    _say(f"server {sid}: machine did not start: {exc}")
                    self._stop(sid)
                    self.failed[sid] = (machine.spec.generation, machine.spec.ip)
                    continue
                _say(f"server {sid} ({machine.spec.name}) up on {machine.spec.ip}: " +
                     ", ".join(f"{k} {v:.2f}s" for k, v in machine.timings.items()) +
                     (", images linked from a running machine" if sid in self.seeded else ""))

    def _launch(self, spec: Spec) -> None:
        if ipaddress.ip_address(spec.ip) not in self.net:
            if self.failed.get(spec.sid) != (spec.generation, spec.ip):
                _say(f"server {spec.sid} has {spec.ip}, outside {self.net}: no machine (never routed)")
            self.failed[spec.sid] = (spec.generation, spec.ip)
            return
        record = self._record(spec.sid)
        base = self.server_dir(spec.sid)
        if record.pop("wipe", False):
            for sub in ("upper", "work", "docker"):
                shutil.rmtree(base / sub, ignore_errors=True)
            self._save_record(spec.sid, record)
        self._volumes_exist(spec)
        layout = Layout(base)
        # A fresh machine starts with the images a running one already imported (hard
        # links), not its own `docker import`s: the biggest cost of booting many at once.
        self.seeded.discard(spec.sid)
        if imageseed.seed(layout.docker, [m.layout.docker for m in self.machines.values()],
                          self.images):
            self.seeded.add(spec.sid)
        machine = Machine(spec, layout, self.hostnet, self.images)
        self.machines[spec.sid] = machine
        try:
            t0 = machine.launch()
        except (DeployError, OSError) as exc:
            _say(f"server {spec.sid}: machine did not start: {exc}")
            self._stop(spec.sid)
            self.failed[spec.sid] = (spec.generation, spec.ip)
            return
        self.failed.pop(spec.sid, None)
        self.launched[spec.sid] = time.monotonic()
        self.pending[spec.sid] = (machine, t0)

    def _stop(self, sid: int) -> None:
        machine = self.machines.get(sid)
        if machine is not None:
            t0 = time.monotonic()
            try:
                machine.stop()
            finally:
                self.machines.pop(sid, None)   # only once it is really gone
                self.launched.pop(sid, None)
                self.pending.pop(sid, None)
            _say(f"server {sid} machine stopped in {time.monotonic() - t0:.2f}s")

    def _forget(self, existing: set[int], volume_ids: set[int]) -> None:
        """A deleted server's disk and a deleted volume's data go with them.
        Re-read under the store lock: a server created since the snapshot
        already has its record on disk."""
        with self.store.lock:
            existing = {s["id"] for s in self.store.all("servers")}
            volume_ids = {v["id"] for v in self.store.all("volumes")}
        for sub, alive in (("servers", existing), ("volumes", volume_ids)):
            folder = self.dir / sub
            for entry in folder.iterdir() if folder.is_dir() else []:
                if entry.name.isdigit() and int(entry.name) not in alive and int(entry.name) not in self.machines:
                    shutil.rmtree(entry, ignore_errors=True)

    # -- load balancers ----------------------------------------------------------
    def _reconcile_lbs(self) -> None:
        specs, refused = lbsync.snapshot(self.store, self.net, self.lb_dir, self._private_ok)
        for lid, reason in refused.items():
            if self.lb_failed.get(lid) != reason:
                _say(f"load balancer {lid}: not proxied: {reason}")
            self.lb_failed[lid] = reason
        for lid in list(self.lbs):
            host, want = self.lbs[lid], specs.get(lid)
            if want is None or want.ip != host.spec.ip or not host.running():
                self._stop_lb(lid)
        for lid, spec in specs.items():
            if lid in self.lbs:
                try:
                    self.lbs[lid].update(spec)
                except (DeployError, OSError) as exc:
                    # Said once per new config; the old one keeps serving, the next change retries.
                    if self.lb_failed.get(lid) != spec.config:
                        _say(f"load balancer {lid}: update failed, previous config kept: {exc}")
                    self.lb_failed[lid] = spec.config
            elif self.lb_failed.get(lid) != spec.config:
                self._start_lb(spec)
        back: dict[int, set[str]] = {}
        for spec in specs.values():
            if spec.lid in self.lbs:
                for sid in spec.public:
                    back.setdefault(sid, set()).add(spec.ip)
        for sid, machine in self.machines.items():
            try:
                machine.set_lb_routes(back.get(sid, set()))
            except (DeployError, OSError) as exc:
                _say(f"server {sid}: route to its load balancers failed: {exc}")
        for lid in set(self.lb_failed) - set(specs) - set(refused):
            self.lb_failed.pop(lid)
        before = self.store.lb_health or {}
        health = {}
        for lid, host in self.lbs.items():
            read, last = host.health(), before.get(lid, {})
            # After a reload no check has finished yet (`unknown`): the last verdict stands.
            health[lid] = last if read is None else \
                {key: last.get(key, value) if value == "unknown" else value for key, value in read.items()}
        with self.store.lock:
            self.store.lb_health = health
        lbsync.forget(self.dir / "lbs", set(specs) | set(refused) | set(self.lbs))

    def lb_dir(self, lid: int) -> Path:
        return self.dir / "lbs" / str(lid)

    def _start_lb(self, spec) -> None:
        host = LoadBalancerHost(spec, self.lb_dir(spec.lid), self.hostnet)
        self.lbs[spec.lid] = host
        t0 = time.monotonic()
        try:
            host.start()
        except (DeployError, OSError) as exc:
            _say(f"load balancer {spec.lid}: did not start: {exc}")
            self._stop_lb(spec.lid)
            self.lb_failed[spec.lid] = spec.config   # retried when its config changes
            return
        self.lb_failed.pop(spec.lid, None)
        _say(f"load balancer {spec.lid} up on {spec.ip} in {time.monotonic() - t0:.2f}s")

    def _stop_lb(self, lid: int) -> None:
        host = self.lbs.get(lid)
        if host is not None:
            try:
                host.stop()
            finally:
                self.lbs.pop(lid, None)
            _say(f"load balancer {lid} stopped")


def from_args(store, machines_dir, net_range, images_dir) -> Controller:
    controller = Controller(store, machines_dir, net_range or netguard.DEFAULT_RANGE, images_dir)
    controller.start()
    return controller


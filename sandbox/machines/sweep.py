"""Remove everything sandbox machines of one directory may have left: their
processes (by recorded PID, checked), namespaces, veths, routes, the bridge,
the `unreachable` route and Docker's cgroups. Safe to run at any time when
that sandbox's emulator is not running; `sandbox down` runs it after the
emulator is gone, the emulator runs it at start and at exit."""
from __future__ import annotations

import ipaddress
import json
import os
import signal
import time
from pathlib import Path

from runner.process import run

from .lb import kill_recorded as kill_lb, live_pid as lb_pid
from .machine import CGROUP_ROOT, remove_cgroups
from .net import NETNS_DIR, tag_for


def _our_process(pid: int, machines_dir: Path) -> bool:
    """Only an `unshare` whose command line names this sandbox's init script."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(arg.startswith(str(machines_dir).encode() + b"/") and arg.endswith(b"/init.sh") for arg in cmdline)


def _kill_recorded(machines_dir: Path) -> list[int]:
    killed = []
    for pidfile in (machines_dir / "servers").glob("*/pid"):
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            continue
        if _our_process(pid, machines_dir):
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                children = []
            for target in [*map(int, children), pid]:
                try:
                    os.kill(target, signal.SIGKILL)
                    killed.append(target)
                except ProcessLookupError:
                    pass
        pidfile.unlink(missing_ok=True)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{p}").exists() and _state(p) not in ("Z", "X") for p in killed) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    return killed


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "X"


def leftovers(machines_dir: str | os.PathLike) -> dict[str, list[str]]:
    """What of this sandbox's machines still exists on the host (empty lists: clean)."""
    d = Path(machines_dir).resolve()
    tag = tag_for(d)
    prefix = f"hdm-{tag}-"
    links = json.loads(run(["ip", "-j", "link"]).stdout or "[]")
    net = _range(d)
    routes = json.loads(run(["ip", "-j", "-4", "route"]).stdout or "[]")
    return {
        "netns": sorted(p.name for p in NETNS_DIR.glob(prefix + "*")) if NETNS_DIR.is_dir() else [],
        "links": sorted(l["ifname"] for l in links
                        if l["ifname"] in (f"hdbr-{tag}",)
                        or l["ifname"].startswith((f"hdv{tag}", f"hdp{tag}", f"hdw{tag}", f"hdq{tag}", f"hdn{tag}"))),
        "routes": sorted(r["dst"] for r in routes if net and r.get("dst") not in (None, "default")
                         and ipaddress.ip_network(r["dst"], strict=False).overlaps(net)),
        "cgroups": sorted(str(h / n.name) for h in (CGROUP_ROOT.iterdir() if CGROUP_ROOT.is_dir() else [])
                          if h.is_dir() for n in h.glob(prefix + "*")),
        "mounts": sorted(line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                         if line.split()[1].startswith(str(d) + "/")),
        # machines' unshare and load balancers' HAProxy masters
        "processes": sorted(str(p) for p in [*_live_pids(d), *filter(None, map(lb_pid, (d / "lbs").glob("*")))]),
    }


def _live_pids(d: Path) -> list[int]:
    found = []
    for pidfile in (d / "servers").glob("*/pid"):
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            continue
        if _our_process(pid, d):
            found.append(pid)
    return found


def _range(d: Path) -> ipaddress.IPv4Network | None:
    try:
        return ipaddress.ip_network(json.loads((d / "network.json").read_text())["range"])
    except (OSError, ValueError, KeyError):
        return None


def sweep(machines_dir: str | os.PathLike) -> None:
    d = Path(machines_dir).resolve()
    if not d.is_dir():
        return
    tag = tag_for(d)
    _kill_recorded(d)
    for base in (d / "lbs").glob("*"):   # load balancers' HAProxy (their namespaces go below)
        kill_lb(base)
    net = _range(d)
    bridge = f"hdbr-{tag}"
    for ns in NETNS_DIR.glob(f"hdm-{tag}-*") if NETNS_DIR.is_dir() else []:
        run(["ip", "netns", "del", ns.name], check=False)
    if net is not None:
        for route in json.loads(run(["ip", "-j", "-4", "route"]).stdout or "[]"):
            dst = route.get("dst")
            if dst and dst != "default" and ipaddress.ip_network(dst, strict=False).subnet_of(net) \
                    and (route.get("dev") == bridge or route.get("type") == "unreachable"):
                argv = ["ip", "route", "del", dst] if route.get("dev") else ["ip", "route", "del", "unreachable", dst]
                run(argv, check=False)
    for link in json.loads(run(["ip", "-j", "link"]).stdout or "[]"):
        if link["ifname"].startswith((f"hdv{tag}", f"hdp{tag}", f"hdw{tag}", f"hdq{tag}", f"hdn{tag}")):
            run(["ip", "link", "del", link["ifname"]], check=False)
    if Path(f"/sys/class/net/{bridge}").exists():
        run(["ip", "link", "del", bridge], check=False)
    for h in CGROUP_ROOT.iterdir() if CGROUP_ROOT.is_dir() else []:
        for group in h.glob(f"hdm-{tag}-*") if h.is_dir() else []:
            remove_cgroups(group.name)

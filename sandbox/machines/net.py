"""Host side of the machines' network: one bridge with one host address,
one namespace + veth + /32 route per machine, `unreachable` for the rest.

Nothing here touches ip_forward or any route outside the sandbox range, and
the namespaces get no default route: a machine reaches the host's bridge
address and nothing else.
"""
from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import json
import time
from contextlib import contextmanager
from pathlib import Path

from errors import CommandError
from runner.process import run

NETNS_DIR = Path("/run/netns")


def tag_for(machines_dir: Path) -> str:
    """Short, stable per sandbox directory: two sandboxes never share names."""
    return hashlib.sha1(str(Path(machines_dir).resolve()).encode()).hexdigest()[:4]


class HostNet:
    def __init__(self, machines_dir: Path, net: ipaddress.IPv4Network):
        self.dir = Path(machines_dir)
        self.net = net
        self.tag = tag_for(self.dir)
        self.bridge = f"hdbr-{self.tag}"
        self.host_ip = str(net.network_address + 1)

    # -- names -----------------------------------------------------------
    def netns(self, sid: int) -> str:
        return f"hdm-{self.tag}-{sid}"

    def veth(self, sid: int) -> tuple[str, str]:
        return f"hdv{self.tag}{sid}", f"hdp{self.tag}{sid}"

    def private_bridge(self, nid: int) -> str:
        return f"hdn{self.tag}{nid}"

    def private_veth(self, sid: int, nid: int) -> tuple[str, str, str]:
        """host end, temporary peer name, name inside (one interface per network)."""
        suffix = f"{sid % 10**4:04d}{nid % 100:02d}"   # fixed widths: no two pairs share a name
        return f"hdw{self.tag}{suffix}", f"hdq{self.tag}{suffix}", f"enp7s{nid % 100}"

    def own_devices(self) -> set[str]:
        return {self.bridge}

    @contextmanager
    def _locked(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".netlock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    # -- the bridge --------------------------------------------------------
    def setup(self) -> None:
        with self._locked():
            (self.dir / "network.json").write_text(json.dumps(
                {"range": str(self.net), "bridge": self.bridge, "host_ip": self.host_ip, "tag": self.tag}))
            if run(["ip", "link", "show", self.bridge], check=False).returncode != 0:
                run(["ip", "link", "add", self.bridge, "type", "bridge"])
            run(["ip", "addr", "replace", f"{self.host_ip}/32", "dev", self.bridge])
            run(["ip", "link", "set", self.bridge, "up"])
            run(["ip", "route", "replace", "unreachable", str(self.net)])

    def teardown(self) -> None:
        with self._locked():
            run(["ip", "route", "del", "unreachable", str(self.net)], check=False)
            run(["ip", "link", "del", self.bridge], check=False)
            for link in json.loads(run(["ip", "-j", "link"]).stdout or "[]"):
                if link["ifname"].startswith(f"hdn{self.tag}"):
                    run(["ip", "link", "del", link["ifname"]], check=False)

    # -- one machine -------------------------------------------------------
    def add(self, sid: int, ip: str) -> str:
        if ipaddress.ip_address(ip) not in self.net or ip == self.host_ip:
            raise CommandError(f"{ip} is outside the sandbox machine range {self.net}: not routed")
        ns = self.netns(sid)
        host_end, peer = self.veth(sid)
        self.remove(sid, ip)   # a leftover of a crash would make every step below fail
        run(["ip", "netns", "add", ns])
        run(["ip", "link", "add", host_end, "type", "veth", "peer", "name", peer])
        run(["ip", "link", "set", peer, "netns", ns])
        inside = ["ip", "-n", ns]
        run([*inside, "link", "set", peer, "name", "eth0"])
        run([*inside, "addr", "add", f"{ip}/32", "dev", "eth0"])
        run([*inside, "link", "set", "lo", "up"])
        run([*inside, "link", "set", "eth0", "up"])
        run([*inside, "route", "add", f"{self.host_ip}/32", "dev", "eth0"])
        run(["ip", "link", "set", host_end, "master", self.bridge, "up"])
        run(["ip", "route", "replace", f"{ip}/32", "dev", self.bridge, "src", self.host_ip])
        return ns

    def remove(self, sid: int, ip: str | None) -> None:
        if ip:
            run(["ip", "route", "del", f"{ip}/32", "dev", self.bridge], check=False)
        ns = self.netns(sid)
        if (NETNS_DIR / ns).exists():
            run(["ip", "netns", "del", ns], check=False)
        host_end, _ = self.veth(sid)
        # The kernel drops the host end of the veth a moment after the namespace goes.
        deadline = time.monotonic() + 5
        while Path(f"/sys/class/net/{host_end}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if Path(f"/sys/class/net/{host_end}").exists():
            run(["ip", "link", "del", host_end], check=False)

    # -- Hetzner private networks ------------------------------------------
    def add_private(self, sid: int, nid: int, ip_range: str, ips: list[str]) -> None:
        """The machine joins network `nid`: a bridge with no host address (so
        the host routes nothing there), the server's private IPs, and an
        on-link route for the network's range inside the namespace only."""
        bridge = self.private_bridge(nid)
        host_end, peer, inside_name = self.private_veth(sid, nid)
        with self._locked():
            if run(["ip", "link", "show", bridge], check=False).returncode != 0:
                run(["ip", "link", "add", bridge, "type", "bridge"])
            run(["ip", "link", "set", bridge, "up"])
        ns = self.netns(sid)
        run(["ip", "link", "add", host_end, "type", "veth", "peer", "name", peer])
        run(["ip", "link", "set", peer, "netns", ns])
        inside = ["ip", "-n", ns]
        run([*inside, "link", "set", peer, "name", inside_name])
        for ip in ips:
            run([*inside, "addr", "add", f"{ip}/32", "dev", inside_name])
        run([*inside, "link", "set", inside_name, "up"])
        run([*inside, "route", "add", ip_range, "dev", inside_name])
        run(["ip", "link", "set", host_end, "master", bridge, "up"])

    def sync_private(self, owner: int, joined: dict, private: dict) -> None:
        """Join and leave private networks live (as Hetzner hot-plugs them): `joined` (network
        -> (range, ips) in place for this server or load balancer) is brought to `private`."""
        for nid in [n for n, v in joined.items() if private.get(n) != v]:
            self.remove_private(owner, nid)
            del joined[nid]
        for nid, (ip_range, ips) in private.items():
            if nid not in joined:
                self.add_private(owner, nid, ip_range, list(ips))
                joined[nid] = (ip_range, ips)

    def remove_private(self, sid: int, nid: int) -> None:
        _, _, inside_name = self.private_veth(sid, nid)
        run(["ip", "-n", self.netns(sid), "link", "del", inside_name], check=False)

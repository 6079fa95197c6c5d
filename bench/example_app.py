"""Seconds from "server created" to "examples/app healthy", median of 3, on
sandbox machines (root; the packages of scripts/sandbox-machine-deps.sh).

Each run: create a server with a volume through the emulator's API (hcloud
client), wait for the machine's boot-finished, ship examples/app over SSH
(asyncssh, pinned host key), `docker compose up -d`, poll GET /health on the
server's address until 200. Reported per step; images are built once first
(not counted). Uses its own range, 198.18.79.0/24.

    .venv/bin/python bench/example_app.py
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import hcloud  # noqa: E402
from hcloud.images import Image  # noqa: E402
from hcloud.locations import Location  # noqa: E402
from hcloud.server_types import ServerType  # noqa: E402

from sandbox.emulator import make_server  # noqa: E402
from sandbox.machines import sweep  # noqa: E402
from sandbox.machines.controller import Controller  # noqa: E402
from sandbox.machines.images import build  # noqa: E402
from tests.examples.appkit import START, ship, wait_health  # noqa: E402
from tests.sandbox.machines.machinekit import cloud_config, keypair, ssh, wait_boot_finished  # noqa: E402

RANGE = "198.18.79.0/24"
TOKEN = "bench-token"
RUNS = 3


def one_run(client: hcloud.Client, tmp: Path, n: int, client_key: str, client_pub: str) -> dict[str, float]:
    host_private, host_public = keypair(tmp, f"host{n}")
    key = client.ssh_keys.get_by_name("bench") or client.ssh_keys.create(name="bench", public_key=client_pub)
    volume = client.volumes.create(name=f"data{n}", size=10, location=Location(name="nbg1"), format="ext4").volume
    extra = f"mounts:\n  - [/dev/disk/by-id/scsi-0HC_Volume_{volume.id}, /mnt/data, ext4, 'discard,nofail']\n"
    t0 = time.monotonic()
    server = client.servers.create(name=f"bench-{n}", server_type=ServerType(name="cpx12"),
                                   image=Image(name="ubuntu-24.04"), ssh_keys=[key], volumes=[volume],
                                   user_data=cloud_config(host_private, extra), location=Location(name="nbg1")).server
    ip = server.public_net.ipv4.ip
    wait_boot_finished(ip, client_key, host_public)
    t_boot = time.monotonic()
    ship(ip, client_key, host_public, project=f"bench{n}")
    t_ship = time.monotonic()
    up = ssh(ip, f"cd /srv/app && {' '.join(START)}", client_key, host_public, timeout=180)
    if up.exit_status != 0:
        raise SystemExit(f"compose up failed: {up.stderr.strip().splitlines()[-1:]}")
    t_up = time.monotonic()
    wait_health(ip, 200)
    t_healthy = time.monotonic()
    client.servers.delete(server)
    return {"boot": t_boot - t0, "ship": t_ship - t_boot, "compose_up": t_up - t_ship,
            "healthy_after_up": t_healthy - t_up, "total": t_healthy - t0}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="hd-bench-app-") as name:
        tmp = Path(name)
        t0 = time.monotonic()
        sizes = build(tmp / "images", ["python", "redis", "postgres"])
        print(f"images built in {time.monotonic() - t0:.1f}s: "
              + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sizes.items()))
        server = make_server(tmp / "state", token=TOKEN, ip_range=RANGE)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        controller = Controller(server.store, tmp / "machines", RANGE, tmp / "images")
        client_key, client_pub = keypair(tmp, "client")
        runs = []
        try:
            controller.start()
            client = hcloud.Client(token=TOKEN, api_endpoint=server.url, poll_interval=0.05)
            for n in range(RUNS):
                runs.append(one_run(client, tmp, n, client_key, client_pub))
                print(f"run {n + 1}: " + ", ".join(f"{k} {v:.2f}s" for k, v in runs[-1].items()))
        finally:
            try:
                controller.close()
            finally:
                sweep.sweep(tmp / "machines")
                server.shutdown()
                server.server_close()
        for step in runs[0]:
            print(f"median {step}: {statistics.median(r[step] for r in runs):.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

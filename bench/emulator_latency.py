"""Emulator start-up and per-request latency, measured once on this machine.

Detached start (sandbox.manager.up, until it answers), in-process start
(make_server), median GET /servers, median server create + waiting on its
actions through hcloud-python, and stop (manager.down). Then, in process, the
same create with timed actions (action_seconds=0.2): how close the wait comes
to the configured time, and what the per-request state snapshot that undoes a
`locked` request costs (median POST with 0 vs 0.2 s actions, 300 actions kept).

    .venv/bin/python bench/emulator_latency.py
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

from hcloud import Client  # noqa: E402
from hcloud.images import Image  # noqa: E402
from hcloud.server_types import ServerType  # noqa: E402

from sandbox import manager  # noqa: E402
from sandbox.emulator import make_server  # noqa: E402


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _key(i: int) -> str:
    import base64
    blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + i.to_bytes(32, "big")
    return "ssh-ed25519 " + base64.b64encode(blob).decode()


def main() -> int:
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="hd-emu-bench-") as tmp:
        started = time.perf_counter()
        info = manager.up(Path(tmp) / "sandbox")
        rows.append(("detached start (manager.up, incl. mirror)", time.perf_counter() - started))
        client = Client(token=info.token, api_endpoint=info.endpoint, poll_interval=0.05)
        gets = [_timed(lambda: client.servers.get_all()) for _ in range(200)]
        rows.append(("GET /servers, median of 200", statistics.median(gets)))

        def create(i: int) -> None:
            result = client.servers.create(name=f"b{i}", server_type=ServerType(name="cpx12"),
                                           image=Image(name="debian-12"))
            for action in [result.action, *result.next_actions]:
                action.wait_until_finished()
        creates = [_timed(lambda i=i: create(i)) for i in range(50)]
        rows.append(("server create + wait, median of 50", statistics.median(creates)))
        rows.append(("stop (manager.down)", _timed(lambda: manager.down(Path(tmp) / "sandbox"))))

        started = time.perf_counter()
        server = make_server(Path(tmp) / "inproc", token="t")
        threading.Thread(target=server.serve_forever, daemon=True).start()
        rows.append(("in-process start (make_server)", time.perf_counter() - started))
        server.close()
        for seconds in (0.0, 0.2):
            timed = make_server(Path(tmp) / f"timed{seconds}", token="t", action_seconds=seconds)
            threading.Thread(target=timed.serve_forever, daemon=True).start()
            tclient = Client(token="t", api_endpoint=timed.url, poll_interval=0.02)
            for i in range(100):  # 300 actions in the store: what the snapshot copies
                tclient.ssh_keys.create(name=f"k{i}", public_key=_key(i))
                tclient.placement_groups.create(name=f"pg{i}", type="spread")
                tclient.networks.create(name=f"n{i}", ip_range="10.0.0.0/16")
            posts = [_timed(lambda i=i: tclient.placement_groups.create(name=f"x{i}", type="spread"))
                     for i in range(100)]
            rows.append((f"POST, median of 100, action_seconds={seconds}", statistics.median(posts)))
            waits = [_timed(lambda i=i: tclient.servers.create(
                name=f"t{i}", server_type=ServerType(name="cpx12"),
                image=Image(name="debian-12")).action.wait_until_finished()) for i in range(5)]
            rows.append((f"create + wait, median of 5, action_seconds={seconds}", statistics.median(waits)))
            timed.close()
    for label, seconds in rows:
        print(f"{label:45s} {seconds * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

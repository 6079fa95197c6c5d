"""Emulator start-up and per-request latency, measured once on this machine.

Detached start (sandbox.manager.up, until it answers), in-process start
(make_server), median GET /servers, median server create + waiting on its
actions through hcloud-python, and stop (manager.down).

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
            result = client.servers.create(name=f"b{i}", server_type=ServerType(name="cx22"),
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
    for label, seconds in rows:
        print(f"{label:45s} {seconds * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

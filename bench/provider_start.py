"""Seconds from starting the stand-in provider to its go-plugin handshake line.

Terraform starts the plugin for every command that needs it (plan, apply,
show -json, ...), so this start-up is paid several times per run. The plugin
is started as Terraform starts it (magic cookie in the environment), the
handshake line is read from its stdout, and the process is then stopped by
its PID. Median of N runs (default 7).

    .venv/bin/python bench/provider_start.py [N] [--against DIR]

--against DIR times another checkout of the repository (for instance an
older commit unpacked with `git archive`) in alternation with this one, so
both figures share the machine's load.
"""
from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"


def one_start(root: Path = REPO) -> float:
    # cwd first on sys.path (-m) and PYTHONPATH: `root`'s packages win over the
    # editable install's.
    env = {**os.environ, "TF_PLUGIN_MAGIC_COOKIE": COOKIE, "PYTHONPATH": str(root)}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "sandbox.provider"], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        elapsed = time.perf_counter() - started
        if not line.startswith("1|6|unix|"):
            raise SystemExit(f"no handshake, got {line!r}")
        return elapsed
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=35)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _report(label: str, times: list[float]) -> None:
    print(f"{label:<10} provider start to handshake: median {statistics.median(times):.3f} s "
          f"(min {min(times):.3f}, max {max(times):.3f}, n={len(times)})")


def main() -> int:
    args = sys.argv[1:]
    other = None
    if "--against" in args:
        at = args.index("--against")
        other = Path(args[at + 1]).resolve()
        del args[at:at + 2]
    runs = int(args[0]) if args else 7
    roots = [REPO] + ([other] if other else [])
    for root in roots:
        one_start(root)  # warm the file cache and the certificate caches
    times: dict[Path, list[float]] = {root: [] for root in roots}
    for _ in range(runs):
        for root in roots:
            times[root].append(one_start(root))
    _report("this", times[REPO])
    if other:
        _report("against", times[other])
    return 0


if __name__ == "__main__":
    sys.exit(main())

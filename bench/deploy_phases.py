"""Where a sandbox `deploy` spends its time, phase by phase, and what a no-op costs.

One fresh sandbox in a temporary directory; `deploy --profile ccx33 --json`
as the CLI, first run then a no-op run, each phase's wall clock from the
engine's report (PhaseLine.seconds), and each phase's share of the first run.

    .venv/bin/python bench/deploy_phases.py
    .venv/bin/python bench/deploy_phases.py --demo   # the example app with DNS and TLS

--demo deploys examples/app/sandbox.toml (what `make deploy` runs without a
deploy.toml) on sandbox machines, after `make demo-deps` made its key, .env and
images; it reports the DNS and TLS phases' share of the whole deploy too.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sandbox import manager  # noqa: E402


DEMO = REPO / "examples" / "app" / "sandbox.toml"


def _deploy(base: Path, demo: bool) -> tuple[float, dict]:
    argv = [sys.executable, "-m", "cli", "deploy", "--profile", "ccx33", "--json",
            "--stacks-dir", str(base / "stacks")] + (["--config", str(DEMO)] if demo else [])
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=600)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"deploy failed: {done.stderr.strip()}")
    return wall, json.loads(done.stdout)


def main() -> int:
    demo = "--demo" in sys.argv[1:]
    if demo and not (REPO / ".sandbox" / "images" / "caddy.tar").is_file():
        raise SystemExit("--demo needs `make demo-deps` first (key, .env and images)")
    with tempfile.TemporaryDirectory(prefix="hd-phases-") as tmp:
        base = Path(tmp)
        shutil.copytree(REPO / "terraform" / "stacks", base / "stacks",
                        ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*", ".work"))
        os.environ["HETZNER_DEPLOY_SANDBOX_DIR"] = str(base / "sandbox")
        for var in ("HCLOUD_TOKEN", "TARGET", "HCLOUD_ENDPOINT"):
            os.environ.pop(var, None)
        if demo:
            (base / "sandbox").mkdir()
            shutil.copytree(REPO / ".sandbox" / "images", base / "sandbox" / "images")
            subprocess.run([sys.executable, "-m", "cli", "generate", "--profile", "ccx33",
                            "--config", str(DEMO), "--stacks-dir", str(base / "stacks")],
                           cwd=REPO, check=True, capture_output=True, stdin=subprocess.DEVNULL)
        manager.up(base / "sandbox", machines=demo)
        try:
            first_wall, first = _deploy(base, demo)
            noop_wall, noop = _deploy(base, demo)
        finally:
            manager.down(base / "sandbox")
    print(f"first deploy: {first_wall:.2f}s wall clock (CLI), phases:")
    total = sum(p["seconds"] for p in first["phases"])
    for p in first["phases"]:
        print(f"  {p['phase']:<10} {p['status']:<8} {p['seconds']:6.2f}s  "
              f"{100 * p['seconds'] / first_wall:5.1f}% of the run")
    print(f"  (phases {total:.2f}s; the rest is start-up, target and config)")
    names = {p["phase"]: p["seconds"] for p in first["phases"]}
    if "dns" in names or "tls" in names:
        edge = names.get("dns", 0) + names.get("tls", 0)
        print(f"DNS + TLS phases: {edge:.2f}s = {100 * edge / first_wall:.1f}% of the first deploy")
    print(f"no-op deploy: {noop_wall:.2f}s = {noop_wall / first_wall:.3f} of the first; "
          + ", ".join(f"{p['phase']} {p['seconds']:.2f}s" for p in noop["phases"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

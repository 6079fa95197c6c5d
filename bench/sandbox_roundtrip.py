"""Seconds for one whole sandbox round trip on the ccx33 stack, measured once.

emulator start + mirror build (sandbox.manager.up), terraform init, plan,
apply, output, destroy, emulator stop, on a copy of terraform/stacks/production
in a temporary directory (prevent_destroy and the volume's delete protection
lifted in the copy only: the provider, like the real one, does not lift it).

    .venv/bin/python bench/sandbox_roundtrip.py
"""
from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from runner.process import run  # noqa: E402
from sandbox import manager  # noqa: E402

GOAL_SECONDS = 30.0


def _copy_stack(dest: Path) -> Path:
    shutil.copytree(REPO / "terraform" / "stacks" / "production", dest,
                    ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*"))
    main = dest / "main.tf"
    main.write_text(main.read_text().replace("prevent_destroy = true", "prevent_destroy = false")
                    .replace("delete_protection = true", "delete_protection = false"))
    return dest


def main() -> int:
    steps: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="hd-bench-") as tmp:
        base = Path(tmp)
        (base / "home").mkdir()
        stack = _copy_stack(base / "stack")
        started = time.perf_counter()

        def step(name, fn):
            t = time.perf_counter()
            result = fn()
            steps.append((name, time.perf_counter() - t))
            return result

        info = step("emulator start + mirror", lambda: manager.up(base / "sandbox"))
        try:
            env = {**manager.shell_env(info), "TF_VAR_hcloud_token": info.token,
                   "HOME": str(base / "home"), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}

            def tf(*args):
                return run(["terraform", *args], cwd=stack, env=env, timeout=300)

            step("init", lambda: tf("init", "-input=false", "-no-color"))
            step("plan", lambda: tf("plan", "-input=false", "-no-color", "-out=bench.tfplan"))
            step("apply", lambda: tf("apply", "-input=false", "-no-color", "bench.tfplan"))
            step("output", lambda: tf("output", "-json"))
            step("destroy", lambda: tf("destroy", "-auto-approve", "-input=false", "-no-color"))
        finally:
            step("emulator stop", lambda: manager.down(base / "sandbox"))
        total = time.perf_counter() - started
    for name, seconds in steps:
        print(f"{name:<24} {seconds:6.2f} s")
    verdict = "within" if total < GOAL_SECONDS else "OVER"
    print(f"{'total':<24} {total:6.2f} s  ({verdict} the {GOAL_SECONDS:.0f} s goal)")
    return 0 if total < GOAL_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())

"""What our runner costs on top of bare terraform, measured in one run in the sandbox.

1. plan through our runner (init when needed, plan -json -out, show -json when
   something changes, summary) / bare `terraform init && terraform plan -out`
   on the same ccx33 stack: for a creation plan and a no-change plan, both
   in-process (the runner alone) and as the CLI (adds Python start-up/imports).
2. a no-op `deploy` / the first `deploy`, both as the CLI, wall clock.
Each figure is the median of REPEAT runs, ours and bare alternating (the
first deploy is measured once). The CLI runs with compiled bytecode, as an
installed tool does (cached under a temporary PYTHONPYCACHEPREFIX, even when
PYTHONDONTWRITEBYTECODE is set here); `--no-bytecode` measures without.

    .venv/bin/python bench/runner_overhead.py
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sandbox import manager  # noqa: E402

CREATE_GOAL, NOCHANGE_GOAL, NOOP_GOAL, REPEAT = 1.15, 1.05, 0.10, 5
BYTECODE = "--no-bytecode" not in sys.argv


def _median(fn) -> float:
    times = []
    for _ in range(REPEAT):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _paired(ours, bare) -> tuple[float, float]:
    """Medians of alternating runs, so a load change on the machine hits both alike."""
    a, b = [], []
    for _ in range(REPEAT):
        for fn, into in ((bare, b), (ours, a)):
            t = time.perf_counter()
            fn()
            into.append(time.perf_counter() - t)
    return statistics.median(a), statistics.median(b)


def _cli(base: Path, *args: str) -> None:
    argv = [sys.executable, "-m", "cli", *args, "--stacks-dir", str(base / "stacks")]
    env = dict(os.environ)
    if BYTECODE:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(base / "pycache")
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip()}")


def main() -> int:
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="hd-overhead-") as tmp:
        base = Path(tmp)
        shutil.copytree(REPO / "terraform" / "stacks", base / "stacks",
                        ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*", ".work"))
        os.environ["HETZNER_DEPLOY_SANDBOX_DIR"] = str(base / "sandbox")
        for var in ("HCLOUD_TOKEN", "TARGET"):
            os.environ.pop(var, None)
        info = manager.up(base / "sandbox")
        try:
            env = {**manager.shell_env(info), "TF_VAR_hcloud_token": info.token,
                   "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "TF_INPUT": "0"}

            def bare_in(directory: Path):
                # plain subprocess, not our runner: the baseline has nothing of ours
                full = {**os.environ, **env}

                def go():
                    for argv in (["terraform", "init", "-input=false"],
                                 ["terraform", "plan", "-input=false", "-out=p.tfplan"]):
                        subprocess.run(argv, cwd=directory, env=full, check=True,
                                       capture_output=True, timeout=600)
                return go

            from generator.config import load_config
            from pipeline.stack import make_plan, open_session
            from pipeline.target import resolve_target
            config = load_config()
            session = open_session(resolve_target(), "production", stacks_dir=base / "stacks")

            bare1 = base / "bare1"
            shutil.copytree(base / "stacks" / "production", bare1)
            rows.append(("plan (create), runner in-process",
                         *_paired(lambda: make_plan(session, config), bare_in(bare1))))
            _cli(base, "plan")  # compiles the bytecode once, as an install would
            rows.append(("plan (create), CLI",
                         *_paired(lambda: _cli(base, "plan"), bare_in(bare1))))
            show = _median(lambda: session.tf.show(session.ws.planfile))

            t = time.perf_counter()
            _cli(base, "deploy", "--profile", "ccx33")
            first = time.perf_counter() - t
            noop = _median(lambda: _cli(base, "deploy", "--profile", "ccx33"))

            bare2 = base / "bare2"  # the deployed state, planned by bare terraform
            shutil.copytree(session.ws.workdir, bare2,
                            ignore=shutil.ignore_patterns(".terraform", ".work"))
            rows.append(("plan (no change), runner in-process",
                         *_paired(lambda: make_plan(session, config), bare_in(bare2))))
            rows.append(("plan (no change), CLI",
                         *_paired(lambda: _cli(base, "plan"), bare_in(bare2))))
        finally:
            manager.down(base / "sandbox")

    print("plan through the runner / bare `terraform init && terraform plan`"
          f" (goals: create <= {CREATE_GOAL}, no change <= {NOCHANGE_GOAL}), median of "
          f"{REPEAT}, CLI {'with' if BYTECODE else 'without'} bytecode:")
    for name, ours, bare in rows:
        print(f"  {name:<38} {ours:5.2f}s / {bare:5.2f}s = {ours / bare:4.2f}")
    print(f"  of which `terraform show -json` (a provider start): {show:5.2f}s")
    print(f"no-op deploy / first deploy (goal <= {NOOP_GOAL}):")
    print(f"  {'CLI wall clock':<38} {noop:5.2f}s / {first:5.2f}s = {noop / first:5.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""From an empty sandbox to a healthy app, measured once on this machine (root: machines).

Boots the sandbox with machines on its own range, writes a deploy.toml with an
[app] (busybox httpd from the local sandbox/busybox image), then times through the
real CLI: `deploy` from nothing (split by when the [outputs] and [app] lines
appear: infra vs app), `deploy` with nothing changed NOOP_RUNS times (the no-op
ratio uses their median, side by side with the first deploy in the same run; the
app phase's own seconds come from --json), `app deploy` with nothing changed, and
`app deploy` of a change.

Every no-op still asks the server (one SSH round trip: boot marker, lock, current
release, sha256 of its compose file and .env, running containers); nothing local
decides it. The machines' range is $HETZNER_DEPLOY_MACHINE_RANGE when set.

    .venv/bin/python bench/app_deploy.py            # bytecode compiled first, as an install does
    .venv/bin/python bench/app_deploy.py --as-is    # whatever bytecode there is (none under
                                                    # PYTHONDONTWRITEBYTECODE=1: every run compiles)

`pip install .` compiles every module to bytecode; an editable install leaves it to
the first run, and PYTHONDONTWRITEBYTECODE=1 (set in some shells and images) stops
that, so each CLI start compiles the project from source again (~0.1 s of CPU, most
of it in a no-op's budget). The default measures what an installed tool does.
"""
from __future__ import annotations

import os
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import asyncssh  # noqa: E402

from sandbox import manager  # noqa: E402
from sandbox.machines.images import build  # noqa: E402

# The machines' range: the caller's own when several sessions share the host.
RANGE = os.environ.get("HETZNER_DEPLOY_MACHINE_RANGE") or "198.18.93.0/24"
HOST_ALLOW = RANGE.rsplit(".", 1)[0] + ".1/32"
NOOP_RUNS = 5
# What setuptools installs (pyproject.toml: py-modules and packages).
PACKAGES = ("cli.py", "errors.py", "generator", "runner", "pipeline", "checks", "pricing", "domains",
            "ops", "sandbox", "commands", "remote", "app")
COMPOSE = """version: "3.7"
services:
  web:
    image: sandbox/busybox
    command: ["sh", "-c", "mkdir -p /www && echo %s > /www/health && exec httpd -f -p 8000 -h /www"]
    ports: ["80:8000"]
    init: true
"""
TOML = """[project]
name = "bench-app"
environment = "production"
domain = "app.example.com"
[ssh]
public_key = "id_bench.pub"
allow = ["%(allow)s"]
[traffic]
calls_per_month = 3000
[app]
compose = "app/compose.yaml"
env_file = "app/.env"
health_timeout_s = 30
"""


def timed_cli(env, *args, marks=()) -> tuple[float, dict[str, float], str]:
    """Run the CLI; total seconds, seconds at which each marker line appeared, stdout."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "cli", *args], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    seen, out = {}, []
    for line in proc.stdout:
        out.append(line)
        for m in marks:
            if m in line and m not in seen:
                seen[m] = time.perf_counter() - started
    if proc.wait() != 0:
        raise SystemExit("".join(out))
    return time.perf_counter() - started, seen, "".join(out)


def main() -> int:
    if os.geteuid() != 0:
        print("needs root (sandbox machines)")
        return 2
    as_is = "--as-is" in sys.argv[1:]
    if not as_is:
        subprocess.run([sys.executable, "-m", "compileall", "-q", *PACKAGES], cwd=REPO, check=True,
                       stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory(prefix="hd-app-bench-") as tmp:
        t = Path(tmp)
        key = asyncssh.generate_private_key("ssh-ed25519")
        (t / "id_bench").write_bytes(key.export_private_key())
        os.chmod(t / "id_bench", 0o600)
        (t / "id_bench.pub").write_bytes(key.export_public_key())
        (t / "app").mkdir()
        (t / "app" / "compose.yaml").write_text(COMPOSE % "v1")
        (t / "app" / ".env").write_text("API_KEY=bench\n")
        os.chmod(t / "app" / ".env", 0o600)
        (t / "deploy.toml").write_text(TOML % {"allow": HOST_ALLOW})
        stacks = t / "stacks"
        shutil.copytree(REPO / "terraform" / "stacks", stacks)
        env = {k: v for k, v in os.environ.items() if k not in ("HCLOUD_TOKEN", "TARGET", "HCLOUD_ENDPOINT")}
        env.update(HETZNER_DEPLOY_SANDBOX_DIR=str(t / "sandbox"), HETZNER_DEPLOY_KEYS_DIR=str(t / "keys"),
                   HETZNER_DEPLOY_MACHINE_RANGE=RANGE)
        os.environ.update(HETZNER_DEPLOY_MACHINE_RANGE=RANGE)
        common = ["--config", str(t / "deploy.toml"), "--stacks-dir", str(stacks)]
        build(t / "sandbox" / "images", ["busybox"])
        try:
            up = time.perf_counter()
            manager.up(t / "sandbox", machines=True)
            sandbox_s = time.perf_counter() - up
            gen, _, _ = timed_cli(env, "generate", "--profile", "ccx33", *common)
            first, marks, _ = timed_cli(env, "deploy", "--profile", "ccx33", *common,
                                        marks=("[outputs] done", "[app] done"))
            noops, noop_app_phase = [], []
            for _ in range(NOOP_RUNS):
                seconds, _, out = timed_cli(env, "deploy", "--profile", "ccx33", "--json", *common)
                report = json.loads(out[out.index("{"):out.rindex("}") + 1])   # stderr is merged in
                phases = {p["phase"]: p for p in report["phases"]}
                assert "unchanged" in phases["app"]["detail"], out
                noops.append(seconds)
                noop_app_phase.append(phases["app"]["seconds"])
            second = statistics.median(noops)
            noop_app, _, _ = timed_cli(env, "app", "deploy", *common)
            (t / "app" / "compose.yaml").write_text(COMPOSE % "v2")
            change, _, _ = timed_cli(env, "app", "deploy", *common)
        finally:
            manager.down(t / "sandbox")
    infra = marks["[outputs] done"]
    app = marks["[app] done"] - infra
    rows = [("sandbox up with machines", sandbox_s), ("generate (+ host key)", gen),
            ("deploy: empty sandbox -> healthy app", first),
            ("  of which preflight+generate+infra+outputs", infra),
            ("  of which app (boot wait, SSH, release, health)", app),
            (f"deploy again, nothing changed (median of {NOOP_RUNS})", second),
            ("  fastest of them", min(noops)),
            ("  of which the app phase (SSH probe), median", statistics.median(noop_app_phase)),
            ("app deploy, nothing changed", noop_app),
            ("app deploy of a change (new release)", change)]
    print("bytecode: " + ("as found (--as-is)" if as_is else "compiled first, as an install does"))
    for name, seconds in rows:
        print(f"{name:<52} {seconds:7.2f} s")
    print(f"{'no-op deploy (median) / first deploy':<52} {second / first:7.3f}   (goal <= 0.10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

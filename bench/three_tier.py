"""3-tier from empty to every app server healthy behind the load balancer, and how it grows with N.

For each N (default 4, 10, 20): a fresh sandbox with machines, the example app,
`[tier] app_servers = N`, then `deploy --profile 3-tier` as the CLI; the clock
stops when the API reports every load balancer target healthy and a request
through the load balancer's address answers. Prints the wall clock, the
phases, and seconds per app server, so growth is read as a ratio in one run.

    .venv/bin/python bench/three_tier.py            # N = 4, 10, 20
    .venv/bin/python bench/three_tier.py 2 4        # other sizes

Needs what the machine tests need (root, Docker, HAProxy, the images).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sandbox import manager  # noqa: E402

RANGE = os.environ.get("HETZNER_DEPLOY_MACHINE_RANGE", "198.18.90.0/24")
CONFIG = """\
[project]
name = "bench3"
environment = "production"
domain = "app.example.com"

[hetzner]
location = "nbg1"
image = "ubuntu-22.04"

[ssh]
public_key = "id_bench.pub"
allow = ["{bridge}"]

[storage]
volume_size_gb = 50
backups = false

[traffic]
calls_per_month = 3000

[tier]
app_servers = {n}

[app]
compose = "app/docker-compose.yml"
env_file = "app/.env"
files = ["backend/app.py", "ai/worker.py"]
health_timeout_s = 180

[dns]
ipv6 = false
"""


def _prepare(base: Path, n: int) -> Path:
    import asyncssh
    key = asyncssh.generate_private_key("ssh-ed25519")
    (base / "id_bench").write_bytes(key.export_private_key())
    os.chmod(base / "id_bench", 0o600)
    (base / "id_bench.pub").write_bytes(key.export_public_key())
    shutil.copytree(REPO / "examples" / "app", base / "app",
                    ignore=shutil.ignore_patterns(".env", "*.toml", "__pycache__"))
    env = base / "app" / ".env"
    env.write_text("PROJECT=bench\nPOSTGRES_USER=app\nPOSTGRES_DB=app\n"
                   "POSTGRES_PASSWORD=bench-pg-pw\nREDIS_PASSWORD=bench-redis-pw\n")
    os.chmod(env, 0o600)
    bridge = RANGE.split("/")[0].rsplit(".", 1)[0] + ".1/32"
    config = base / "deploy.toml"
    config.write_text(CONFIG.format(n=n, bridge=bridge))
    shutil.copytree(REPO / "terraform" / "stacks", base / "stacks",
                    ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*", ".work"))
    return config


def _cli(base: Path, config: Path, *args: str, timeout: float = 1800) -> str:
    done = subprocess.run([sys.executable, "-m", "cli", *args, "--config", str(config),
                           "--stacks-dir", str(base / "stacks")], cwd=REPO,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def _all_healthy(info, lb_ip: str) -> bool:
    from hcloud import Client
    (lb,) = Client(token=info.token, api_endpoint=info.endpoint).load_balancers.get_all()
    states = [h.status for t in lb.targets for h in (t.health_status or [])]
    if not states or any(s != "healthy" for s in states):
        return False
    try:
        with urllib.request.urlopen(f"http://{lb_ip}/health", timeout=5) as reply:
            return reply.status == 200
    except OSError:
        return False


_STAGES = (("boot", "boot (pid"), ("dockerd", "dockerd ready"), ("images", "image sandbox/"),
           ("finished", "boot finished"))


def _boot_profile(sandbox: Path, started_utc: float) -> dict:
    """Where the machines' boots went, from each machine's own log (cloud-init-output.log,
    stamped HH:MM:SS.mmm UTC): per stage, the median seconds after the previous stage,
    and when the last machine finished booting (seconds after the deploy started)."""
    import datetime as dt
    import statistics
    day = dt.datetime.fromtimestamp(started_utc, dt.timezone.utc).date()
    per_stage: dict[str, list[float]] = {}
    last_done = 0.0
    for log in (sandbox / "machines" / "servers").glob("*/upper/var/log/cloud-init-output.log"):
        seen: dict[str, float] = {}
        for line in log.read_text(errors="replace").splitlines():
            stamp, _, rest = line.partition(" sandbox-machine: ")
            for stage, word in _STAGES:
                if rest.startswith(word):
                    t = dt.datetime.combine(day, dt.time.fromisoformat(stamp), dt.timezone.utc)
                    seen[stage] = t.timestamp() - started_utc   # the last "images" line wins
        order = [st for st, _ in _STAGES if st in seen]
        for before, after in zip(order, order[1:]):
            per_stage.setdefault(after, []).append(seen[after] - seen[before])
        last_done = max(last_done, seen.get("finished", 0.0))
    out = {f"{k} +{statistics.median(v):.2f}s": len(v) for k, v in per_stage.items()}
    return {"boot": ", ".join(out), "last machine booted": round(last_done, 1),
            "releases": _release_profile(sandbox, started_utc)}


def _release_profile(sandbox: Path, started_utc: float) -> str:
    """When each machine's release began (its .env written) and passed its gate (the
    release marker's last write, "ok"), seconds after the deploy started, from the
    machines' disks: the db server's, then the app servers' first/median/last."""
    import statistics
    from remote.commands import ENV_NAME, MARKER
    rows = []
    for marker in (sandbox / "machines" / "servers").glob(f"*/upper/opt/*/releases/*/{MARKER}"):
        began = (marker.parent / ENV_NAME).stat().st_mtime - started_utc
        compose = (marker.parent / "compose.yaml").read_text()
        rows.append((began, marker.stat().st_mtime - started_utc, "postgres" in compose))
    if not rows:
        return "no releases found"
    db = max(rows, key=lambda r: r[2])      # the db part: the most services with images
    apps = sorted(r for r in rows if r is not db)
    if not apps:
        return f"db {db[0]:.1f}->{db[1]:.1f}s"
    took = statistics.median(r[1] - r[0] for r in apps)
    return (f"db {db[0]:.1f}->{db[1]:.1f}s; app releases began {apps[0][0]:.1f}/"
            f"{statistics.median(r[0] for r in apps):.1f}/{apps[-1][0]:.1f}s (first/median/last), "
            f"each {took:.1f}s to its gate (median), last gate {max(r[1] for r in apps):.1f}s")


def one(n: int) -> dict:
    from sandbox.machines.images import build
    with tempfile.TemporaryDirectory(prefix=f"hd-3tier-{n}-") as tmp:
        base = Path(tmp)
        config = _prepare(base, n)
        os.environ.update({"HETZNER_DEPLOY_SANDBOX_DIR": str(base / "sandbox"),
                           "HETZNER_DEPLOY_MACHINE_RANGE": RANGE,
                           "HETZNER_DEPLOY_KEYS_DIR": str(base / "hostkeys")})
        for var in ("HCLOUD_TOKEN", "TARGET", "HCLOUD_ENDPOINT"):
            os.environ.pop(var, None)
        build(base / "sandbox" / "images", ["python", "redis", "postgres"])
        _cli(base, config, "generate", "--profile", "3-tier")
        info = manager.up(base / "sandbox", machines=True)
        try:
            started, started_utc = time.perf_counter(), time.time()
            try:
                report = json.loads(_cli(base, config, "deploy", "--profile", "3-tier", "--json"))
            except SystemExit:
                # What the machines said, before the sandbox (and its log) goes.
                log = (base / "sandbox" / "emulator.log").read_text(errors="replace")
                print("\n".join(line for line in log.splitlines() if line.startswith("machines:")),
                      file=sys.stderr)
                raise
            deployed = time.perf_counter() - started
            lb_ip = report["outputs"]["load_balancer_ipv4"]
            while not _all_healthy(info, lb_ip):
                if time.perf_counter() - started > 1800:
                    raise SystemExit(f"N={n}: not all healthy within 30 min")
                time.sleep(0.2)
            healthy = time.perf_counter() - started
            profile = _boot_profile(base / "sandbox", started_utc)
        finally:
            manager.down(base / "sandbox")
    return {"n": n, "deploy": deployed, "healthy": healthy,
            "phases": {p["phase"]: p["seconds"] for p in report["phases"]}, "profile": profile}


def main() -> int:
    sizes = [int(a) for a in sys.argv[1:]] or [4, 10, 20]
    rows = [one(n) for n in sizes]
    print(f"{'N':>3} {'all healthy':>12} {'per app server':>15}  phases")
    for r in rows:
        phases = ", ".join(f"{k} {v:.1f}s" for k, v in r["phases"].items() if v >= 0.05)
        print(f"{r['n']:>3} {r['healthy']:>11.1f}s {r['healthy'] / r['n']:>14.2f}s  {phases}")
        print(f"    machines: median stage times {r['profile']['boot']}; the last booted "
              f"{r['profile']['last machine booted']} s after the deploy started")
        print(f"    releases: {r['profile']['releases']}")
    first = rows[0]
    for r in rows[1:]:
        print(f"N {first['n']} -> {r['n']} (x{r['n'] / first['n']:.1f}): time "
              f"x{r['healthy'] / first['healthy']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

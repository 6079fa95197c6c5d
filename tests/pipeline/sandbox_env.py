"""A private sandbox (emulator + stand-in provider) and a CLI runner for e2e tests."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Sandbox:
    directory: Path
    stacks: Path
    config: Path
    endpoint: str
    token: str

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("HCLOUD_TOKEN", "TARGET", "HCLOUD_ENDPOINT")}
        env["HETZNER_DEPLOY_SANDBOX_DIR"] = str(self.directory)
        return env

    def cli(self, *args: str, timeout: float = 180,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run the real CLI as a user would, without a terminal (`env`: added variables)."""
        argv = [sys.executable, "-m", "cli", *args]
        if args and args[0] in ("deploy", "plan", "apply", "outputs", "destroy", "generate"):
            argv += ["--stacks-dir", str(self.stacks), "--config", str(self.config)]
        return subprocess.run(argv, cwd=REPO, env={**self.env(), **(env or {})},
                              capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=timeout)

    def popen(self, *args: str) -> subprocess.Popen:
        argv = [sys.executable, "-m", "cli", *args, "--stacks-dir", str(self.stacks),
                "--config", str(self.config)]
        return subprocess.Popen(argv, cwd=REPO, env=self.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)

    def client(self):
        from hcloud import Client
        return Client(token=self.token, api_endpoint=self.endpoint)

    def fault(self, **body) -> None:
        self._faults("POST", json.dumps(body).encode())

    def clear_faults(self) -> None:
        """Drop injected faults nobody consumed, so the test's own API reads see none."""
        self._faults("DELETE", None)

    def _faults(self, method: str, data: bytes | None) -> None:
        base = self.endpoint.rsplit("/v1", 1)[0]
        req = urllib.request.Request(f"{base}/_sandbox/faults", method=method, data=data,
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200

    def workdir(self, env: str = "production") -> Path:
        return self.directory / "work" / env


def start(tmp_path: Path, make_config) -> Sandbox:
    from sandbox import manager
    directory = tmp_path / "sandbox"
    stacks = tmp_path / "stacks"
    shutil.copytree(REPO / "terraform" / "stacks", stacks)
    config = make_config()
    info = manager.up(directory)
    return Sandbox(directory, stacks, config, info.endpoint, info.token)


def stop(sb: Sandbox) -> None:
    from sandbox import manager
    manager.down(sb.directory)


def age_recorded_time(path: Path, field: str, seconds: int) -> None:
    """Time passing, as a step's progress file sees it: its recorded UTC time moved back."""
    import datetime as dt
    doc = json.loads(path.read_text())
    doc[field] = (dt.datetime.fromisoformat(doc[field]) - dt.timedelta(seconds=seconds)).isoformat()
    path.write_text(json.dumps(doc))


def ok(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    """A CLI run that must have succeeded; its output in the failure message otherwise."""
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


# --- sandboxes with machines (the app phase's e2e tests) ----------------------------------

def login_key(home: Path) -> str:
    """root's key pair for the machines: the private half in home/id_test (0600, where
    make_config's ssh.public_key expects it beside id_test.pub); returns the public line."""
    import asyncssh
    key = asyncssh.generate_private_key("ssh-ed25519")
    (home / "id_test").write_bytes(key.export_private_key())
    os.chmod(home / "id_test", 0o600)
    return key.export_public_key().decode().strip()


def machines_toml(machine_range: str, extra: str) -> str:
    """BASE_TOML with SSH allowed from the machines' bridge (where the tool connects from)."""
    from tests.conftest import BASE_TOML
    bridge = machine_range.split("/")[0].rsplit(".", 1)[0] + ".1/32"
    return BASE_TOML.replace('allow = ["203.0.113.7/32"]', f'allow = ["{bridge}"]') + extra


def example_app(folder: Path, env_text: str) -> Path:
    """examples/app copied to `folder` (no .env, no sandbox.toml) with this .env (0600)."""
    shutil.copytree(REPO / "examples" / "app", folder,
                    ignore=shutil.ignore_patterns(".env", "*.toml", "__pycache__"))
    (folder / ".env").write_text(env_text)
    os.chmod(folder / ".env", 0o600)
    return folder


def example_app_here(home: Path, project: str) -> None:
    """The example app's Compose file, backend and ai beside deploy.toml in `home` (as
    examples/app/sandbox.toml lays it out), its .env (0600) with random passwords and
    PROJECT=`project`."""
    from tests.examples.appkit import APP_DIR
    shutil.copy(APP_DIR / "docker-compose.yml", home / "docker-compose.yml")
    for part in ("backend", "ai"):
        shutil.copytree(APP_DIR / part, home / part, ignore=shutil.ignore_patterns("__pycache__"))
    env = (APP_DIR / ".env.example").read_text()
    env = env.replace("change-me-postgres", os.urandom(12).hex()) \
             .replace("change-me-redis", os.urandom(12).hex()) \
             .replace("PROJECT=example", f"PROJECT={project}")
    (home / ".env").write_text(env)
    os.chmod(home / ".env", 0o600)


@contextlib.contextmanager
def machines_sandbox(home: Path, config: Path, monkeypatch, machine_range: str,
                     images: list[str]):
    """A sandbox with machines on `machine_range`, these images built, a copy of the
    committed stacks; host keys kept under `home`. Yields (Sandbox, manager.SandboxInfo)."""
    from sandbox import manager
    from sandbox.machines.images import build
    monkeypatch.setenv("HETZNER_DEPLOY_MACHINE_RANGE", machine_range)
    monkeypatch.setenv("HETZNER_DEPLOY_KEYS_DIR", str(home / "hostkeys"))
    directory, stacks = home / "sandbox", home / "stacks"
    build(directory / "images", images)
    shutil.copytree(REPO / "terraform" / "stacks", stacks)
    info = manager.up(directory, machines=True)
    try:
        yield Sandbox(directory, stacks, config, info.endpoint, info.token), info
    finally:
        manager.down(directory)

"""A private sandbox (emulator + stand-in provider) and a CLI runner for e2e tests."""
from __future__ import annotations

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

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        """Run the real CLI as a user would, without a terminal."""
        argv = [sys.executable, "-m", "cli", *args]
        if args and args[0] in ("deploy", "plan", "apply", "outputs", "destroy", "generate"):
            argv += ["--stacks-dir", str(self.stacks), "--config", str(self.config)]
        return subprocess.run(argv, cwd=REPO, env=self.env(), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=timeout)

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

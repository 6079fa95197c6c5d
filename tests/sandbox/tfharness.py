"""Helpers for end-to-end tests that run real Terraform against the emulator.

Each test gets its own emulator on a free port (the `emulator` fixture of
conftest.py), its own mirror, HOME and working copy of the stack under
tmp_path: nothing is shared and nothing outlives the test.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from sandbox.mirror import build_mirror

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "terraform" / "stacks" / "production"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


class Terraform:
    """Runs terraform in one working directory with the sandbox environment."""

    def __init__(self, workdir: Path, base: Path, emulator):
        mirror = build_mirror(base / "sandbox")
        home = base / "home"
        home.mkdir(exist_ok=True)
        self.workdir = workdir
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TF_")},
            "HOME": str(home),
            "TF_CLI_CONFIG_FILE": str(mirror.cli_config_file),
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
            "HCLOUD_ENDPOINT": emulator.url,
            "HCLOUD_TOKEN": emulator.token,
            "TF_VAR_hcloud_token": emulator.token,
        }

    def run(self, *args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess:
        # -no-color goes right after the (one- or two-word) subcommand.
        words = 2 if args[0] in ("providers", "state") and len(args) > 1 else 1
        argv = ["terraform", *args[:words], "-no-color", *args[words:]]
        proc = subprocess.run(argv, cwd=self.workdir, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"terraform {' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc

    def init(self):
        return self.run("init", "-input=false")

    def apply(self, *extra: str):
        return self.run("apply", "-input=false", "-auto-approve", *extra)

    def plan_exitcode(self, *extra: str) -> subprocess.CompletedProcess:
        return self.run("plan", "-input=false", "-detailed-exitcode", *extra, check=False)

    def outputs(self) -> dict:
        data = json.loads(self.run("output", "-json").stdout)
        return {k: v["value"] for k, v in data.items()}

    def show_plan(self, planfile: str) -> dict:
        return json.loads(self.run("show", "-json", planfile).stdout)

    def planned_actions(self, *extra: str) -> dict[str, list[str]]:
        """address -> actions of a fresh plan, read from `terraform show -json`."""
        self.run("plan", "-input=false", "-out=check.tfplan", *extra)
        plan = self.show_plan("check.tfplan")
        return {rc["address"]: rc["change"]["actions"] for rc in plan.get("resource_changes", [])}

    def hcloud_cli(self, *args: str) -> subprocess.CompletedProcess:
        """The Debian `hcloud` CLI against the same emulator."""
        return subprocess.run(["hcloud", *args], env=self.env, capture_output=True, text=True,
                              timeout=60)


def copy_stack(dest: Path, source: Path = STACK) -> Path:
    """A working copy of a stack: never run terraform in the committed directory."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(
        ".terraform", ".terraform.lock.hcl", "*.tfstate*", "*.tfplan"))
    return dest


def strip_prevent_destroy(stack: Path) -> None:
    main = stack / "main.tf"
    text = main.read_text()
    assert "prevent_destroy = true" in text
    main.write_text(text.replace("prevent_destroy = true", "prevent_destroy = false"))

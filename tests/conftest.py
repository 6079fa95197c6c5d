"""Fixtures shared across the suite."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

# A fixed key so rendered stacks never depend on the machine.
TEST_PUBLIC_KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILgabWgyYOwl5ML0xE+kLrdPGyD8UKpBGnsuY5uCPVi5"
                   " tests@hetzner-deploy")

# A price table for tests only: round numbers that make the arithmetic easy to follow.
TEST_PRICE_TABLE = """
[[rows]]
date = 2026-01-01
currency = "EUR"
source = "test figures"
volume_per_gb_month = 0.05
backup_percent = 20
primary_ipv4_month = 0.50
[rows.server_types]
ccx23 = 20.00
ccx33 = 40.00
ccx43 = 80.00
[rows.load_balancer_types]
lb11 = 6.00
"""

BASE_TOML = """\
[project]
name = "autoscale-ai"
environment = "production"
domain = "app.example.com"

[hetzner]
location = "nbg1"
image = "ubuntu-22.04"

[ssh]
public_key = "id_test.pub"
allow = ["203.0.113.7/32"]

[storage]
volume_size_gb = 50
backups = true

[traffic]
calls_per_month = 3000
current_host = "Railway"
current_host_monthly_eur = 78.00
"""


@pytest.fixture(autouse=True)
def _quiet_terraform(monkeypatch):
    # The machine presets TF_CLI_CONFIG_FILE to a missing file; terraform warns on every run.
    if not os.path.exists(os.environ.get("TF_CLI_CONFIG_FILE", "/nonexistent")):
        monkeypatch.setenv("TF_CLI_CONFIG_FILE", "/dev/null")


@pytest.fixture(autouse=True)
def _host_keys_dir(tmp_path_factory, monkeypatch):
    # Pinned host keys (remote/hostkeys.py) never land in the user's home during tests.
    if "HETZNER_DEPLOY_KEYS_DIR" not in os.environ:
        monkeypatch.setenv("HETZNER_DEPLOY_KEYS_DIR", str(tmp_path_factory.mktemp("hostkeys")))


@pytest.fixture
def fake_clock(monkeypatch):
    """The Hetzner API client's retry clock, replaced for the test: every wait is
    recorded and skipped, so retry and deadline tests never sleep."""
    from checks import hetzner_api
    from tests.checks.preflight_support import FakeClock
    clock = FakeClock()
    monkeypatch.setattr(hetzner_api, "SYSTEM_CLOCK", clock)
    return clock


@pytest.fixture
def make_config(tmp_path):
    """Write a deploy.toml (BASE_TOML, optionally replaced/extended) and its key file."""
    def make(text: str = BASE_TOML, *, key: str | None = TEST_PUBLIC_KEY,
             name: str = "deploy.toml") -> Path:
        if key is not None:
            (tmp_path / "id_test.pub").write_text(key + "\n")
        path = tmp_path / name
        path.write_text(text)
        return path
    return make

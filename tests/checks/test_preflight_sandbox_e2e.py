"""verify around a real sandbox deploy: terraform + stand-in provider + emulator."""
from __future__ import annotations

import json

import pytest


pytestmark = pytest.mark.e2e


def _verify(sb, *args):
    done = sb.cli("verify", "--config", str(sb.config), "--stacks-dir", str(sb.stacks), *args)
    assert sb.token not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done


def test_verify_before_and_after_a_sandbox_deploy(sb):
    before = _verify(sb, "--json", "--profile", "ccx33")
    assert before.returncode == 0, before.stdout + before.stderr
    doc = json.loads(before.stdout)
    assert doc["target"] == "sandbox" and doc["ready"] is True
    assert all(f["count"] == 0 for f in doc["inventory"].values())

    deployed = sb.cli("deploy", "--profile", "ccx33")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "[preflight] done" in deployed.stdout

    # Our own resources now hold every planned name: not conflicts, by state ids.
    again = json.loads(_verify(sb, "--json", "--profile", "ccx33").stdout)
    assert again["ready"] is True and again["conflicts"] == []
    assert again["ownership"] == "terraform state"
    counts = {k: v["count"] for k, v in again["inventory"].items()}
    assert counts == {"servers": 1, "volumes": 1, "firewalls": 1, "ssh_keys": 1, "networks": 0,
                      "placement_groups": 1, "load_balancers": 0, "floating_ips": 0,
                      "certificates": 0}

    # --after reads the outputs and state from the sandbox work dir by itself.
    after = _verify(sb, "--after", "--json")
    assert after.returncode == 0, after.stdout + after.stderr
    status = {c["name"]: c["status"] for c in json.loads(after.stdout)["checks"]}
    for name in ("Server running", "Backups enabled", "Volume attached to the server",
                 "Volume delete-protected", "Volume automount", "Firewall applied to the server",
                 "Placement group holds the server"):
        assert status[name] == "ok", name
    assert status["Containers healthy"] == "not-checked"

    # Someone switches backups off in the console: --after notices, exit 1.
    client = sb.client()
    server = client.servers.get_all()[0]
    client.servers.disable_backup(server)
    broken = _verify(sb, "--after")
    assert broken.returncode == 1
    assert "Backups enabled" in broken.stdout and "Verdict: not ready" in broken.stdout
    assert "1. set storage.backups = true in deploy.toml and deploy" in broken.stdout

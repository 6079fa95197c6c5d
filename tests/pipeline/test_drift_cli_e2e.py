"""`hetzner-deploy drift` as a user runs it on the sandbox: 0 after deploy,
2 with a finding after a hand edit made through the `hcloud` CLI, JSON and
Markdown formats, and the state's serial untouched."""
import json
import os
import subprocess

import pytest

pytestmark = pytest.mark.e2e


def _flags(sb):
    return ("--stacks-dir", str(sb.stacks), "--config", str(sb.config))


def _serial(sb):
    return json.loads((sb.workdir() / "terraform.tfstate").read_text())["serial"]


def test_drift_exit_codes_and_formats(sb, tmp_path):
    done = sb.cli("deploy", "--profile", "ccx33")
    assert done.returncode == 0, done.stdout + done.stderr
    serial = _serial(sb)
    clean = sb.cli("drift", "--env", "production", *_flags(sb))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout == "no drift: the live target matches the state\n"

    env = {**os.environ, "HCLOUD_ENDPOINT": sb.endpoint, "HCLOUD_TOKEN": sb.token,
           "HCLOUD_CONFIG": str(tmp_path / "hcloud-cli.toml")}
    edit = subprocess.run(["hcloud", "server", "add-label", "autoscale-ai-production", "owner=bob"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert edit.returncode == 0, edit.stderr

    found = sb.cli("drift", "--env", "production", "--json", *_flags(sb))
    assert found.returncode == 2, found.stdout + found.stderr
    doc = json.loads(found.stdout)
    assert doc["drift"] is True
    assert doc["findings"] == [{"address": "hcloud_server.main", "kind": "labels",
                                "detail": "+owner=bob"}]
    markdown = sb.cli("drift", "--env", "production", "--markdown", *_flags(sb))
    assert markdown.returncode == 2
    assert "| `hcloud_server.main` | labels | +owner=bob |" in markdown.stdout
    assert sb.token not in found.stdout + found.stderr + markdown.stdout + markdown.stderr
    assert _serial(sb) == serial

    # the same deploy drawn: every state resource named, same bytes twice
    out = tmp_path / "topology.svg"
    drawn = sb.cli("diagram", "--env", "production", "--out", str(out), *_flags(sb))
    assert drawn.returncode == 0, drawn.stdout + drawn.stderr
    state = json.loads((sb.workdir() / "terraform.tfstate").read_text())
    svg = out.read_text()
    for res in state["resources"]:
        assert f"{res['type']}.{res['name']}" in svg
    assert sb.cli("diagram", "--env", "production", "--out", str(out), *_flags(sb)).returncode == 0
    assert out.read_text() == svg

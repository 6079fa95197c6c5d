import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.checkpoint import Checkpoint, key_of
from pipeline.destroy import (OVERRIDE_FILE, delete_protected, override_text, protected_resources,
                              refusal)
from runner.tfstate import parse_state

REPO = Path(__file__).resolve().parents[2]


def test_checkpoint_round_trip_and_forget(tmp_path):
    path = tmp_path / "cp.json"
    cp = Checkpoint(path)
    k = key_of("infra", "abc", 3)
    assert cp.done("infra", k) is None
    cp.record("infra", k, {"n": 1})
    again = Checkpoint(path)
    assert again.done("infra", k) == {"n": 1}
    assert again.done("infra", key_of("infra", "abc", 4)) is None   # inputs changed
    again.forget("infra")
    assert Checkpoint(path).done("infra", k) is None
    path.write_text("{not json")
    assert Checkpoint(path).done("infra", k) is None                 # corrupt = start over


def test_committed_stack_protects_its_volume():
    assert ("hcloud_volume", "data") in protected_resources(REPO / "terraform" / "stacks" / "production")


def test_override_lifts_only_named_resources(tmp_path):
    text = override_text([("hcloud_volume", "data")])
    assert 'resource "hcloud_volume" "data"' in text and "prevent_destroy = false" in text
    (tmp_path / "main.tf").write_text(
        'resource "hcloud_volume" "data" {\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n')
    (tmp_path / "zz_destroy_volume_override.tf").write_text(text)
    assert protected_resources(tmp_path) == [("hcloud_volume", "data")]  # overrides ignored


def test_refusal_names_the_exact_command():
    assert refusal("staging", ["hcloud_volume.data"]).endswith(
        "run: hetzner-deploy destroy --env staging --confirm staging --destroy-volume")


def test_override_lifts_delete_protection_too_and_parses():
    import hcl2  # an independent HCL parser, not our code
    text = override_text([("hcloud_volume", "data")],
                         unprotect=[("hcloud_volume", "data"), ("hcloud_server", "db")])
    doc = hcl2.loads(text)
    bodies = {(t, n): body for block in doc["resource"] for t, named in block.items()
              for n, body in named.items()}
    assert bodies[("hcloud_volume", "data")]["delete_protection"] is False
    assert bodies[("hcloud_server", "db")]["rebuild_protection"] is False  # flags go together
    assert all(b["lifecycle"][0]["prevent_destroy"] is False for b in bodies.values())


def test_delete_protection_is_read_from_the_state():
    state = {"resources": [
        {"mode": "managed", "type": "hcloud_volume", "name": "data",
         "instances": [{"attributes": {"delete_protection": True}}]},
        {"mode": "managed", "type": "hcloud_server", "name": "main",
         "instances": [{"attributes": {"delete_protection": False}}]},
        {"mode": "data", "type": "hcloud_volume", "name": "seen",
         "instances": [{"attributes": {"delete_protection": True}}]}]}
    assert delete_protected(parse_state(state)) == [("hcloud_volume", "data")]


def test_a_stale_override_is_removed_when_the_next_run_takes_the_lock(tmp_path):
    """Only while holding the work-dir lock: never under a destroy that is still running."""
    from runner.worklock import workdir_lock
    stale = tmp_path / OVERRIDE_FILE  # what a kill -9 mid-destroy leaves
    stale.write_text(override_text([("terraform_data", "x")]))
    with workdir_lock(tmp_path, "plan"):
        assert not stale.exists()
        stale.write_text("# a running destroy's own override")
        with workdir_lock(tmp_path, "plan"):          # re-entered: it is ours, kept
            assert stale.exists()


@pytest.mark.e2e
def test_kill_9_mid_destroy_leaves_no_override_that_outlives_it(sb, tmp_path):
    deployed = sb.cli("deploy", "--profile", "ccx33")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    # A terraform that hangs in `plan`, so the kill lands while the override
    # exists (no race): every other subcommand is the real terraform.
    pidfile = tmp_path / "hung-plan.pid"
    wrapper = tmp_path / "terraform-hangs-in-plan"
    wrapper.write_text("#!/bin/sh\n"
                       f'if [ "$1" = plan ]; then echo $$ > "{pidfile}"; exec sleep 300; fi\n'
                       f'exec "{shutil.which("terraform")}" "$@"\n')
    wrapper.chmod(0o755)
    argv = [sys.executable, "-m", "cli", "destroy", "--confirm", "production",
            "--destroy-volume", "--stacks-dir", str(sb.stacks), "--config", str(sb.config)]
    cli = subprocess.Popen(argv, cwd=REPO, env={**sb.env(), "TERRAFORM_BIN": str(wrapper)},
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    hung = None
    try:
        for _ in range(1200):  # bounded wait for the plan to start (not a timing assert)
            if pidfile.is_file() and pidfile.read_text().strip():
                hung = int(pidfile.read_text())
                break
            if cli.poll() is not None:
                break
            time.sleep(0.1)
        assert hung is not None, f"destroy never reached plan (exit {cli.poll()})"
        override = sb.workdir() / OVERRIDE_FILE
        assert "prevent_destroy = false" in override.read_text()
        cli.send_signal(signal.SIGKILL)
        cli.wait(timeout=30)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait(timeout=30)
        if hung is not None:
            os.kill(hung, signal.SIGKILL)  # the hung "terraform" we started, by its PID
    assert override.exists()  # kill -9 runs no finally: this is what the next run must fix

    planned = sb.cli("plan", "--json")
    assert planned.returncode == 0, planned.stderr
    assert not override.exists()
    assert not (sb.stacks / "production" / OVERRIDE_FILE).exists()
    assert json.loads(planned.stdout)["has_changes"] is False
    # prevent_destroy is in force again: a plain destroy is refused, nothing goes.
    refused = sb.cli("destroy", "--confirm", "production")
    assert refused.returncode == 7 and "--destroy-volume" in refused.stderr
    client = sb.client()
    assert len(client.servers.get_all()) == 1 and len(client.volumes.get_all()) == 1
    # And the real way out works: protection applied off, then destroyed.
    done = sb.cli("destroy", "--confirm", "production", "--destroy-volume")
    assert done.returncode == 0, done.stdout + done.stderr
    assert client.servers.get_all() == [] and client.volumes.get_all() == []
    assert not override.exists()

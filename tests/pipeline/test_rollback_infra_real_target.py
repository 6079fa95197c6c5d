"""`rollback infra` on the real-target path (TARGET=hetzner: terraform runs in the
committed stack folder itself), with a terraform_data stack (real terraform and git, no
provider, no network): without a 'yes' nothing is applied and the folder is byte for
byte as it was; with --auto-approve the state goes back and the folder holds the commit's
files as an uncommitted change, so a later plan is empty."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.runner.conftest import SECRET, write_full_stack

REPO = Path(__file__).resolve().parents[2]
ENV = "production"   # the environment of the test deploy.toml


def _git(repo, *args) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com",
                           "-c", "commit.gpgsign=false", *args], cwd=repo, check=True,
                          capture_output=True, text=True).stdout.rstrip("\n")


def _cli(env, *argv):
    return subprocess.run([sys.executable, "-m", "cli", *argv], cwd=REPO, env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=180)


def _ok(done):
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _state(folder: Path) -> dict:
    return json.loads((folder / "terraform.tfstate").read_text())


def _size(folder: Path) -> str:
    (server,) = [r for r in _state(folder)["resources"] if r["name"] == "server"]
    return server["instances"][0]["attributes"]["output"]["value"]


def test_rollback_infra_on_the_real_target_path(tmp_path, make_config):
    repo = tmp_path / "repo"
    stack = repo / "stacks" / ENV
    config = make_config()
    env = dict(os.environ, TARGET="hetzner", HCLOUD_TOKEN=SECRET,
               HCLOUD_ENDPOINT="http://127.0.0.1:9/v1", GIT_CEILING_DIRECTORIES=str(tmp_path))
    env.pop("HETZNER_DEPLOY_SANDBOX", None)
    env.pop("TF_CLI_CONFIG_FILE", None)
    where = ("--stacks-dir", str(repo / "stacks"), "--config", str(config))
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / ".gitignore").write_text(".terraform/\n*.tfstate\n*.tfstate.*\n.work/\n"
                                     ".terraform.lock.hcl\n")
    shas = {}
    for size in ("small", "large"):
        write_full_stack(stack, size=size)
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", size)
        shas[size] = _git(repo, "rev-parse", "HEAD")
        _ok(_cli(env, "plan", *where))
        _ok(_cli(env, "apply", "--auto-approve", *where))
        assert _size(stack) == size

    # No terminal and no --auto-approve on the real target: refused, nothing applied,
    # the stack folder byte for byte as it was (sync_copy had written the old stack there).
    files, serial = _files(stack), _state(stack)["serial"]
    refused = _cli(env, "rollback", "infra", *where)
    assert refused.returncode == 7, refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no terminal to confirm" in errors[0], refused.stderr
    assert f"rollback infra: stack {ENV} {shas['large'][:7]} -> {shas['small'][:7]}" \
        in refused.stdout
    assert _files(stack) == files and _state(stack)["serial"] == serial
    assert _size(stack) == "large"
    assert _git(repo, "status", "--porcelain") == ""

    done = _ok(_cli(env, "rollback", "infra", "--auto-approve", *where))
    assert f"rolled back: 1 resource(s) to the stack of {shas['small'][:7]}" in done.stdout
    assert _size(stack) == "small"
    assert _git(repo, "diff", "--stat", shas["small"], "--", "stacks") == ""
    assert _git(repo, "status", "--porcelain") == f" M stacks/{ENV}/terraform.tfvars"
    assert f"note: stacks/{ENV} now holds the stack of {shas['small'][:7]}" in done.stdout
    assert json.loads(_ok(_cli(env, "plan", "--json", *where)).stdout)["has_changes"] is False

    # Again (the uncommitted folder already is that commit's, so it is not refused):
    # the infrastructure already matches; the folder is still the uncommitted change.
    again = _ok(_cli(env, "rollback", "infra", "--to", shas["small"][:10], *where))
    assert f"nothing to roll back: the infrastructure already matches {shas['small'][:7]}" \
        in again.stdout
    assert f"note: stacks/{ENV} now holds the stack of {shas['small'][:7]} as an uncommitted " \
           f"change (terraform.tfvars)" in again.stdout
    assert _git(repo, "status", "--porcelain") == f" M stacks/{ENV}/terraform.tfvars"


# --- the library on the sandbox path (a work copy), with the shared terraform_data session ---

def _interrupt(summary):
    raise KeyboardInterrupt


def test_a_declined_or_interrupted_confirmation_leaves_everything_as_it_was(
        tmp_path, session, stacks_dir, monkeypatch):
    import pytest

    from errors import RefusedError
    from pipeline.rollback_infra import rollback_infra
    from pipeline.stack import apply_saved, make_plan
    from tests.runner.conftest import write_stack
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    _git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / ".gitignore").write_text("sandbox/\n")   # the sandbox work copy lives there
    _git(tmp_path, "add", "stacks", ".gitignore")
    _git(tmp_path, "commit", "-q", "-m", "small")
    write_stack(session.ws.stack_dir, size="large")
    _git(tmp_path, "commit", "-qam", "large")
    make_plan(session)
    apply_saved(session)
    work = session.ws.workdir
    before = (_files(work), _files(session.ws.stack_dir), _state(work)["serial"])
    assert _size(work) == "large"

    plans = []
    for approve, raised in ((lambda summary: False, RefusedError), (_interrupt, KeyboardInterrupt)):
        with pytest.raises(raised):
            rollback_infra(session, None, None, on_plan=plans.append, approve=approve)
        # The plan was made from the older stack, then everything went back.
        assert plans[-1].plan.summary.has_changes
        assert (_files(work), _files(session.ws.stack_dir), _state(work)["serial"]) == before
        assert _git(tmp_path, "status", "--porcelain") == ""

    done = rollback_infra(session, None, None, on_plan=plans.append, approve=lambda s: True)
    assert done.applied is not None and _size(work) == "small"
    assert done.uncommitted == ("terraform.tfvars",)
    assert _git(tmp_path, "status", "--porcelain") == " M stacks/test/terraform.tfvars"

"""`rollback infra` on the sandbox (emulator + stand-in provider, real terraform, real git):
a stack committed at ccx33, then at ccx43 after a switch, goes back to ccx33 in place
(the same server and volume, read with the hcloud client), the stack folder then holds
the ccx33 files so a later plan is empty; an older commit whose stack would replace the
volume is refused by the data-loss rule and changes nothing."""
from __future__ import annotations

import json
import re
import subprocess

import pytest

pytestmark = pytest.mark.e2e

STACK = "stacks/production"


def _ok(done):
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def _git(repo, *args) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com",
                           "-c", "commit.gpgsign=false", *args], cwd=repo, check=True,
                          capture_output=True, text=True).stdout.rstrip("\n")


def _commit(repo, message: str) -> str:
    _git(repo, "add", "-A", "stacks", "deploy.toml")
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


def _ids(sb):
    out = json.loads(_ok(sb.cli("outputs", "--json")).stdout)
    (host,) = out["hosts"]
    return int(host["id"]), int(out["volume_id"])


def _volume_elsewhere(main_tf: str) -> str:
    """The volume block with another location and no prevent_destroy: a stack someone
    edited by hand, which replaces the volume (location forces a new one)."""
    start = main_tf.index('resource "hcloud_volume" "data" {')
    end = main_tf.index("\n}\n", start)
    block = main_tf[start:end]
    edited = re.sub(r"location(\s*)= var\.location", r'location\1= "hel1"', block)
    edited = edited.replace("prevent_destroy = true", "prevent_destroy = false")
    assert edited != block and '"hel1"' in edited and "prevent_destroy = false" in edited
    return main_tf[:start] + edited + main_tf[end:]


def _rollback(sb, *args):
    return sb.cli("rollback", "infra", *args, "--stacks-dir", str(sb.stacks),
                  "--config", str(sb.config), timeout=300)


def _serial(sb) -> int:
    return json.loads((sb.workdir() / "terraform.tfstate").read_text())["serial"]


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_rollback_infra_goes_back_to_the_committed_ccx33_stack_in_place(sb):
    repo = sb.stacks.parent
    assert sb.config.parent == repo
    _git(repo, "init", "-q", "-b", "main")
    (repo / ".gitignore").write_text("sandbox/\n.work/\n")   # as the project ignores it
    _git(repo, "add", ".gitignore", "id_test.pub")

    # An old, hand-edited stack that would move the volume: never deployed, only committed.
    _ok(sb.cli("generate", "--profile", "ccx33"))
    main_tf = sb.stacks / "production" / "main.tf"
    generated = main_tf.read_text()
    main_tf.write_text(_volume_elsewhere(generated))
    lossy = _commit(repo, "production: volume in hel1 (hand edit)")
    main_tf.write_text(generated)

    _ok(sb.cli("deploy", "--profile", "ccx33", timeout=300))
    at_ccx33 = _commit(repo, "production at ccx33")
    server_id, volume_id = _ids(sb)
    client = sb.client()
    assert client.servers.get_by_id(server_id).server_type.name == "ccx33"

    _ok(sb.cli("switch", "--to", "ccx43", "--auto-approve", "--stacks-dir", str(sb.stacks),
               "--config", str(sb.config), timeout=300))
    at_ccx43 = _commit(repo, "production at ccx43")
    assert client.servers.get_by_id(server_id).server_type.name == "ccx43"

    # The listing names both commits of the stack.
    listing = _ok(sb.cli("rollback", "--stacks-dir", str(sb.stacks), "--config", str(sb.config)))
    assert (f"infra: stack production at {at_ccx43[:7]} -> {at_ccx33[:7]} "
            f"(`hetzner-deploy rollback infra`)") in listing.stdout

    done = _ok(_rollback(sb, "--auto-approve"))
    out = done.stdout
    assert f"rollback infra: stack production {at_ccx43[:7]} -> {at_ccx33[:7]}" in out
    assert "~ hcloud_server.main: update in place" in out
    assert "Plan: 0 to create, 1 to update in place, 0 to replace, 0 to delete." in out
    assert f"rolled back: 1 resource(s) to the stack of {at_ccx33[:7]}" in out
    assert f"note: {STACK} now holds the stack of {at_ccx33[:7]} as an uncommitted change" in out

    # The second client: the same server, rescaled back; the same volume, still attached.
    server = client.servers.get_by_id(server_id)
    assert server.server_type.name == "ccx33" and server.status == "running"
    assert [s.id for s in client.servers.get_all()] == [server_id]
    assert [v.id for v in client.volumes.get_all()] == [volume_id]
    assert client.volumes.get_by_id(volume_id).server.id == server_id

    # The user's stack folder is the ccx33 commit's, uncommitted; HEAD did not move.
    assert _git(repo, "rev-parse", "HEAD") == at_ccx43
    assert _git(repo, "diff", "--stat", at_ccx33, "--", STACK) == ""
    changed = _git(repo, "status", "--porcelain", "--", STACK).splitlines()
    # Modified in place (every header names its generate command, so all differ), none staged.
    assert changed and all(line.startswith(" M ") for line in changed), changed
    assert {f" M {STACK}/manifest.json", f" M {STACK}/terraform.tfvars"} <= set(changed)
    assert json.loads((sb.stacks / "production" / "manifest.json").read_text())["profile"] \
        == "ccx33"
    assert json.loads(_ok(sb.cli("plan", "--json")).stdout)["has_changes"] is False
    back = _commit(repo, "roll production back to ccx33")

    # The hand-edited commit replaces the volume: the data-loss rule, nothing changes.
    serial, work = _serial(sb), _files(sb.workdir())
    refused = _rollback(sb, "--to", lossy[:10], "--auto-approve")
    assert refused.returncode == 7, refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, refused.stderr
    assert "refusing a plan that can lose the data: hcloud_volume.data would be replaced" \
        in errors[0] and "--accept-data-loss" in errors[0]
    assert [v.id for v in client.volumes.get_all()] == [volume_id]
    assert [s.id for s in client.servers.get_all()] == [server_id]
    assert _serial(sb) == serial and _files(sb.workdir()) == work
    assert _git(repo, "status", "--porcelain") == ""
    assert _git(repo, "rev-parse", "HEAD") == back
    assert json.loads(_ok(sb.cli("plan", "--json")).stdout)["has_changes"] is False


def test_rollback_infra_refuses_uncommitted_stack_edits_and_hostile_refs(sb):
    repo = sb.stacks.parent
    _git(repo, "init", "-q", "-b", "main")
    (repo / ".gitignore").write_text("sandbox/\n.work/\n")   # as the project ignores it
    for profile in ("ccx33", "ccx43"):
        _ok(sb.cli("generate", "--profile", profile))
        _commit(repo, profile)
    tfvars = sb.stacks / "production" / "terraform.tfvars"
    tfvars.write_text(tfvars.read_text() + "# my edit\n")
    before = _files(sb.stacks / "production")
    for args, code, says in (
            ((), 7, "has uncommitted changes (terraform.tfvars): commit or stash them first"),
            (("--to", "x;rm -rf /"), 2, "is not a git ref"),
            (("--to", "deadbeef" * 5), 2, "no such commit")):
        done = _rollback(sb, *args)
        assert done.returncode == code, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        assert done.stderr.count("\n") == 1 and says in done.stderr, done.stderr
        assert _files(sb.stacks / "production") == before
        assert not sb.workdir().exists()   # refused before terraform ran

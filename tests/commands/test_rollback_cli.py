"""`rollback` without an argument: what can be rolled back now, read from the real state files."""
from __future__ import annotations

import json

import pytest

from click.testing import CliRunner

from cli import cli


def _run(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(autouse=True)
def _stop_sandbox(tmp_path):
    """`rollback` resolves the target (the dns line), which starts the sandbox in
    tmp_path/sandbox: stop it, or its emulator outlives the test."""
    yield
    from sandbox import manager
    manager.down(tmp_path / "sandbox")


def test_rollback_lists_the_dns_cut_over_from_the_migration_progress(make_config, tmp_path,
                                                                     monkeypatch, request):
    from sandbox import manager
    monkeypatch.setenv("HETZNER_DEPLOY_SANDBOX_DIR", str(tmp_path / "sandbox"))
    # `rollback` resolves the target, which starts the sandbox: stop it, or it outlives the test.
    request.addfinalizer(lambda: manager.down(tmp_path / "sandbox"))
    monkeypatch.delenv("HCLOUD_TOKEN", raising=False)
    config, stacks = make_config(), tmp_path / "stacks"
    assert _run("generate", "--profile", "ccx33", "--config", str(config),
                "--stacks-dir", str(stacks)).exit_code == 0
    where = ["--config", str(config), "--stacks-dir", str(stacks)]

    before = _run("rollback", *where)
    assert before.exit_code == 0, before.output
    assert "app:   nothing to roll back (no [app] in deploy.toml)" in before.stdout
    assert "dns:   nothing to roll back (no migration cut-over)" in before.stdout
    assert "infra: nothing to roll back (" in before.stdout

    # The progress file `migrate cutover` leaves, where `migrate` keeps it.
    from commands.dns import _workdir
    from generator.config import load_config
    from pipeline.target import resolve_target
    folder = _workdir(resolve_target(), load_config(config), stacks) / ".work" / "migration"
    folder.mkdir(parents=True)
    progress = {"zone": "example.com", "ttl_lowered_at": "2026-11-27T10:00:00+00:00",
                "old_ttl": 1800, "cutover_at": "2026-11-27T12:00:00+00:00",
                "rollback_zone": "example.com-20261127T120000Z.json", "rolled_back_at": None,
                "history": []}
    (folder / "migration.json").write_text(json.dumps(progress))
    cut = _run("rollback", *where)
    assert "dns:   the records from before the cut-over at 2026-11-27T12:00:00+00:00 " \
           "(`hetzner-deploy rollback dns`)" in cut.stdout

    progress["rolled_back_at"] = "2026-11-28T09:00:00+00:00"
    (folder / "migration.json").write_text(json.dumps(progress))
    assert "dns:   already rolled back at 2026-11-28T09:00:00+00:00" in _run("rollback", *where).stdout


def test_rollback_of_something_else_is_one_line(make_config):
    done = _run("rollback", "servers", "--config", str(make_config()))
    assert done.exit_code == 2 and done.output.count("\n") == 1


# --- rollback infra: the git side, before any sandbox or terraform -------------------------

def _git(repo, *args):
    import subprocess
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com",
                           "-c", "commit.gpgsign=false", *args], cwd=repo, check=True,
                          capture_output=True, text=True).stdout.strip()


def _repo_with_two_stacks(make_config, tmp_path, monkeypatch):
    """A git repo whose stacks folder was committed at ccx33, then at ccx43."""
    monkeypatch.setenv("HETZNER_DEPLOY_SANDBOX_DIR", str(tmp_path / "sandbox"))
    monkeypatch.delenv("HCLOUD_TOKEN", raising=False)
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    config, stacks = make_config(), repo / "stacks"
    where = ["--config", str(config), "--stacks-dir", str(stacks)]
    shas = []
    for profile in ("ccx33", "ccx43"):
        assert _run("generate", "--profile", profile, *where).exit_code == 0
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", profile)
        shas.append(_git(repo, "rev-parse", "HEAD"))
    return repo, where, shas


def test_rollback_lists_the_infra_commits_of_the_stack(make_config, tmp_path, monkeypatch):
    repo, where, (first, second) = _repo_with_two_stacks(make_config, tmp_path, monkeypatch)
    # A later commit that does not touch the stack folder does not count.
    (repo / "notes.txt").write_text("unrelated\n")
    _git(repo, "add", "notes.txt")
    _git(repo, "commit", "-q", "-m", "notes")
    done = _run("rollback", *where)
    assert done.exit_code == 0, done.output
    assert (f"infra: stack production at {second[:7]} -> {first[:7]} "
            f"(`hetzner-deploy rollback infra`)\n") in done.stdout
    # An edited (or rolled back, not yet committed) stack folder is said to be one.
    tfvars = repo / "stacks" / "production" / "terraform.tfvars"
    tfvars.write_text(tfvars.read_text() + "# edit\n")
    dirty = _run("rollback", *where)
    assert (f"infra: stack production at {second[:7]} -> {first[:7]} "
            f"(`hetzner-deploy rollback infra`); the stack folder has uncommitted changes "
            f"(terraform.tfvars)\n") in dirty.stdout
    refused = _run("rollback", "infra", *where)
    assert refused.exit_code == 7 and refused.output.count("\n") == 1, refused.output
    assert "has uncommitted changes (terraform.tfvars): commit or stash them first" \
        in refused.output


def test_rollback_says_why_infra_cannot_go_back(make_config, tmp_path, monkeypatch):
    monkeypatch.setenv("HETZNER_DEPLOY_SANDBOX_DIR", str(tmp_path / "sandbox"))
    config, stacks = make_config(), tmp_path / "plain" / "stacks"
    where = ["--config", str(config), "--stacks-dir", str(stacks)]
    assert _run("generate", "--profile", "ccx33", *where).exit_code == 0
    import os
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))   # no repo above tmp_path
    out = _run("rollback", *where).stdout
    assert "infra: nothing to roll back (the stack folder " in out
    assert "is not in a git repository" in out
    infra = _run("rollback", "infra", *where)
    assert infra.exit_code == 2 and infra.output.count("\n") == 1, infra.output
    assert "not in a git repository" in infra.output

    _git(tmp_path / "plain", "init", "-q")
    _git(tmp_path / "plain", "add", "-A")
    _git(tmp_path / "plain", "commit", "-q", "-m", "only one")
    assert "infra: nothing to roll back (no earlier commit of the stack stacks/production)" \
        in _run("rollback", *where).stdout
    once = _run("rollback", "infra", *where)
    assert once.exit_code == 2 and "no earlier commit of the stack" in once.output


@pytest.mark.parametrize("ref, says", [
    ("x;rm -rf /", "is not a git ref"),
    ("--output=/tmp/x", "is not a git ref"),
    ("HEAD..main", "is not a git ref"),
    ("main@{1}", "is not a git ref"),
    ("HEAD:stacks", "is not a git ref"),
    ("$(id)", "is not a git ref"),
    ("a" * 101, "is not a git ref"),
    ("0123456789abcdef0123456789abcdef01234567", "no such commit"),
    ("no-such-branch", "no such commit"),
])
def test_rollback_infra_refuses_bad_refs_in_one_line(make_config, tmp_path, monkeypatch, ref,
                                                     says):
    repo, where, _ = _repo_with_two_stacks(make_config, tmp_path, monkeypatch)
    before = _git(repo, "status", "--porcelain")
    done = _run("rollback", "infra", "--to", ref, *where)
    assert done.exit_code == 2, done.output
    assert done.output.count("\n") == 1 and says in done.output, done.output
    assert _git(repo, "status", "--porcelain") == before
    assert not (tmp_path / "sandbox").exists()   # refused before any sandbox started


def test_rollback_infra_refuses_a_commit_without_the_stack(make_config, tmp_path, monkeypatch):
    repo, where, _ = _repo_with_two_stacks(make_config, tmp_path, monkeypatch)
    _git(repo, "checkout", "-q", "--orphan", "empty")
    _git(repo, "rm", "-rq", "--cached", ".")
    (repo / "README").write_text("no stack here\n")
    _git(repo, "add", "README")
    _git(repo, "commit", "-q", "-m", "no stack")
    _git(repo, "checkout", "-q", "-f", "main")
    done = _run("rollback", "infra", "--to", "empty", *where)
    assert done.exit_code == 2 and done.output.count("\n") == 1, done.output
    assert "has no stack in stacks/production (no main.tf there)" in done.output

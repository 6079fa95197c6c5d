"""`rollback` without an argument: what can be rolled back now, read from the real state files."""
from __future__ import annotations

import json

from click.testing import CliRunner

from cli import cli


def _run(*args):
    return CliRunner().invoke(cli, list(args))


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
    assert "infra: not a one-word rollback" in before.stdout

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
    done = _run("rollback", "infra", "--config", str(make_config()))
    assert done.exit_code == 2 and done.output.count("\n") == 1

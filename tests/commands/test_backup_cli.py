"""`backup` and `restore`: bad input is one line and a non-zero exit, before any connection."""
from __future__ import annotations

from click.testing import CliRunner

from cli import cli
from tests.conftest import BASE_TOML

WITH_BACKUP = BASE_TOML + '\n[app]\ncompose = "c.yaml"\nenv_file = ".env"\n\n[backup]\n'


def _run(*args):
    return CliRunner().invoke(cli, list(args))


def test_restore_refuses_a_name_that_is_not_a_backup(make_config):
    config = make_config(WITH_BACKUP)
    for bad in ("../../etc", "latest", "20261128T031500Z\n", "-rf"):
        done = _run("restore", "--from", bad, "--config", str(config))
        assert done.exit_code == 2, done.output
        assert done.output.count("\n") == 1 and "is not a backup name" in done.output


def test_without_a_backup_section_every_command_says_so(make_config):
    config = make_config()
    for args in (["backup", "now"], ["backup", "list"], ["backup", "status"],
                 ["restore", "--from", "20261128T031500Z"]):
        done = _run(*args, "--config", str(config))
        assert done.exit_code == 2 and "no [backup] section" in done.output, done.output


def test_restore_target_is_scratch_or_live(make_config):
    done = _run("restore", "--from", "20261128T031500Z", "--target", "prod",
                "--config", str(make_config(WITH_BACKUP)))
    assert done.exit_code == 2 and "'prod' is not one of 'scratch', 'live'" in done.output

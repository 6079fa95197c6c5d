"""Corrupt records, another project's token, a lost state: one line or a safe fallback."""
import stat

import pytest

from errors import RefusedError
from pipeline.checkpoint import Checkpoint, key_of
from pipeline.deploy import DeployOptions
from runner.tfstate import StateError
from tests.pipeline.conftest import run_pipeline
from pipeline.target import Target
from tests.runner.conftest import SECRET, write_full_stack

ENV = "production"


@pytest.fixture
def setup(data_pipeline, tmp_path):
    config, options, _ = data_pipeline
    return config, options, tmp_path / "sb" / "work" / ENV


def _target(token=SECRET):
    return Target("sandbox", "http://127.0.0.1:9", token, {"TF_VAR_hcloud_token": token})


def _run(config, options, token=SECRET):
    return run_pipeline(config, options, token=token)


def test_another_projects_token_on_the_same_endpoint_does_not_trust_the_checkpoint(setup):
    config, options, workdir = setup
    _run(config, options)
    _, phases, _ = _run(config, options)
    assert phases["infra"] == "skipped"                       # same project: trusted
    _, phases, progress = _run(config, options, token="another-project-token-0000")
    assert phases["infra"] == "done"                          # not "deployed" on trust
    assert any("another project or token" in n for n in progress.notes)
    text = (workdir / ".work" / "checkpoint.json").read_text()
    assert "another-project-token-0000" not in text and SECRET not in text


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2]", '{"infra": 5}', "\0\0\0"])
def test_corrupt_checkpoint_is_ignored_with_a_note(setup, content):
    config, options, workdir = setup
    _run(config, options)
    (workdir / ".work" / "checkpoint.json").write_text(content)
    result, phases, progress = _run(config, options)
    assert phases["infra"] == "done" and not result.applied   # re-planned: nothing to do
    assert any("checkpoint.json" in n and "ignored" in n for n in progress.notes)


@pytest.mark.parametrize("content", ["", "{", "[]", "null"])
def test_corrupt_init_record_reruns_init(setup, content):
    config, options, workdir = setup
    _run(config, options)
    (workdir / ".work" / "init.json").write_text(content)
    result, phases, _ = _run(config, DeployOptions(**{**options.__dict__, "fresh": True}))
    plan_line = next(l for l in result.lines if l.phase == "infra")
    assert plan_line.status == "done" and "init (init record unreadable" in plan_line.detail


@pytest.mark.parametrize("content", ["{not json", '{"version": 4, "resources": "x"}',
                                     '{"version": 3}', "\xff\xfe"])
def test_corrupt_state_is_one_line_naming_the_backups(setup, content):
    config, options, workdir = setup
    _run(config, options)
    (workdir / "terraform.tfstate").write_text(content, encoding="latin-1")
    with pytest.raises(StateError) as info:
        _run(config, DeployOptions(**{**options.__dict__, "fresh": True}))
    message = str(info.value)
    assert "\n" not in message and "terraform.tfstate" in message
    assert isinstance(info.value, RefusedError)


def test_wiped_state_with_backups_points_to_them_and_is_not_applied(setup):
    config, options, workdir = setup
    _run(config, options)
    # A second apply makes a backup holding both resources.
    write_full_stack(options.stacks_dir / ENV, size="large")
    _run(config, options)
    (workdir / "terraform.tfstate").write_text("")           # lost
    with pytest.raises(RefusedError) as info:
        _run(config, DeployOptions(**{**options.__dict__, "fresh": True}))
    assert ".work/state-backups/" in str(info.value) and "restore it" in str(info.value)
    assert (workdir / "terraform.tfstate").read_text() == ""  # nothing was applied


def test_state_emptied_by_destroy_is_not_mistaken_for_a_lost_one(setup):
    from pipeline.stack import apply_saved, make_plan, open_session
    config, options, workdir = setup
    _run(config, options)
    write_full_stack(options.stacks_dir / ENV, size="large")
    _run(config, options)
    s = open_session(_target(), ENV, stacks_dir=options.stacks_dir,
                     sandbox_dir=options.sandbox_dir)
    assert make_plan(s, destroy=True).summary.has_changes
    apply_saved(s, allow_replace=True)
    result, phases, _ = _run(config, DeployOptions(**{**options.__dict__, "fresh": True}))
    assert result.applied                                    # recreated, no refusal


def test_everything_we_write_is_owner_only(setup):
    config, options, workdir = setup
    _run(config, options)
    write_full_stack(options.stacks_dir / ENV, size="large")
    _run(config, options)
    data = workdir / ".work"
    for folder in (workdir, data, data / "logs", data / "state-backups"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    files = [p for p in workdir.rglob("*") if p.is_file() and ".terraform" not in p.parts]
    assert any(p.name.startswith("terraform.tfstate.") for p in files)
    for path in files:
        if path.suffix in (".tf", ".tfvars", ".yaml"):
            continue                                         # the stack's own text
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert not (data / "plan.tfplan").exists()               # applied plans are deleted


def test_no_change_plan_keeps_no_plan_file_and_apply_is_still_exit_0(setup):
    from pipeline.stack import apply_saved, make_plan, open_session
    config, options, workdir = setup
    _run(config, options)
    s = open_session(_target(), ENV, stacks_dir=options.stacks_dir,
                     sandbox_dir=options.sandbox_dir)
    assert not make_plan(s).summary.has_changes
    assert not s.ws.planfile.exists()
    done = apply_saved(s)
    assert done.completed == () and not done.interrupted


def test_failed_plan_leaves_no_plan_file(setup):
    from errors import TerraformError
    from pipeline.stack import make_plan, open_session
    config, options, workdir = setup
    _run(config, options)
    (options.stacks_dir / ENV / "broken.tf").write_text('resource "terraform_data" "x" {\n'
                                                         '  input = var.nope\n}\n')
    s = open_session(_target(), ENV, stacks_dir=options.stacks_dir,
                     sandbox_dir=options.sandbox_dir)
    with pytest.raises(TerraformError):
        make_plan(s)
    assert not s.ws.planfile.exists()


def test_checkpoint_write_is_atomic_and_private(tmp_path):
    path = tmp_path / ".work" / "checkpoint.json"
    cp = Checkpoint(path, scope="abc")
    cp.record("infra", key_of(1))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert Checkpoint(path, scope="abc").done("infra", key_of(1)) == {}
    assert Checkpoint(path, scope="other").done("infra", key_of(1)) is None
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.json"]   # no tmp left

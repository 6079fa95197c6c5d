"""plan/apply/outputs on a real terraform working copy (terraform_data stack).

Tests that run terraform init/plan/apply are marked e2e (several terraform
processes each); the checks that stop before terraform runs stay quick."""
import json

import pytest

from errors import RefusedError, TerraformError
from pipeline.progress import RecordingProgress
from pipeline.stack import apply_saved, make_plan, saved_plan
from runner.state import load_plan_record
from tests.pipeline.conftest import ENV
from tests.runner.conftest import SECRET, write_stack


@pytest.mark.e2e
def test_sandbox_runs_on_a_copy_and_never_writes_the_stack(session, stacks_dir, sandbox_dir):
    result = make_plan(session)
    ws = session.ws
    assert ws.workdir == sandbox_dir / "work" / ENV and ws.stack_dir == stacks_dir / ENV
    assert set(result.synced) == {"main.tf", "terraform.tfvars"}
    apply_saved(session)
    assert (ws.workdir / "terraform.tfstate").is_file()
    assert sorted(p.name for p in ws.stack_dir.iterdir()) == ["main.tf", "terraform.tfvars"]


@pytest.mark.e2e
def test_init_only_when_needed(session):
    first = make_plan(session)
    assert first.init.ran and first.init.reason == "first run in this directory"
    second = make_plan(session)
    assert not second.init.ran
    lock = session.ws.workdir / ".terraform.lock.hcl"
    lock.write_text("# changed by hand\n")
    third = make_plan(session)
    assert third.init.ran and third.init.reason == ".terraform.lock.hcl changed"
    (session.ws.stack_dir / "versions.tf").write_text('terraform {\n  required_version = ">= 1.5"\n}\n')
    fourth = make_plan(session)
    assert fourth.init.ran and fourth.init.reason == "backend or provider requirements changed"


@pytest.mark.e2e
def test_apply_streams_events_writes_redacted_log_and_backs_up(session):
    make_plan(session)
    progress = RecordingProgress()
    first = apply_saved(session, progress=progress)
    assert set(first.completed) == {"terraform_data.server", "terraform_data.volume"}
    assert first.backup is None  # nothing to back up before the first apply
    assert [e.type for e in progress.events].count("apply_complete") == 2
    log = first.log_path.read_text()
    assert "apply_complete" in log and SECRET not in log
    write_stack(session.ws.stack_dir, size="large")
    make_plan(session)
    second = apply_saved(session)
    assert second.backup is not None and json.loads(second.backup.read_text())["serial"] >= 1
    assert not load_plan_record(session.ws)  # a plan is applied at most once


@pytest.mark.e2e
def test_applying_twice_or_without_plan_is_refused(session):
    with pytest.raises(RefusedError, match="no saved plan"):
        apply_saved(session)
    make_plan(session)
    apply_saved(session)
    with pytest.raises(RefusedError, match="no saved plan"):
        apply_saved(session)


@pytest.mark.e2e
def test_stale_when_stack_changed_after_plan(session):
    make_plan(session)
    write_stack(session.ws.stack_dir, size="huge")
    with pytest.raises(RefusedError, match="stack files changed"):
        apply_saved(session)


@pytest.mark.e2e
def test_stale_when_state_changed_after_plan(session, target, stacks_dir, sandbox_dir):
    make_plan(session)
    apply_saved(session)
    write_stack(session.ws.stack_dir, size="b")
    make_plan(session)
    # Someone else applies in between: copy the plan aside, plan+apply, restore the old plan.
    old_plan = session.ws.planfile.read_bytes()
    old_record = (session.ws.data_dir / "plan.json").read_text()
    apply_saved(session)
    session.ws.planfile.write_bytes(old_plan)
    (session.ws.data_dir / "plan.json").write_text(old_record)
    with pytest.raises(RefusedError, match="state changed since it was made"):
        apply_saved(session)


@pytest.mark.e2e
def test_tampered_planfile_is_refused(session):
    make_plan(session)
    with open(session.ws.planfile, "ab") as fh:
        fh.write(b"x")
    with pytest.raises(RefusedError, match="modified after it was made"):
        saved_plan(session)


@pytest.mark.e2e
def test_not_confirmed_is_refused_and_nothing_applied(session):
    make_plan(session)
    with pytest.raises(RefusedError, match="not confirmed"):
        apply_saved(session, approve=lambda summary: False)
    assert not (session.ws.workdir / "terraform.tfstate").exists()


@pytest.mark.e2e
def test_terraform_failure_during_plan_is_typed(session):
    (session.ws.stack_dir / "bad.tf").write_text('output "x" { value = var.missing }\n')
    with pytest.raises(TerraformError) as err:
        make_plan(session)
    assert "undeclared input variable" in str(err.value)


@pytest.mark.e2e
def test_state_backups_keep_the_newest(session):
    from runner.state import backup_state
    make_plan(session)
    apply_saved(session)
    made = [backup_state(session.ws, session.tf, keep=2) for _ in range(4)]
    kept = sorted((session.ws.data_dir / "state-backups").iterdir())
    assert kept == sorted(made[-2:])
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in kept)


def test_old_terraform_is_refused_before_any_work(target, stacks_dir, sandbox_dir, tmp_path,
                                                  monkeypatch):
    from pipeline.stack import open_session
    fake = tmp_path / "terraform"
    fake.write_text("#!/bin/sh\necho '{\"terraform_version\": \"1.3.9\"}'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("TERRAFORM_BIN", str(fake))
    with pytest.raises(TerraformError, match="Terraform ≥ 1.5 needed, found 1.3.9"):
        open_session(target, ENV, stacks_dir=stacks_dir, sandbox_dir=sandbox_dir)
    assert not sandbox_dir.exists()


@pytest.mark.e2e
def test_backend_credentials_are_masked_in_errors(target, stacks_dir, sandbox_dir, monkeypatch):
    from pipeline.stack import open_session
    conn = "hunter2-very-secret"  # terraform quotes a malformed connection string
    monkeypatch.setenv("PG_CONN_STR", conn)
    (stacks_dir / ENV / "versions.tf").write_text('terraform {\n  backend "pg" {}\n}\n')
    session = open_session(target, ENV, stacks_dir=stacks_dir, sandbox_dir=sandbox_dir)
    with pytest.raises(TerraformError) as err:
        make_plan(session)
    e = err.value
    text = str(e) + " ".join(e.diagnostics) + e.stderr_tail
    assert "hunter2-very-secret" not in text and conn not in text


@pytest.mark.parametrize("conn, password", [
    ("postgres://tf:s3cr3t-pw@127.0.0.1:5432/db?sslmode=disable", "s3cr3t-pw"),
    ("host=127.0.0.1 user=tf password=s3cr3t-pw dbname=db", "s3cr3t-pw"),
    ("host=127.0.0.1 password='s3cr3t-pw'", "s3cr3t-pw"),
    ("postgres://tf@127.0.0.1/db", None),
    (None, None),
])
def test_conn_password(conn, password):
    from runner.redact import conn_password
    assert conn_password(conn) == password


def _count_shows(session, monkeypatch) -> list:
    calls = []
    real = session.tf.show

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)
    monkeypatch.setattr(session.tf, "show", counting)
    return calls


def test_plan_then_apply_in_one_run_reads_the_plan_once(session, monkeypatch):
    shows = _count_shows(session, monkeypatch)
    plan = make_plan(session)
    assert plan.summary.detailed and plan.summary.changes[0].attributes
    result = apply_saved(session)
    assert len(shows) == 1 and result.completed
    # A no-change plan needs no show at all.
    again = make_plan(session)
    assert not again.summary.has_changes and len(shows) == 1


def test_plan_without_detail_skips_show_but_keeps_actions(session, monkeypatch):
    shows = _count_shows(session, monkeypatch)
    quick = make_plan(session, detail=False)
    assert shows == [] and not quick.summary.detailed
    assert [(c.address, c.action) for c in quick.summary.changes] == [
        ("terraform_data.server", "create"), ("terraform_data.volume", "create")]
    # apply still reads the plan (approval text, log redaction) and applies it
    assert apply_saved(session).completed and len(shows) == 1


def test_a_new_plan_is_read_again(session, monkeypatch):
    shows = _count_shows(session, monkeypatch)
    make_plan(session)
    write_stack(session.ws.stack_dir, size="large")
    make_plan(session)
    summary, _ = saved_plan(session)
    assert len(shows) == 2 and summary.changes

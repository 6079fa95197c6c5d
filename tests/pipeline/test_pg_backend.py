"""The pg backend against a real PostgreSQL: state there, locking between two runs."""
import dataclasses
import shutil
import threading
import time

import pytest

from errors import RefusedError, TerraformError
from pipeline.stack import apply_saved, make_plan, open_session
from pipeline.target import Target
from runner.state import state_id
from tests.pipeline.pg import LocalPostgres
from tests.runner.conftest import SECRET, write_stack

pytestmark = pytest.mark.e2e

BACKEND = 'terraform {\n  backend "pg" {}\n}\n'
SLOW = """
resource "terraform_data" "slow" {
  triggers_replace = [var.size]  # re-created, so the provisioner runs, on every change
  provisioner "local-exec" {
    command = "sleep 4"
  }
}
"""


@pytest.fixture(scope="module")
def pg_conn():
    if shutil.which("runuser") is None:
        pytest.fail("runuser is needed to run PostgreSQL as a non-root user")
    pg = LocalPostgres()
    try:
        yield pg.start()
    finally:
        pg.stop()


def _session(tmp_path, name, conn, lock_timeout):
    stacks = tmp_path / name / "stacks"
    write_stack(stacks / "team")
    (stacks / "team" / "versions.tf").write_text(BACKEND)
    target = Target("sandbox", "http://127.0.0.1:9", SECRET,
                    {"TF_VAR_hcloud_token": SECRET, "PG_CONN_STR": conn})
    return open_session(target, "team", stacks_dir=stacks, sandbox_dir=tmp_path / name / "sb",
                        lock_timeout=lock_timeout)


def test_state_lives_in_postgres_and_locks(tmp_path, pg_conn):
    alice = _session(tmp_path, "alice", pg_conn, "0s")
    make_plan(alice)
    apply_saved(alice)
    assert not (alice.ws.workdir / "terraform.tfstate").exists()   # not local
    first = state_id(alice.ws, alice.tf)
    assert first.serial >= 1 and first.lineage

    # Bob works from his own directory on the same backend.
    bob = _session(tmp_path, "bob", pg_conn, "0s")
    write_stack(bob.ws.stack_dir, size="medium")
    bob_plan = make_plan(bob)
    assert bob_plan.state == first and bob_plan.init.ran

    (alice.ws.stack_dir / "slow.tf").write_text(SLOW)
    write_stack(alice.ws.stack_dir, size="large")
    make_plan(alice)

    errors = []
    slow = threading.Thread(target=lambda: _catch(errors, apply_saved, alice))
    slow.start()
    time.sleep(2.0)  # alice is inside the 4 s provisioner and holds the lock
    with pytest.raises(TerraformError) as err:
        apply_saved(bob)
    assert "Error acquiring the state lock" in str(err.value)
    assert "another plan/apply holds the state lock" in str(err.value)
    slow.join(30)
    assert errors == []

    # With a lock timeout Bob waits; alice changed the state meanwhile, so his plan is stale.
    make_plan(bob)
    write_stack(alice.ws.stack_dir, size="xl")
    assert make_plan(alice).summary.has_changes
    waiting_bob = dataclasses.replace(bob, tf=type(bob.tf)(bob.ws.workdir, bob.tf.env,
                                                           lock_timeout="60s"))
    slow = threading.Thread(target=lambda: _catch(errors, apply_saved, alice))
    slow.start()
    time.sleep(1.5)
    # Alice still holds the lock here and has not written her state yet. Only a
    # Bob who waited for the lock finds her new state and so a stale plan; one
    # who did not wait would fail on the lock (a TerraformError, as above).
    with pytest.raises(RefusedError, match="stale"):
        apply_saved(waiting_bob)
    slow.join(30)
    assert errors == []
    after = state_id(alice.ws, alice.tf)
    assert after.lineage == first.lineage and after.serial > first.serial
    assert "'xl'" in str(alice.tf.state_pull())


def _catch(errors, fn, *args):
    try:
        fn(*args)
    except Exception as exc:  # reported through the list; the thread must not die silently
        errors.append(exc)

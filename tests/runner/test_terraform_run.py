"""Runner against real terraform on a terraform_data stack."""
import pytest

from errors import TerraformError
from tests.runner.conftest import SECRET


def test_init_plan_apply_output(tf, stack):
    tf.init()
    run = tf.plan(stack / "p.tfplan")
    assert run.has_changes and run.planfile.exists()
    seen = []
    result = tf.apply(run.planfile, on_event=seen.append)
    assert result.returncode == 0 and not result.interrupted
    types = [e.type for e in seen]
    assert "apply_start" in types and "apply_complete" in types
    assert {e.address for e in seen if e.type == "apply_complete"} == \
        {"terraform_data.server", "terraform_data.volume"}
    out = tf.output()
    assert out["size"]["value"] == "small" and out["token_echo"]["sensitive"] is True


def test_plan_error_carries_diagnostics(tf, stack):
    (stack / "bad.tf").write_text('resource "terraform_data" "x" {\n  input = var.nope\n}\n')
    tf.init()
    with pytest.raises(TerraformError) as err:
        tf.plan(stack / "p.tfplan")
    e = err.value
    assert e.returncode == 1 and e.argv[1] == "plan"
    assert "Reference to undeclared input variable" in str(e)
    assert any("nope" in d for d in e.diagnostics)


def test_stale_plan_apply_raises_with_terraform_summary(tf, stack):
    tf.init()
    first = tf.plan(stack / "a.tfplan")
    second = tf.plan(stack / "b.tfplan")
    tf.apply(first.planfile)
    with pytest.raises(TerraformError) as err:
        tf.apply(second.planfile)
    assert "Saved plan is stale" in str(err.value)
    assert SECRET not in str(err.value)


def test_failing_event_consumer_stops_terraform_and_raises(tf, stack):
    (stack / "slow.tf").write_text(
        'resource "terraform_data" "slow" {\n'
        '  provisioner "local-exec" {\n    command = "sleep 3"\n  }\n}\n')
    tf.init()
    run = tf.plan(stack / "p.tfplan")

    class Boom(Exception):
        pass

    def consumer(event):
        if event.type == "apply_start":
            raise Boom()
    with pytest.raises(Boom):
        tf.apply(run.planfile, on_event=consumer)
    # terraform was stopped and waited for: its state lock is free, state readable.
    assert tf.state_pull()["serial"] >= 1
    import subprocess
    leftover = subprocess.run(["pgrep", "-f", f"terraform apply -json -input=false {run.planfile}"],
                              capture_output=True, text=True).stdout.strip()
    assert leftover == ""

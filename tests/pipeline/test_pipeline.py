"""The deploy pipeline on a terraform_data stack (real terraform, no provider)."""
from dataclasses import replace

import pytest

pytestmark = pytest.mark.e2e   # every test runs terraform init, plan and apply

from errors import RefusedError, TerraformError
from pipeline.deploy import DeployOptions
from pipeline.target import Target
from tests.pipeline.conftest import run_pipeline, sandbox_registrar
from tests.runner.conftest import SECRET, write_full_stack

ENV = "production"


@pytest.fixture
def setup(data_pipeline):
    return data_pipeline


def _target(kind):
    return Target(kind, "http://127.0.0.1:9", SECRET, {"TF_VAR_hcloud_token": SECRET})


def _run(config, options, kind="sandbox", **kw):
    return run_pipeline(config, options, kind, **kw)


def test_first_deploy_applies_then_rerun_is_a_no_op(setup):
    config, options, _ = setup
    first, phases, progress = _run(config, options)
    assert phases == {"infra": "done", "outputs": "done", "app": "skipped", "dns": "done",
                      "tls": "skipped"}
    assert first.applied and first.outputs.hosts[0].name == "demo-small"
    assert any("Plan: 2 to create" in n for n in progress.notes)   # shown before applying
    second, phases, progress = _run(config, options)
    assert not second.applied and progress.events == []
    assert phases == {"infra": "skipped", "outputs": "skipped", "app": "skipped", "dns": "skipped",
                      "tls": "skipped"}
    assert second.outputs == first.outputs
    fresh, phases, _ = _run(config, DeployOptions(**{**options.__dict__, "fresh": True}))
    assert phases["infra"] == "done" and not fresh.applied
    assert "nothing to apply" in fresh.lines[0].detail


def test_stack_change_is_planned_and_applied(setup):
    config, options, stacks = setup
    _run(config, options)
    write_full_stack(stacks / ENV, size="large")
    result, phases, _ = _run(config, options)
    assert result.applied and result.summary.counts["update"] == 1
    assert result.outputs.hosts[0].name == "demo-large"


def test_real_target_without_terminal_refuses_and_applies_nothing(setup):
    config, options, stacks = setup
    with pytest.raises(RefusedError, match="--auto-approve"):
        _run(config, options, kind="hetzner")
    assert not (stacks / ENV / "terraform.tfstate").exists()
    with pytest.raises(RefusedError, match="not confirmed"):
        _run(config, options, kind="hetzner", confirm=lambda summary: False)
    asked = []
    result, _, _ = _run(config, options, kind="hetzner",
                        confirm=lambda summary: asked.append(summary) or True)
    assert result.applied and asked and asked[0].counts["create"] == 2
    assert (stacks / ENV / "terraform.tfstate").exists()   # the real target works in place


def test_state_identity_is_read_once_per_run_and_again_only_after_an_apply(setup):
    from pipeline.deploy import make_context, run_context
    config, options, _ = setup
    with sandbox_registrar(options) as where:
        first = make_context(config, options, replace(_target("sandbox"), registrar=where))
        run_context(first, generate_stack=False)
        assert first.applied and first.state_reads == 2     # before the plan, after the apply
        again = make_context(config, options, replace(_target("sandbox"), registrar=where))
        run_context(again, generate_stack=False)
    assert not again.applied and again.state_reads == 1  # infra and outputs share one read



def test_only_and_from_on_the_real_pipeline(setup):
    config, options, stacks = setup
    with pytest.raises(TerraformError, match="nothing deployed"):
        _run(config, DeployOptions(**{**options.__dict__, "only": "outputs"}))
    first, phases, _ = _run(config, DeployOptions(**{**options.__dict__, "start": "infra"}))
    assert phases == {"infra": "done", "outputs": "done", "app": "skipped", "dns": "done",
                      "tls": "skipped"} and first.applied
    only, phases, _ = _run(config, DeployOptions(**{**options.__dict__, "only": "outputs",
                                                    "fresh": True}))
    assert phases == {"outputs": "done"} and not only.applied
    assert only.outputs == first.outputs


def test_a_failed_infra_phase_records_nothing_and_the_rerun_resumes_there(setup):
    config, options, stacks = setup
    main_tf = stacks / ENV / "main.tf"
    good = main_tf.read_text()
    main_tf.write_text(good + '\nresource "terraform_data" "broken" { input = var.nope }\n')
    with pytest.raises(TerraformError):
        _run(config, options)
    main_tf.write_text(good)
    again, phases, _ = _run(config, options)
    assert phases == {"infra": "done", "outputs": "done", "app": "skipped", "dns": "done",
                      "tls": "skipped"} and again.applied

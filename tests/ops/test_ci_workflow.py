"""The pull-request workflow: valid for GitHub (check-jsonschema's own copy of the schema)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cli import cli
from errors import ConfigError
from ops.ci_workflow import COMMENT_LIMIT, render, workflow


def _validate(path: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    return subprocess.run([exe, "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_written_workflow_is_valid_for_github_and_round_trips(tmp_path):
    result = CliRunner().invoke(cli, ["ci", "init", "--env", "staging", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    path = tmp_path / "hetzner-deploy-plan-staging.yml"
    checked = _validate(path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    doc = yaml.safe_load(path.read_text())
    assert doc == workflow("staging")                     # what was built is what was written
    job = doc["jobs"]["plan"]
    assert job["concurrency"] == {"group": "hetzner-deploy-state-staging",
                                  "cancel-in-progress": False}
    runs = "\n".join(s.get("run", "") for s in job["steps"])
    assert "hetzner-deploy check" in runs and '--markdown > plan.md' in runs
    plan_step = next(s for s in job["steps"] if s.get("name") == "Plan against Hetzner")
    assert plan_step["env"]["HCLOUD_TOKEN"] == "${{ secrets.HCLOUD_TOKEN }}"
    script = job["steps"][-1]["with"]["script"]
    assert "updateComment" in script and "hetzner-deploy plan: ' + process.env.DEPLOY_ENV" in script
    assert str(COMMENT_LIMIT) in script


def test_a_broken_workflow_fails_the_same_validator(tmp_path):
    """The oracle can fail: the same check rejects a workflow without runs-on."""
    doc = workflow("production")
    del doc["jobs"]["plan"]["runs-on"]
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump(doc))
    assert _validate(bad).returncode != 0


def test_init_is_idempotent_and_never_overwrites_silently(tmp_path):
    args = ["ci", "init", "--dir", str(tmp_path)]
    assert CliRunner().invoke(cli, args).stdout.startswith("create")
    assert CliRunner().invoke(cli, args).stdout.startswith("identical")
    path = tmp_path / "hetzner-deploy-plan-production.yml"
    path.write_text(path.read_text() + "# my edit\n")
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 7 and "--force" in refused.stderr
    assert path.read_text().endswith("# my edit\n")
    assert CliRunner().invoke(cli, [*args, "--force"]).stdout.startswith("update")


@pytest.mark.parametrize("env", ["Prod", "prod\n", "prod: x", "${{ github.token }}", "a" * 40, ""])
def test_hostile_environment_names_are_refused(env):
    with pytest.raises(ConfigError, match="--env"):
        render(env)


def test_topology_step_fires_on_the_markdown_of_a_plan_that_adds_a_resource(tmp_path):
    """The step's own grep, run by bash on `plan --markdown` output for a create
    and for an in-place update (only the first changes the topology)."""
    from ops.ci_workflow import workflow
    from runner.plan import summarize
    from runner.plan_format import to_markdown
    from runner.process import run as run_program
    step = next(s for s in workflow("production")["jobs"]["plan"]["steps"]
                if s.get("name", "").startswith("Topology"))
    condition = step["run"].splitlines()[0].removeprefix("if ").removesuffix("; then")

    def fires(actions):
        plan = {"resource_changes": [{"address": "hcloud_server.main", "mode": "managed",
                                      "type": "hcloud_server", "change": {
                                          "actions": actions, "before": {}, "after": {},
                                          "after_unknown": {}, "before_sensitive": {},
                                          "after_sensitive": {}}}]}
        (tmp_path / "plan.md").write_text(to_markdown(summarize(plan)))
        return run_program(["bash", "-c", condition], cwd=tmp_path, check=False).returncode == 0
    assert fires(["create"]) and not fires(["update"])

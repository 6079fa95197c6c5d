"""The pull-request workflow `hetzner-deploy ci init` writes into a user's repository.

Built as data and emitted by PyYAML, never pasted: the only values from the
user (the environment's name, the Python version) are checked against
whole-string patterns first. On every pull request that touches the
configuration, templates or stacks it runs `check`, then `plan --markdown`
against the real target with the token from the repository's secrets, and
posts or updates ONE comment per environment (found by a hidden marker):
a second run on the same pull request edits that comment.

Plans of one environment are serialised twice over: a workflow concurrency
group per environment, and Terraform's own state lock (`-lock-timeout`).
"""
from __future__ import annotations

import re

import yaml

from errors import ConfigError

ENV_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,30}")
PYTHON_PATTERN = re.compile(r"3\.1[1-9]")
# GitHub refuses comments over 65,536 characters; leave room for the header.
COMMENT_LIMIT = 60000
WATCHED = ["deploy.toml", "deploy.example.toml", "terraform/**", "cloud-init/**",
           ".github/workflows/hetzner-deploy-*.yml"]

_UPSERT = """\
const fs = require('fs');
const marker = '<!-- hetzner-deploy plan: ' + process.env.DEPLOY_ENV + ' -->';
let body = fs.readFileSync('plan-comment.md', 'utf8');
const run = `${context.serverUrl}/${context.repo.owner}/${context.repo.repo}/actions/runs/${context.runId}`;
if (body.length > LIMIT) {
  body = body.slice(0, LIMIT) + `\\n\\n…cut here: the full plan is in the run's artifact (${run}).`;
}
body = marker + '\\n' + body;
const { data: comments } = await github.rest.issues.listComments({
  owner: context.repo.owner, repo: context.repo.repo,
  issue_number: context.issue.number, per_page: 100 });
const mine = comments.find(c => c.user.type === 'Bot' && c.body.startsWith(marker));
if (mine) {
  await github.rest.issues.updateComment({ owner: context.repo.owner,
    repo: context.repo.repo, comment_id: mine.id, body });
} else {
  await github.rest.issues.createComment({ owner: context.repo.owner,
    repo: context.repo.repo, issue_number: context.issue.number, body });
}
"""


def workflow(env: str, python: str = "3.11") -> dict:
    if not ENV_PATTERN.fullmatch(env):
        raise ConfigError(f"--env: {env!r} is not an environment name (lowercase letters, "
                          "digits and '-', at most 31)")
    if not PYTHON_PATTERN.fullmatch(python):
        raise ConfigError(f"--python: {python!r} is not a supported Python (3.11 or newer)")
    secrets = {"HCLOUD_TOKEN": "${{ secrets.HCLOUD_TOKEN }}",
               # A team's state lives in a shared backend; its credentials, when used.
               "PG_CONN_STR": "${{ secrets.PG_CONN_STR }}",
               "AWS_ACCESS_KEY_ID": "${{ secrets.AWS_ACCESS_KEY_ID }}",
               "AWS_SECRET_ACCESS_KEY": "${{ secrets.AWS_SECRET_ACCESS_KEY }}"}
    steps = [
        {"uses": "actions/checkout@v4", "with": {"fetch-depth": 0}},
        {"uses": "actions/setup-python@v5", "with": {"python-version": python}},
        {"uses": "hashicorp/setup-terraform@v3", "with": {"terraform_wrapper": False}},
        {"name": "Install hetzner-deploy", "run": "python -m pip install ."},
        {"name": "Check the generated stacks", "run": "hetzner-deploy check"},
        {"name": "Plan against Hetzner", "env": {**secrets, "DEPLOY_ENV": env},
         "run": 'hetzner-deploy plan --env "$DEPLOY_ENV" --markdown > plan.md\n'},
        {"name": "Comment body: plan, cost, warnings, diff stat",
         "env": {"BASE_REF": "${{ github.base_ref }}"},
         "run": "{ cat plan.md; echo; echo '<details><summary>Stack diff stat</summary>';"
                " echo; echo '```'; git diff --stat \"origin/$BASE_REF\"...HEAD --"
                " terraform/stacks deploy.toml; echo '```'; echo '</details>'; }"
                " > plan-comment.md\n"},
        # The topology changes only when resources come or go: then the comment
        # points at the diagram of what is deployed now, kept with the plan.
        {"name": "Topology diagram when resources come or go", "env": {"DEPLOY_ENV": env},
         "run": "if grep -qE '^\\| (create|delete|replace) \\|' plan.md; then\n"
                '  hetzner-deploy diagram --env "$DEPLOY_ENV" --out topology.svg \\\n'
                "    && echo '🗺️ The topology changes: the diagram of what is deployed now is "
                "topology.svg in the artifact of this run.' >> plan-comment.md\n"
                "fi\n"},
        {"name": "Keep the full plan", "uses": "actions/upload-artifact@v4",
         "with": {"name": f"hetzner-deploy-plan-{env}", "path": "plan.md\ntopology.svg\n",
                  "if-no-files-found": "warn"}},
        {"name": "Post or update the one plan comment", "uses": "actions/github-script@v7",
         "env": {"DEPLOY_ENV": env},
         "with": {"script": _UPSERT.replace("LIMIT", str(COMMENT_LIMIT))}},
    ]
    return {
        "name": f"hetzner-deploy plan ({env})",
        "on": {"pull_request": {"paths": WATCHED}},
        "permissions": {"contents": "read", "pull-requests": "write"},
        # A newer push to the same pull request replaces the running plan…
        "concurrency": {"group": f"hetzner-deploy-pr-${{{{ github.event.pull_request.number }}}}-{env}",
                        "cancel-in-progress": True},
        "jobs": {"plan": {
            "runs-on": "ubuntu-latest",
            # …and plans of one environment never run side by side.
            "concurrency": {"group": f"hetzner-deploy-state-{env}",
                            "cancel-in-progress": False},
            "env": {"TF_CLI_CONFIG_FILE": "/dev/null", "HETZNER_DEPLOY_LOCK_TIMEOUT": "300s"},
            "steps": steps,
        }},
    }


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render(env: str, python: str = "3.11") -> str:
    header = ("# Written by `hetzner-deploy ci init`: plans every pull request that touches\n"
              "# the deploy configuration and keeps one comment per environment up to date.\n"
              "# Needs the repository secret HCLOUD_TOKEN (and the state backend's, if any).\n")
    return header + yaml.dump(workflow(env, python), Dumper=_Dumper, sort_keys=False,
                              width=100, allow_unicode=True)

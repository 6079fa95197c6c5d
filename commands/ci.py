"""`hetzner-deploy ci init`: the pull-request plan workflow, written into this repository."""
from __future__ import annotations

import os
from pathlib import Path

import click

from errors import RefusedError


@click.group("ci")
def ci():
    """Continuous integration for the deploy configuration."""


@ci.command("init")
@click.option("--env", "env", default="production", show_default=True,
              help="The environment whose plan the pull requests show.")
@click.option("--python", default="3.11", show_default=True, help="Python on the runner.")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=Path(".github/workflows"), show_default=True)
@click.option("--force", is_flag=True, help="Replace a workflow that differs.")
def init(env, python, directory, force):
    """Write .github/workflows/hetzner-deploy-plan-<env>.yml."""
    from ops.ci_workflow import render
    text = render(env, python)
    path = directory / f"hetzner-deploy-plan-{env}.yml"
    existed = path.is_file()
    if existed:
        if path.read_text(encoding="utf-8") == text:
            click.echo(f"identical {path}")
            return
        if not force:
            raise RefusedError(f"{path} exists and differs: rerun with --force to replace it")
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    click.echo(f"{'update' if existed else 'create'}    {path}")
    click.echo("next: add the repository secret HCLOUD_TOKEN (and your state backend's), "
               "commit the workflow, open a pull request")

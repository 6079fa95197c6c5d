"""`hetzner-deploy drift`: what was changed by hand on the live target (read-only).

Exit status for cron and CI: 0 no drift, 2 drift found, anything else an
error (a usage or config error, code 2 elsewhere, is 64 here: see cli.py).
"""
from __future__ import annotations

import click

from commands.common import config_option, echo_json, env_option, json_option, load, stacks_dir_option
from commands.terraform import target_banner


@click.command("drift")
@env_option
@config_option
@json_option
@click.option("--markdown", "as_markdown", is_flag=True, help="Print Markdown (for an issue or comment).")
@stacks_dir_option
@click.pass_context
def drift(ctx, env, config_path, as_json, as_markdown, stacks_dir):
    """Report hand-made changes and orphans; never changes anything. Exit 2 on drift."""
    from checks import hetzner_api
    from checks.inventory import read_inventory
    from ops.drift import DRIFT_EXIT, detect, to_markdown, to_text
    from pipeline.stack import ensure_init, open_session
    from pipeline.target import resolve_target
    from runner.workspace import sync_copy

    config = load(config_path, env, quiet=as_json)
    target = resolve_target()
    click.echo(target_banner(target), err=True)
    session = open_session(target, config.environment, stacks_dir=stacks_dir)
    tuple(sync_copy(session.ws))   # the sandbox works on a copy of the committed stack
    ensure_init(session)
    client = hetzner_api.open_client(target.endpoint, target.token)
    with hetzner_api.api_errors(target.endpoint, hetzner_api.timeout_of(client), what="drift"):
        inventory = read_inventory(client)
    report = detect(session.tf, session.ws.workdir / "drift.tfplan", inventory,
                    project=config.project, environment=config.environment)
    if as_json:
        echo_json(report.as_dict())
    elif as_markdown:
        click.echo(to_markdown(report), nl=False)
    else:
        click.echo(to_text(report), nl=False)
    if report.has_drift:
        ctx.exit(DRIFT_EXIT)

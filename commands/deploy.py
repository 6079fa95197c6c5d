"""`deploy`: the whole pipeline, what `make deploy PROFILE=ccx33` runs."""
from __future__ import annotations

import click

from commands.common import (accept_data_loss_option, allow_replace_option, auto_approve_option,
                             config_option, echo_json, env_option, json_option, load,
                             stacks_dir_option)
from commands.progress_view import ConsoleProgress
from commands import terraform as tf_commands
from commands.terraform import ask_yes, output_lines, target_banner
from generator.profiles import PROFILE_NAMES
from pipeline.deploy import DeployOptions, make_context, run_context
from pipeline.phases import PHASE_NAMES
from runner.plan_format import to_dict


@click.command("deploy")
@click.option("--profile", type=click.Choice(PROFILE_NAMES), default=None,
              help="Profile to deploy (default: the config's, else the stack's current one).")
@env_option
@config_option
@json_option
@auto_approve_option
@allow_replace_option
@accept_data_loss_option
@click.option("--fresh", is_flag=True, help="Ignore the checkpoint: plan again even if "
              "nothing changed locally (finds drift).")
@click.option("--from", "start", type=click.Choice(PHASE_NAMES), default=None,
              help="Start at this phase (the earlier ones are not run).")
@click.option("--only", type=click.Choice(PHASE_NAMES), default=None,
              help="Run this phase alone.")
@stacks_dir_option
def deploy(profile, env, config_path, as_json, auto_approve, allow_replace, accept_data_loss, fresh,
           start, only, stacks_dir):
    """preflight -> generate -> infra (plan, review, apply) -> outputs."""
    config = load(config_path, env, quiet=as_json)
    from pipeline.target import resolve_target
    # With [app], sandbox servers must be real hosts the app phase can reach.
    target = resolve_target(machines=config.app is not None)
    click.echo(target_banner(target), err=True)
    interactive = tf_commands.stdin_is_tty() and not as_json
    options = DeployOptions(env=config.environment, profile=profile, auto_approve=auto_approve,
                            allow_replace=allow_replace, accept_data_loss=accept_data_loss,
                            fresh=fresh, stacks_dir=stacks_dir,
                            only=only, start=start)
    ctx = make_context(config, options, target, progress=ConsoleProgress(quiet=as_json),
                       confirm=ask_yes if interactive else None)
    if not as_json:
        click.echo(ctx.choice.line(), err=True)
    from generator.manifest import stack_profile
    from pipeline.tier_switch import load as switch_record
    if stack_profile(ctx.stacks_dir / ctx.env) not in (None, ctx.profile.name) \
            or switch_record(ctx.workdir) is not None:
        # Another profile than the stack's, or a switch under way: a tier switch when
        # servers run (commands/switch.py).
        from commands.switch import run_switch, switch_confirm
        from pipeline.switch import prepare
        preview = prepare(ctx)
        if preview is not None and interactive:
            ctx.confirm = switch_confirm(preview)
        result = run_switch(ctx, preview, quiet=as_json)
    else:
        result = run_context(ctx)
    outputs = result.outputs.as_dict() if result.outputs else None
    if as_json:
        echo_json({"target": result.target_kind, "env": result.env, "profile": result.profile,
                   "profile_source": result.choice.source,
                   "applied": result.applied, "phases": [vars(line) for line in result.lines],
                   "plan": to_dict(result.summary) if result.summary else None,
                   "outputs": outputs})
        return
    click.echo(f"deployed {result.profile} to {result.env} ({result.target_kind}):")
    if result.outputs:
        click.echo("\n".join(f"  {line}" for line in output_lines(result.outputs)))

"""`switch --to PROFILE`: move a deployed stack to another tier, reviewed first.

`deploy --profile P` comes through run_switch too when P is not what the
servers run (pipeline/switch.py decides, from the state).
"""
from __future__ import annotations

import dataclasses

import click

from commands.common import (accept_data_loss_option, allow_replace_option, auto_approve_option,
                             config_option, env_option, load, stacks_dir_option)
from commands.progress_view import ConsoleProgress
from generator.profiles import PROFILE_NAMES


def run_switch(ctx, preview, *, quiet: bool = False):
    """Show the preview, then run the pipeline; the stack goes back if the plan is refused."""
    from errors import InterruptedRun
    from pipeline.deploy import run_context
    from pipeline.switch import (start_stopped_servers, stack_restored_on_refusal,
                                 wait_app_healthy, wait_hosts_back)
    if preview is not None:
        click.echo("\n".join(preview.lines()), err=quiet)
    for name in start_stopped_servers(ctx):
        click.echo(f"[switch] {name} was off (a switch stopped between power off and power "
                   f"on): powered on", err=quiet)
    from pipeline.phases import PHASES
    # Infra first; once it rescaled, the hosts restart: wait for them before the app phase.
    split = [p.name for p in PHASES].index("outputs") + 1
    if ctx.options.only or ctx.options.start:   # --only/--from name phases of the whole list
        split = len(PHASES)
    try:
        with stack_restored_on_refusal(ctx.stacks_dir / ctx.env, applied=lambda: ctx.applied):
            result = run_context(ctx, phases=PHASES[:split])
    except InterruptedRun as exc:
        # `deploy` converges too, but only a switch run powers on a server left off.
        exc.message += f"; to finish the switch, rerun `hetzner-deploy switch --to {ctx.profile.name}`"
        exc.args = (exc.message,)
        raise
    if ctx.applied:
        for name in wait_hosts_back(ctx):
            click.echo(f"[switch] {name} is back (SSH and Docker answer)", err=quiet)
    if split < len(PHASES):
        later = run_context(ctx, phases=PHASES[split:])
        result = dataclasses.replace(later, lines=result.lines + later.lines)
    if preview is not None and ctx.applied:
        for line in wait_app_healthy(ctx):
            click.echo(f"[switch] healthy: {line}", err=quiet)
    return result


def switch_confirm(preview):
    """The real target's `yes`, asked under the plan with the switch named in the prompt."""
    from commands.terraform import ask_yes
    if preview is None:
        return ask_yes
    prompt = f"Switch from {preview.current} to {preview.target} as shown? Type 'yes' to go on"
    # A phase's own text (the DNS change) keeps the plain prompt.
    return lambda what: ask_yes(what) if isinstance(what, str) else ask_yes(what, prompt)


@click.command("switch")
@click.option("--to", "to", type=click.Choice(PROFILE_NAMES), required=True,
              help="The profile to move the deployed stack to.")
@env_option
@config_option
@auto_approve_option
@allow_replace_option
@accept_data_loss_option
@stacks_dir_option
def switch(to, env, config_path, auto_approve, allow_replace, accept_data_loss, stacks_dir):
    """Switch the deployed stack to another profile (ccx33 <-> ccx43 in place)."""
    from commands import terraform as tf_commands
    from commands.terraform import output_lines, target_banner
    from errors import RefusedError
    from pipeline.deploy import DeployOptions, make_context
    from pipeline.switch import deployed_profile, prepare
    from pipeline.target import resolve_target
    config = load(config_path, env)
    target = resolve_target(machines=config.app is not None)
    click.echo(target_banner(target), err=True)
    options = DeployOptions(env=config.environment, profile=to, auto_approve=auto_approve,
                            allow_replace=allow_replace, accept_data_loss=accept_data_loss,
                            stacks_dir=stacks_dir)
    interactive = tf_commands.stdin_is_tty()
    ctx = make_context(config, options, target, progress=ConsoleProgress())
    current = deployed_profile(ctx)
    if current is None:
        raise RefusedError(f"nothing is deployed in {ctx.env} on the {target.kind} target: "
                           f"there is no tier to switch from (deploy it with "
                           f"`hetzner-deploy deploy --profile {to}`)")
    preview = prepare(ctx)
    if preview is None:
        click.echo(f"{ctx.env} already runs {to}: finishing anything a stopped switch left "
                   f"undone", err=True)
    ctx.confirm = switch_confirm(preview) if interactive else None
    result = run_switch(ctx, preview)
    click.echo(f"switched {result.env} to {result.profile} ({result.target_kind}):"
               if preview is not None else f"{result.env} runs {result.profile} "
               f"({result.target_kind}):")
    if result.outputs:
        click.echo("\n".join(f"  {line}" for line in output_lines(result.outputs)))

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
    from errors import InterruptedRun, RefusedError
    from pipeline.deploy import run_context
    from pipeline.switch import (start_stopped_servers, stack_restored_on_refusal,
                                 wait_app_healthy, wait_hosts_back)
    from pipeline import tier_switch
    started = None
    record = tier_switch.load(ctx.workdir)
    if (record is not None and record.down) or \
            (preview is not None and preview.current == tier_switch.THREE_TIER):
        return run_down_switch(ctx, preview, record, quiet=quiet)
    if preview is not None:
        click.echo("\n".join(preview.lines()), err=quiet)
        if record is None and preview.target == "3-tier":
            from generator.naming import base_name
            started = tier_switch.begin(ctx.workdir, preview.current, preview.target)
            tier_switch.carry_host_key(ctx.env, base_name(ctx.config))
            tier_switch.refresh_terraform_env(ctx.session)
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
    except RefusedError:
        if started is not None and not ctx.applied:
            tier_switch.clear(ctx.workdir)     # refused before any apply: no switch under way
        raise
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
    record = tier_switch.load(ctx.workdir)
    if record is not None and ctx.profile.name != record.target:
        tier_switch.clear(ctx.workdir)         # given up before the stack changed tier
    elif record is not None:
        for line in finish_tier_switch(ctx):
            click.echo(f"[switch] {line}", err=quiet)
        return result
    if preview is not None and ctx.applied:
        for line in wait_app_healthy(ctx):
            click.echo(f"[switch] healthy: {line}", err=quiet)
    return result


def run_down_switch(ctx, preview, record, *, quiet: bool = False):
    """3-tier -> one server, stage by stage (pipeline/tier_down.py); a rerun goes on from
    the recorded stage. Returns the last pipeline run's result."""
    from errors import InterruptedRun, RefusedError
    from pipeline import tier_down, tier_switch
    from pipeline.phases import PHASES
    from pipeline.switch import stack_restored_on_refusal, wait_app_healthy, wait_hosts_back
    wanted = ctx.profile.name
    if record is not None and wanted not in (record.target, record.source):
        raise RefusedError(f"a switch {record.source} -> {record.target} is under way: finish "
                           f"it with `hetzner-deploy switch --to {record.target}` first")
    if record is not None and wanted == record.source:
        raise RefusedError(f"a switch {record.source} -> {record.target} is under way "
                           f"({tier_down.where(record)}): going back to {record.source} "
                           f"halfway is not built; finish it with `hetzner-deploy switch "
                           f"--to {record.target}`, then switch again")
    if preview is not None:
        click.echo("\n".join(preview.lines()), err=quiet)
    say = lambda line: click.echo(f"[switch] {line}", err=quiet)   # noqa: E731
    fresh = record is None
    if fresh:
        record = tier_switch.begin(ctx.workdir, preview.current, preview.target)
    hint = f"; to finish the switch, rerun `hetzner-deploy switch --to {record.target}`"
    try:
        if record.stage == "serving":
            try:
                step = tier_down.serve_from_db(ctx, record)
            except RefusedError:
                now = tier_switch.load(ctx.workdir)
                if fresh and now is not None and now.dns_at is None:
                    # Refused before the names moved: a plain deploy converges (the 3-tier
                    # stack without the switch's firewall, the db part on the db server).
                    tier_switch.clear(ctx.workdir)
                raise
            for line in step.lines:
                say(line)
            if step.waiting_until is not None:
                return step.result
            record = tier_switch.load(ctx.workdir)
        if record.stage in ("serving", "detaching"):
            for line in tier_down.detach_db(ctx, record).lines:
                say(line)
            record = tier_switch.load(ctx.workdir)
        single = tier_down.single_context(ctx, record)
        split = [p.name for p in PHASES].index("outputs") + 1
        with stack_restored_on_refusal(single.stacks_dir / single.env,
                                       applied=lambda: single.applied):
            result = tier_down.run_context_phases(single, PHASES[:split])
        if single.applied:
            for name in wait_hosts_back(single):
                say(f"{name} is back (SSH and Docker answer)")
        later = tier_down.run_context_phases(single, PHASES[split:])
        result = dataclasses.replace(later, lines=result.lines + later.lines)
        for line in wait_app_healthy(single):
            say(f"healthy: {line}")
    except InterruptedRun as exc:
        exc.message += hint
        exc.args = (exc.message,)
        raise
    tier_switch.clear(ctx.workdir)
    say(f"{record.source} -> {record.target} finished: the db server is the single server "
        f"(same id, same volume); the load balancer, app servers and network are gone")
    return result


def finish_tier_switch(ctx) -> list[str]:
    """One server -> 3-tier, after the app servers are healthy behind the load balancer and
    DNS points at it: the old app on the db server goes, then the extra firewall."""
    from pipeline import tier_switch
    from pipeline.deploy import run_context
    from pipeline.phases import PHASES
    import datetime as dt
    record = tier_switch.load(ctx.workdir)
    lines = []
    if record.stage == "serving":
        now = dt.datetime.now(dt.timezone.utc)
        if record.dns_at is None:
            record = dataclasses.replace(record, dns_at=now.isoformat())
            tier_switch.save(ctx.workdir, record)
        ready = tier_switch.retire_from(record, ctx.config.dns.ttl)
        if now < ready:
            lb = ctx.outputs.load_balancer_ipv4 if ctx.outputs else "the load balancer"
            return [f"the names point at {lb}; the old app keeps serving on the db server "
                    f"until {ready:%Y-%m-%d %H:%M:%S} UTC, when resolvers can no longer hold "
                    f"its address ([dns] ttl {ctx.config.dns.ttl} s): then rerun "
                    f"`hetzner-deploy switch --to {record.target}` to stop it and finish"]
        if ctx.config.app is not None:
            from app.service import retire_old_app
            lines += retire_old_app(ctx.config, ctx.outputs)
        tier_switch.save(ctx.workdir, dataclasses.replace(record, stage="retiring"))
    tier_switch.refresh_terraform_env(ctx.session)
    infra = [p for p in PHASES if p.name in ("infra", "outputs")]
    done = run_context(ctx, phases=infra)
    lines += [f"{line.phase}: {line.detail}" for line in done.lines]
    tier_switch.clear(ctx.workdir)
    lines.append(f"{record.source} -> {record.target} finished: the old app is stopped and the "
                 "db server's public 80/443 closed")
    return lines


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
    """Switch the deployed stack to another profile (ccx33 <-> ccx43 in place; one server
    <-> 3-tier in stages: rerun it to go on, `verify --after` says where it is)."""
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
    from pipeline.tier_switch import load as switch_record
    under_way = switch_record(ctx.workdir)
    if under_way is not None:    # waiting for DNS: the lines above say until when
        click.echo(f"{result.env}: switch {under_way.source} -> {under_way.target} under way "
                   f"({result.target_kind}), running now:")
    else:
        click.echo(f"switched {result.env} to {result.profile} ({result.target_kind}):"
                   if preview is not None else f"{result.env} runs {result.profile} "
                   f"({result.target_kind}):")
    if result.outputs:
        click.echo("\n".join(f"  {line}" for line in output_lines(result.outputs)))

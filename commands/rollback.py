"""`hetzner-deploy rollback [app|dns|infra]`: one word for going back, whatever went wrong.

Without an argument it explains what can be rolled back now; with one it does
that one thing through the command that owns it (`app rollback`, `migrate
rollback`, pipeline/rollback_infra.py), so there is one implementation of each
rollback. The infrastructure goes back to an earlier committed stack: its plan
is shown and meets the same review rule as a deploy (the volume is never
destroyed without --accept-data-loss); once applied, the stack folder holds
that commit's files as an uncommitted change (pipeline/rollback_infra.py says why).
"""
from __future__ import annotations

import click

from commands.common import (accept_data_loss_option, allow_replace_option, config_option,
                             env_option, load, stacks_dir_option)
from errors import DeployError, InterruptedRun


def _app_line(config, stacks_dir) -> str:
    if config.app is None:
        return "app:   nothing to roll back (no [app] in deploy.toml)"
    from app.service import releases_all
    from commands.app import _outputs
    try:
        found = releases_all(config, _outputs(config, stacks_dir))
    except DeployError as exc:
        return f"app:   unknown ({exc})"
    lines = []
    for target, releases in found:
        current = next((r for r in releases if r.status == "current"), None)
        older = [r for r in releases if r.status == "ok" and current and r.created <= current.created
                 and r.name != current.name]
        if current and older:
            lines.append(f"app:   {target.name}: release {current.name} -> {older[-1].name} "
                         f"(`hetzner-deploy rollback app`)")
        else:
            lines.append(f"app:   {target.name}: nothing to roll back to (no earlier good release)")
    return "\n".join(lines)


def _dns_line(config, stacks_dir) -> str:
    from commands.dns import _workdir
    from domains.migration import Migration, folder_for
    from pipeline.target import resolve_target
    try:
        folder = folder_for(_workdir(resolve_target(), config, stacks_dir))
        progress = Migration(folder, config.dns.zone_for(config.domain)).progress
    except (DeployError, ValueError) as exc:
        return f"dns:   unknown ({exc})"
    if not progress.rollback_zone:
        return "dns:   nothing to roll back (no migration cut-over)"
    if progress.rolled_back_at:
        return f"dns:   already rolled back at {progress.rolled_back_at}"
    return (f"dns:   the records from before the cut-over at {progress.cutover_at} "
            f"(`hetzner-deploy rollback dns`)")


def _infra(config, stacks_dir, to, auto_approve, allow_replace, accept_data_loss) -> None:
    from commands.progress_view import ConsoleProgress
    from commands.terraform import session_for, stdin_is_tty
    from pipeline.review import decide
    from pipeline.rollback_infra import check_clean, history, resolve, rollback_infra, stack_at
    from runner.plan_format import to_text
    from runner.workspace import STACKS
    # Bad refs, no repository, no earlier stack, uncommitted stack edits: refused
    # before any sandbox or terraform.
    stack_dir = (stacks_dir or STACKS) / config.environment
    h = history(stack_dir)
    sha = resolve(h, to)
    check_clean(h, stack_dir, stack_at(h, sha))
    session = session_for(config, stacks_dir)

    def on_plan(p) -> None:
        click.echo(f"rollback infra: stack {config.environment} {h.current[:7]} -> "
                   f"{sha[:7]}{f' ({to})' if to else ''}")
        click.echo(to_text(p.plan.summary))

    def approve(summary) -> bool:
        # The deploy's rule: the sandbox applies a safe plan unattended, a
        # terminal is asked, the real target without one needs --auto-approve.
        choice = decide(summary, target_kind=session.target_kind, auto_approve=auto_approve,
                        interactive=stdin_is_tty(), allow_replace=allow_replace,
                        accept_data_loss=accept_data_loss)
        if choice.action == "ask":
            return click.prompt("Apply this rollback? Type 'yes' to go on", default="",
                                show_default=False).strip() == "yes"
        return choice.action == "apply"

    done = rollback_infra(session, config, sha, on_plan=on_plan, approve=approve,
                          allow_replace=allow_replace, accept_data_loss=accept_data_loss,
                          progress=ConsoleProgress())
    folder = h.prefix.rstrip("/")
    kept = (f"{folder} now holds the stack of {done.sha[:7]} as an uncommitted change "
            f"({', '.join(done.uncommitted)}): commit it to keep the rollback; "
            f"`git checkout -- {folder}` and deploy to go forward again")
    if done.applied is None:
        click.echo(f"nothing to roll back: the infrastructure already matches {done.sha[:7]}")
        if done.uncommitted:
            click.echo(f"note: {kept}")
        return
    if done.applied.interrupted:
        raise InterruptedRun(f"interrupted: terraform stopped cleanly after "
                             f"{len(done.applied.completed)} resource(s) and saved its state; "
                             f"run `hetzner-deploy rollback infra --to {done.sha[:12]}` again "
                             f"(log: {done.applied.log_path})")
    click.echo(f"rolled back: {len(done.applied.completed)} resource(s) to the stack of "
               f"{done.sha[:7]}; log {done.applied.log_path}")
    if done.uncommitted:
        click.echo(f"note: {kept}")


@click.command("rollback")
@click.argument("what", required=False, type=click.Choice(["app", "dns", "infra"]))
@env_option
@config_option
@stacks_dir_option
@click.option("--to", "to", default=None, metavar="RELEASE|GIT-REF",
              help="app: the release to go back to; infra: the commit of the stack "
                   "(default: the one before the stack's last change).")
@click.option("--auto-approve", is_flag=True,
              help="dns, infra: change the records or apply the plan without asking.")
@allow_replace_option
@accept_data_loss_option
@click.pass_context
def rollback(ctx, what, env, config_path, stacks_dir, to, auto_approve, allow_replace,
             accept_data_loss):
    """What can be rolled back now, or roll back the app release, the DNS cut-over or the
    infrastructure (to an earlier committed stack)."""
    if what == "app":
        from commands.app import rollback_cmd
        return ctx.invoke(rollback_cmd, env=env, config_path=config_path, stacks_dir=stacks_dir,
                          to=to, break_lock=False)
    if what == "dns":
        from commands.migrate import rollback as dns_rollback
        return ctx.invoke(dns_rollback, env=env, config_path=config_path,
                          auto_approve=auto_approve, stacks_dir=stacks_dir)
    config = load(config_path, env)
    if what == "infra":
        return _infra(config, stacks_dir, to, auto_approve, allow_replace, accept_data_loss)
    from pipeline.rollback_infra import infra_line
    click.echo(_app_line(config, stacks_dir))
    click.echo(_dns_line(config, stacks_dir))
    click.echo(infra_line(stacks_dir / config.environment, config.environment))

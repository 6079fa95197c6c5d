"""`hetzner-deploy rollback [app|dns]`: one word for going back, whatever went wrong.

Without an argument it explains what can be rolled back now; with one it does
that one thing through the command that owns it (`app rollback`, `migrate
rollback`), so there is one implementation of each rollback. The
infrastructure is not offered: going back to an earlier stack is `git
checkout` of the config and `hetzner-deploy plan` (reviewed; the volume is
never destroyed), not a one-word action.
"""
from __future__ import annotations

import click

from commands.common import config_option, env_option, load, stacks_dir_option
from errors import DeployError


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


@click.command("rollback")
@click.argument("what", required=False, type=click.Choice(["app", "dns"]))
@env_option
@config_option
@stacks_dir_option
@click.option("--to", "to", default=None, metavar="RELEASE", help="app: the release to go back to.")
@click.option("--auto-approve", is_flag=True, help="dns: change the records without asking.")
@click.pass_context
def rollback(ctx, what, env, config_path, stacks_dir, to, auto_approve):
    """What can be rolled back now, or roll back the app release or the DNS cut-over."""
    if what == "app":
        from commands.app import rollback_cmd
        return ctx.invoke(rollback_cmd, env=env, config_path=config_path, stacks_dir=stacks_dir,
                          to=to, break_lock=False)
    if what == "dns":
        from commands.migrate import rollback as dns_rollback
        return ctx.invoke(dns_rollback, env=env, config_path=config_path,
                          auto_approve=auto_approve, stacks_dir=stacks_dir)
    config = load(config_path, env)
    click.echo(_app_line(config, stacks_dir))
    click.echo(_dns_line(config, stacks_dir))
    click.echo("infra: not a one-word rollback: check out the earlier deploy.toml, then "
               "`hetzner-deploy plan` and `apply` (the volume is never destroyed)")

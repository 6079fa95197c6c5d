"""`app deploy | rollback | releases`: the app phase on its own (logic in app/)."""
from __future__ import annotations

import datetime as dt

import click

from commands.common import config_option, env_option, load, stacks_dir_option

break_lock_option = click.option("--break-lock", is_flag=True,
                                 help="Remove a deploy lock left by a run that is not running any more.")


def _outputs(config, stacks_dir):
    from commands.terraform import session_for
    from pipeline.stack import read_outputs
    return read_outputs(session_for(config, stacks_dir))


def _acme(config):
    """The sandbox's pebble for [tls] (None on Hetzner, where [tls] acme says which directory)."""
    if config.tls is None:
        return None
    from pipeline.target import resolve_target
    return resolve_target(start_sandbox=False).acme


@click.group("app")
def app() -> None:
    """Releases of the Compose app on the servers, over SSH with pinned host keys."""


@app.command("deploy")
@env_option
@config_option
@stacks_dir_option
@break_lock_option
def deploy_cmd(env, config_path, stacks_dir, break_lock):
    """Upload compose + .env as a release, start it, health-check it, switch `current`."""
    from app.service import deploy_all
    config = load(config_path, env)
    for r in deploy_all(config, _outputs(config, stacks_dir), break_lock=break_lock,
                        acme=_acme(config)):
        o = r.outcome
        for note in r.notes:     # 3-tier: what the load balancer gate had to say
            click.echo(note)
        if o.status == "unchanged":
            click.echo(f"{r.target.name}: release {o.release} already current (same compose and .env)")
            continue
        # A 3-tier db server is gated on its Compose healthchecks: no URL to show.
        click.echo(f"{r.target.name}: release {o.release} live"
                   + (f" at {o.url}" if o.url else " (its services healthy)")
                   + (f" (was {o.previous})" if o.previous else ""))
        if o.pruned:
            click.echo(f"{r.target.name}: pruned {', '.join(o.pruned)}")


@app.command("rollback")
@env_option
@config_option
@stacks_dir_option
@click.option("--to", "to", default=None, metavar="RELEASE",
              help="The release to go back to (default: the newest good one before current).")
@break_lock_option
def rollback_cmd(env, config_path, stacks_dir, to, break_lock):
    """Start an earlier release, health-check it, point `current` at it."""
    from app.service import rollback_all
    config = load(config_path, env)
    for r in rollback_all(config, _outputs(config, stacks_dir), to, break_lock=break_lock):
        click.echo(f"{r.target.name}: rolled back to {r.outcome.release} (was {r.outcome.previous}), "
                   f"answering at {r.outcome.url}")


@app.command("releases")
@env_option
@config_option
@stacks_dir_option
def releases_cmd(env, config_path, stacks_dir):
    """List the releases on each server, newest last, with their status."""
    from app.service import releases_all
    config = load(config_path, env)
    for target, releases in releases_all(config, _outputs(config, stacks_dir)):
        click.echo(f"{target.name} ({target.address}):")
        if not releases:
            click.echo("  no releases yet")
        for rel in releases:
            when = dt.datetime.fromtimestamp(rel.created / 1000, dt.timezone.utc) \
                .strftime("%Y-%m-%d %H:%M:%S UTC") if rel.created else "?"
            click.echo(f"  {rel.name}  {when}  {rel.status}")

"""`hetzner-deploy migrate status | ttl | cutover | rollback | finish`: the domain off the old host."""
from __future__ import annotations

import click

from commands.common import config_option, env_option, load, stacks_dir_option
from errors import ConfigError


def _setup(config_path, env, stacks_dir):
    from commands.dns import _workdir
    from domains.migration import Migration, folder_for
    from domains.service import access_for
    from pipeline.target import resolve_target
    config = load(config_path, env)
    target = resolve_target()
    access = access_for(config, target)
    if access is None:
        raise ConfigError("migrate changes the domain's records: set NAMECHEAP_API_USER, "
                          "NAMECHEAP_API_KEY, NAMECHEAP_USERNAME and NAMECHEAP_CLIENT_IP")
    folder = folder_for(_workdir(target, config, stacks_dir))
    return config, target, access, Migration(folder, config.dns.zone_for(config.domain))


def _confirm(target, auto_approve: bool, question: str) -> None:
    from commands.dns import confirm
    if not (target.is_sandbox or auto_approve):
        confirm(question)


@click.group("migrate")
def migrate():
    """Move the domain from the current host to this deploy, with a DNS rollback."""


@migrate.command("status")
@env_option
@config_option
@stacks_dir_option
def status(env, config_path, stacks_dir):
    """Each step, done or not, and what comes next."""
    *_, mig = _setup(config_path, env, stacks_dir)
    for step, state in mig.status():
        click.echo(f"{step:<18} {state}")


@migrate.command("ttl")
@env_option
@config_option
@click.option("--auto-approve", is_flag=True)
@stacks_dir_option
def ttl(env, config_path, auto_approve, stacks_dir):
    """Step 1: lower the TTL of the records that point at the old host ([dns] ttl)."""
    config, target, access, mig = _setup(config_path, env, stacks_dir)
    try:
        names = list(config.dns.record_names(config.domain))
    except ValueError as exc:
        raise ConfigError(f"dns.zone: {exc}") from None
    _confirm(target, auto_approve, f"Lower the TTL of {', '.join(names)} to {config.dns.ttl} s?")
    click.echo(mig.lower_ttl(access.client, names, config.dns.ttl))


@migrate.command("cutover")
@env_option
@config_option
@click.option("--auto-approve", is_flag=True)
@stacks_dir_option
def cutover(env, config_path, auto_approve, stacks_dir):
    """Step 3: save the old records for a rollback, then point the names at this deploy."""
    from commands.verify import workdir_outputs
    from domains.propagation import wait_for
    from domains.service import dns_target
    config, target, access, mig = _setup(config_path, env, stacks_dir)
    want = dns_target(config, workdir_outputs(target, config, None, stacks_dir))
    mig.cutover_from()   # refuses before step 1, with what to do
    _confirm(target, auto_approve, f"Point {want.zone} at the new deploy?")
    click.echo(mig.cut_over(access.client, want.records))
    wait_for(want.zone, want.records, access.nameservers, access.resolvers,
             deadline_s=config.dns.propagation_timeout_s)
    click.echo("propagated: every name answers the new address")


@migrate.command("rollback")
@env_option
@config_option
@click.option("--auto-approve", is_flag=True)
@stacks_dir_option
def rollback(env, config_path, auto_approve, stacks_dir):
    """Point the domain back at the old host: the saved records, exactly."""
    _, target, access, mig = _setup(config_path, env, stacks_dir)
    _confirm(target, auto_approve, "Restore the records from before the cut-over?")
    click.echo(mig.roll_back(access.client))


@migrate.command("finish")
@env_option
@config_option
@stacks_dir_option
def finish(env, config_path, stacks_dir):
    """After the 7-day window: the reminder to shut the old host down (removes nothing)."""
    *_, mig = _setup(config_path, env, stacks_dir)
    click.echo(mig.finish())

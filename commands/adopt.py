"""`adopt`: import an orphaned resource into this target's state (the working recovery hint)."""
from __future__ import annotations

import click

from commands.common import config_option, env_option, load, stacks_dir_option
from commands.terraform import target_banner


@click.command("adopt")
@env_option
@config_option
@stacks_dir_option
@click.option("--trust-host-key", is_flag=True,
              help="Pin the SSH host key the app servers present now (they were created without "
                   "a pinned key); prints each fingerprint to compare with the server's console.")
@click.argument("address", required=False)
@click.argument("resource_id", metavar="ID", required=False)
def adopt(env, config_path, stacks_dir, trust_host_key, address, resource_id):
    """Import ADDRESS (e.g. hcloud_firewall.main) with Hetzner id ID into the state.

    Without ADDRESS and ID: find resources holding this stack's planned names
    that its state does not know, and adopt each one.
    """
    from pipeline.adopt import adopt as adopt_one, find_orphans
    config = load(config_path, env)
    if (address is None) != (resource_id is None):
        raise click.UsageError("give both ADDRESS and ID, or neither (to find orphans)")
    from pipeline.stack import open_session
    from pipeline.target import resolve_target
    target = resolve_target()
    click.echo(target_banner(target), err=True)
    session = open_session(target, config.environment, stacks_dir=stacks_dir)
    if trust_host_key:
        _trust_host_keys(config, session)
        if address is None:
            return
    if address is not None:
        done = adopt_one(session, address, resource_id)
        click.echo(f"adopted {done.address} (id {done.resource_id}) into the state of "
                   f"{config.environment}; run `hetzner-deploy deploy --env "
                   f"{config.environment}` to converge")
        return
    from checks import hetzner_api
    from generator.profile_choice import resolve_profile
    choice = resolve_profile(config, stacks_dir=stacks_dir)
    click.echo(choice.line(), err=True)
    profile = choice.profile
    client = hetzner_api.open_client(target.endpoint, target.token)
    with hetzner_api.api_errors(target.endpoint, hetzner_api.timeout_of(client)):
        orphans = find_orphans(session, client, config, profile)
    if not orphans:
        click.echo(f"no orphans: every planned name in {config.environment} is free or in "
                   f"its state")
        return
    for orphan in orphans:
        done = adopt_one(session, orphan.address, str(orphan.resource_id))
        click.echo(f"adopted {orphan.family[:-1].replace('_', ' ')} '{orphan.name}' as "
                   f"{done.address} (id {done.resource_id})")
    click.echo(f"run `hetzner-deploy deploy --env {config.environment}` to converge")


def _trust_host_keys(config, session) -> None:
    """The explicit trust-on-first-use of an adopted server: never implicit, always shown."""
    from app.service import trust_host_keys
    from pipeline.stack import read_outputs
    for server, fp, new in trust_host_keys(config, read_outputs(session)):
        if new:
            click.echo(f"{server}: pinned the host key it presents now, {fp}; compare it with "
                       f"`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the server's console")
        else:
            click.echo(f"{server}: host key already pinned, {fp} (nothing changed)")

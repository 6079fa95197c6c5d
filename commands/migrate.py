"""`hetzner-deploy migrate status | ttl | import | cutover | rollback | finish`: off the old host."""
from __future__ import annotations

import click

from commands.common import config_option, env_option, load, stacks_dir_option
from errors import ConfigError, RefusedError


def _progress(config_path, env, stacks_dir):
    """The config, the target and the migration's progress: all that status, import and
    finish need (no DNS credentials)."""
    from commands.dns import _workdir
    from domains.migration import Migration, folder_for
    from pipeline.target import resolve_target
    config = load(config_path, env)
    target = resolve_target()
    folder = folder_for(_workdir(target, config, stacks_dir))
    return config, target, Migration(folder, config.dns.zone_for(config.domain))


def _setup(config_path, env, stacks_dir):
    from domains.service import access_for
    config, target, mig = _progress(config_path, env, stacks_dir)
    access = access_for(config, target)
    if access is None:
        raise ConfigError("migrate changes the domain's records: set NAMECHEAP_API_USER, "
                          "NAMECHEAP_API_KEY, NAMECHEAP_USERNAME and NAMECHEAP_CLIENT_IP")
    return config, target, access, mig


def _import(config, target, mig, stacks_dir, yes_i_mean, what: str) -> list[str]:
    """Dump the old host here, restore it on the database server, record it. The local dump
    is removed once restored (it is the team's data); kept, 0600, when anything failed."""
    import json
    import shutil
    from commands.backup import _confirm_env
    from commands.verify import workdir_outputs
    from ops import migrate_import as mi
    from ops.backup_service import each
    old = mi.old_host()
    if config.backup is None:
        raise ConfigError("migrate import restores through the backup agent: add a [backup] "
                          "section to deploy.toml and deploy (see README, Backups)")
    outputs = workdir_outputs(target, config, None, stacks_dir)
    _confirm_env(config.environment, yes_i_mean)
    folder = mi.dump(old, mig.folder / "import")
    manifest = json.loads((folder / "manifest.json").read_text())
    counts = mi.summary({k: manifest[k]["counts"] for k in ("postgres", "redis") if k in manifest})
    lines = [f"{what}: dumped {old.labels()}: {counts}"]
    for t, done in each(config, outputs, lambda conn: mi.import_to(conn, config, folder), what):
        lines.append(f"{t.name}: restored {folder.name}; counts match the old host's")
        lines.append(f"{t.name}: its data from before is backup {done['fresh']}")
        if done["url"]:
            lines.append(f"{t.name}: app healthy at {done['url']}")
    mig.record_import(folder.name, counts)
    shutil.rmtree(folder, ignore_errors=True)
    return lines


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
    *_, mig = _progress(config_path, env, stacks_dir)
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


YES_I_MEAN = click.option("--yes-i-mean", "yes_i_mean", metavar="ENV", default=None,
                          help="Confirm replacing the new server's data by naming the environment.")


@migrate.command("import")
@env_option
@config_option
@stacks_dir_option
@YES_I_MEAN
def import_data(env, config_path, stacks_dir, yes_i_mean):
    """Step 2: copy the current host's data (OLD_DATABASE_URL, OLD_REDIS_URL) to the new server."""
    config, target, mig = _progress(config_path, env, stacks_dir)
    for line in _import(config, target, mig, stacks_dir, yes_i_mean, "import"):
        click.echo(line)


@migrate.command("cutover")
@env_option
@config_option
@click.option("--auto-approve", is_flag=True)
@click.option("--no-data", is_flag=True,
              help="The old host has no data to carry over: cut over without any import.")
@YES_I_MEAN
@stacks_dir_option
def cutover(env, config_path, auto_approve, no_data, yes_i_mean, stacks_dir):
    """Step 3: final data sync, save the old records for a rollback, point the names here, check HTTPS."""
    from commands.verify import workdir_outputs
    from domains.propagation import wait_for
    from domains.service import dns_target
    from ops.migrate_import import given
    config, target, access, mig = _setup(config_path, env, stacks_dir)
    outputs = workdir_outputs(target, config, None, stacks_dir)
    want = dns_target(config, outputs)
    mig.ready()           # refuses before step 1 and before the old TTL has passed
    sync = given() and not no_data
    if not sync and not no_data and not mig.progress.imported_at:
        raise RefusedError("no data imported yet: set OLD_DATABASE_URL / OLD_REDIS_URL (the "
                           "cut-over then syncs them), or pass --no-data if the old host has none")
    _confirm(target, auto_approve,
             ("Writes on the old host are frozen (README, Write freeze)? Final sync, then point "
              if sync else "Point ") + f"{want.zone} at the new deploy?")
    if sync:
        for line in _import(config, target, mig, stacks_dir, yes_i_mean, "final sync"):
            click.echo(line)
    click.echo(mig.cut_over(access.client, want.records))
    wait_for(want.zone, want.records, access.nameservers, access.resolvers,
             deadline_s=config.dns.propagation_timeout_s)
    click.echo("propagated: every name answers the new address")
    if config.tls is not None and config.app is not None:
        from pipeline.phases.tls import wait_https
        click.echo(f"https: {wait_https(config, outputs, target)}")


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
    *_, mig = _progress(config_path, env, stacks_dir)
    click.echo(mig.finish())

"""`backup now | list | status` and `restore --from BACKUP --target scratch|live` (logic in ops/)."""
from __future__ import annotations

import datetime as dt

import click

from commands.common import config_option, echo_json, env_option, json_option, load, stacks_dir_option
from errors import RefusedError


def _context(config_path, env, stacks_dir):
    from commands.terraform import session_for
    from ops.backup_service import _backup_config
    from pipeline.stack import read_outputs
    config = load(config_path, env)
    _backup_config(config)          # no [backup]: one line, before any connection
    return config, read_outputs(session_for(config, stacks_dir))


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def _age(iso: str, now: dt.datetime) -> str:
    hours = (now - dt.datetime.fromisoformat(iso)).total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


@click.group("backup")
def backup() -> None:
    """Backups of PostgreSQL and Redis on the server ([backup] in deploy.toml)."""


@backup.command("now")
@env_option
@config_option
@stacks_dir_option
def now_cmd(env, config_path, stacks_dir):
    """Take a backup now and wait for it (exit non-zero when it fails)."""
    from ops.backup_service import backup_now, each
    config, outputs = _context(config_path, env, stacks_dir)
    for target, name in each(config, outputs, backup_now, "backup now"):
        click.echo(f"{target.name}: backup {name} ok")


@backup.command("list")
@env_option
@config_option
@stacks_dir_option
@json_option
def list_cmd(env, config_path, stacks_dir, as_json):
    """Backups on the server and off-site, newest last, with age and size."""
    from ops.backup_service import each, listing
    config, outputs = _context(config_path, env, stacks_dir)
    found = each(config, outputs, listing, "backup list")
    if as_json:
        echo_json({t.name: {"local": list(r.local), "offsite": r.offsite,
                            "offsite_error": r.offsite_error} for t, r in found})
        return
    now = dt.datetime.now(dt.timezone.utc)
    for target, result in found:
        click.echo(f"{target.name} ({target.address}):")
        places = [("local", result.local)]
        if result.offsite is not None or result.offsite_error:
            places.append(("off-site", result.offsite or ()))
        for where, items in places:
            if not items:
                click.echo(f"  {where:8}  none")
            for item in items:
                click.echo(f"  {where:8}  {item['name']}  {_age(item['time'], now):>8} ago  "
                           f"{_size(item['bytes']):>10}")
        if result.offsite_error:
            click.echo(f"  off-site  listing failed: {result.offsite_error}")


@backup.command("status")
@env_option
@config_option
@stacks_dir_option
@json_option
@click.pass_context
def status_cmd(ctx, env, config_path, stacks_dir, as_json):
    """ok, stale, failed or none; exit 1 unless every server is ok."""
    from ops.backup_service import each, listing
    config, outputs = _context(config_path, env, stacks_dir)
    verdicts = [(t, r.verdict()) for t, r in each(config, outputs, listing, "backup status")]
    if as_json:
        echo_json({t.name: {"status": s, "detail": why} for t, (s, why) in verdicts})
    else:
        for target, (state, why) in verdicts:
            click.echo(f"{target.name}: {state}: {why}")
    if any(state != "ok" for _, (state, _) in verdicts):
        ctx.exit(1)


def _confirm_env(environment: str, yes_i_mean: str | None) -> None:
    """Live restore replaces the data: the environment's name, typed or given by flag."""
    if yes_i_mean is not None:
        if yes_i_mean != environment:
            raise RefusedError(f"--yes-i-mean {yes_i_mean!r} is not this environment "
                               f"({environment!r}); nothing restored")
        return
    from commands.terraform import stdin_is_tty
    if not stdin_is_tty():
        raise RefusedError(f"no terminal to confirm the live restore: rerun with "
                           f"--yes-i-mean {environment}")
    typed = click.prompt(f"This replaces the data of {environment!r}. Type the environment's name",
                         default="", show_default=False).strip()
    if typed != environment:
        raise RefusedError("nothing restored: the name typed is not the environment's")


@click.command("restore")
@env_option
@config_option
@stacks_dir_option
@click.option("--from", "source", required=True, metavar="BACKUP",
              help="The backup's name as `backup list` shows it (e.g. 20261128T031500Z).")
@click.option("--target", "where", type=click.Choice(["scratch", "live"]), default="scratch",
              show_default=True, help="scratch: prove it restores; live: replace the data.")
@click.option("--yes-i-mean", "yes_i_mean", metavar="ENV", default=None,
              help="Confirm a live restore without a prompt by naming the environment.")
def restore(env, config_path, stacks_dir, source, where, yes_i_mean):
    """Restore a backup: into scratch databases (the drill) or over the live data."""
    import re
    from errors import ConfigError
    from ops.backup_service import drill, each, restore_live
    if not re.fullmatch(r"\d{8}T\d{6}Z", source):
        raise ConfigError(f"--from {source!r} is not a backup name like 20261128T031500Z "
                          f"(see `hetzner-deploy backup list`)")
    config, outputs = _context(config_path, env, stacks_dir)
    if where == "scratch":
        for target, said in each(config, outputs, lambda conn: drill(conn, source), "restore"):
            click.echo(f"{target.name}: {said}")
        return
    _confirm_env(config.environment, yes_i_mean)
    for target, done in each(config, outputs, lambda conn: restore_live(conn, config, source),
                             "restore"):
        pg = done["restored"].get("postgres", {})
        redis = done["restored"].get("redis", {})
        click.echo(f"{target.name}: restored {source}: {sum(pg.values())} rows in {len(pg)} "
                   f"tables, {sum(redis.values())} keys; counts match the manifest")
        click.echo(f"{target.name}: the data from before is backup {done['fresh']}")
        if done["url"]:
            click.echo(f"{target.name}: app healthy again at {done['url']}")

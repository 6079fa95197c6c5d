"""`hetzner-deploy dns plan | apply | restore`: the registrar's records, never losing the rest."""
from __future__ import annotations

from pathlib import Path

import click

from commands.common import config_option, env_option, load, stacks_dir_option
from errors import RefusedError


def _context(config_path, env, stacks_dir):
    from commands.verify import workdir_outputs
    from domains.service import access_for, client_for, dns_target
    from pipeline.target import resolve_target
    config = load(config_path, env)
    target = resolve_target()
    outputs = workdir_outputs(target, config, None, stacks_dir)
    access = access_for(config, target)
    return config, target, dns_target(config, outputs), \
        access.client if access else client_for(config)   # client_for names what is missing


def _workdir(target, config, stacks_dir) -> Path:
    from runner.workspace import workspace_for
    kw = {"stacks_dir": stacks_dir} if stacks_dir else {}
    return workspace_for(target.kind, config.environment, **kw).workdir


def confirm(question: str, *, what: str = "the DNS change",
            refused: str = "not changed: not confirmed") -> None:
    """Ask `question` for a literal 'yes'; without a terminal, say to rerun with --auto-approve.
    The one confirmation of every registrar change (dns apply and restore, migrate)."""
    from commands.terraform import stdin_is_tty
    if not stdin_is_tty():
        raise RefusedError(f"no terminal to confirm {what}: rerun with --auto-approve")
    if click.prompt(f"{question} Type 'yes'", default="", show_default=False).strip() != "yes":
        raise RefusedError(refused)


@click.group("dns")
def dns():
    """The domain's records at the registrar (Namecheap)."""


@dns.command("plan")
@env_option
@config_option
@stacks_dir_option
def plan(env, config_path, stacks_dir):
    """Show the zone diff (kept, changed, added) without writing anything."""
    from domains.zone_ops import plan_zone
    config, _, want, client = _context(config_path, env, stacks_dir)
    result = plan_zone(client, want.zone, want.records)
    if config.dns.provider == "hetzner":
        click.echo("dns.provider is hetzner: dns.tf holds the records; this is the Namecheap "
                   "zone, for copying its other records before the nameservers move")
    click.echo(f"zone {want.zone} (EmailType {result.zone.email_type} kept):")
    click.echo("\n".join(result.change.lines()))


@dns.command("apply")
@env_option
@config_option
@click.option("--auto-approve", is_flag=True, help="Write without asking for 'yes'.")
@click.option("--no-wait", is_flag=True, help="Do not wait for propagation.")
@stacks_dir_option
def apply(env, config_path, auto_approve, no_wait, stacks_dir):
    """Back up the zone, merge our records in, write, read back, wait for propagation."""
    from domains.propagation import wait_for
    from domains.service import backup_dir
    from domains.zone_ops import apply_zone, plan_zone
    if load(config_path, env).dns.provider == "hetzner":
        # Writing Namecheap here would fork the records from the stack's dns.tf.
        raise RefusedError("dns.provider is hetzner: the records are in the stack's dns.tf and "
                           "`deploy` applies them (dns plan still shows the Namecheap zone)")
    config, target, want, client = _context(config_path, env, stacks_dir)
    planned = plan_zone(client, want.zone, want.records)
    click.echo("\n".join(planned.change.lines()))
    if planned.change.has_changes and not (auto_approve or target.is_sandbox):
        confirm("Write these records?", refused="not written: the DNS change was not confirmed")
    result = apply_zone(client, want.zone, want.records,
                        backup_dir(_workdir(target, config, stacks_dir)), plan=planned)
    click.echo(f"written; backup {result.backup}" if result.written else "nothing to write")
    if not no_wait:
        from domains.service import access_for
        access = access_for(config, target)
        wait_for(want.zone, want.records, access.nameservers,
                 access.resolvers, deadline_s=config.dns.propagation_timeout_s,
                 on_round=lambda stage, answers: click.echo(
                     f"  {stage}: {sum(a.ok for a in answers)}/{len(answers)} records answer",
                     err=True))
        click.echo("propagated: every record answers the intended address")


@dns.command("restore")
@click.option("--from", "source", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A zone backup written before an earlier change.")
@env_option
@config_option
@click.option("--auto-approve", is_flag=True)
def restore(source, env, config_path, auto_approve):
    """Write a backup back exactly (the current zone is backed up first)."""
    import os

    from domains.namecheap import ENV_VARS
    from domains.service import access_for, client_for
    from domains.zone_ops import read_backup, restore_zone
    from pipeline.target import resolve_target
    config = load(config_path, env)
    # A backup holds no address of this deploy: with credentials in the environment it goes
    # back to that account; without, to the sandbox's registrar when the sandbox is the target.
    access = None if any(os.environ.get(v, "").strip() for v in ENV_VARS) \
        else access_for(config, resolve_target(start_sandbox=False))
    backup = read_backup(source)
    if not auto_approve:
        confirm(f"Replace the zone {backup.domain} with {source.name}?", what="the restore",
                refused="not restored: not confirmed")
    client = access.client if access else client_for(config)   # client_for names what is missing
    result = restore_zone(client, backup, source.parent)
    click.echo(f"restored {backup.domain} from {source.name}" if result.written
               else f"{backup.domain} already matches {source.name}")

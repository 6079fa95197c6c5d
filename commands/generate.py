"""`generate` and `check`: render the stack, and prove it is right."""
from __future__ import annotations

import click

from commands.common import config_option, env_option, load, stacks_dir_option, warn_ssh_open
from errors import ValidationError
from generator.profile_choice import resolve_profile
from generator.profiles import PROFILE_NAMES
from generator.render import generate as render_generate
from generator.validate import check_all


# What a status line adds: a dry run says what it would do; kept and unknown
# files are not ours, and say so.
_FILE_NOTES = {
    (True, "create"): " ({verb} write)", (True, "update"): " ({verb} write)",
    (True, "delete"): " ({verb} delete: rendered before, not by this profile)",
    (False, "delete"): " (rendered before, not by this profile)",
    (True, "kept"): " (hand-written)", (False, "kept"): " (hand-written)",
    (True, "unknown"): " (not generated: `check` fails until it is removed or renamed *.local.tf)",
    (False, "unknown"): " (not generated: `check` fails until it is removed or renamed *.local.tf)",
}


@click.command("generate")
@click.option("--profile", type=click.Choice(PROFILE_NAMES), default=None,
              help="Profile to render (default: the config's, else the recommended one).")
@env_option
@config_option
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--check/--no-check", "run_check", default=False,
              help="Run `check` after generating.")
@stacks_dir_option
def generate(profile, env, config_path, dry_run, run_check, stacks_dir):
    """Render terraform/stacks/<env>/ from a profile and deploy.toml."""
    config = load(config_path, env)
    warn_ssh_open(config)
    choice = resolve_profile(config, profile, stacks_dir=stacks_dir)
    result = render_generate(config, choice.name, stacks_dir=stacks_dir, dry_run=dry_run)
    verb = "would" if dry_run else ""
    click.echo(f"stack {result.environment}: {choice.line()}")
    for f in result.files:
        click.echo(f"  {f.status:<9} {result.stack_dir.name}/{f.name}"
                   + _FILE_NOTES.get((dry_run, f.status), "").format(verb=verb))
    for server in result.new_host_keys:
        click.echo(f"  host key  {server}: created, pinned (outside the repo; the app phase trusts only it)")
    if run_check and not dry_run:
        _run_check(config, stacks_dir)


def _run_check(config, stacks_dir) -> None:
    results = check_all(config, stacks_dir)
    for r in results:
        click.echo(f"{'ok  ' if r.ok else 'FAIL'} {r.name}")
        for problem in r.problems:
            click.echo(f"     {problem}")
        for note in r.notes:
            click.echo(f"     note: {note}")
    failed = [r for r in results if not r.ok]
    if failed:
        first = failed[0]
        raise ValidationError(f"check failed: {first.name}: {first.problems[0]}"
                              + (f" (+{sum(len(r.problems) for r in failed) - 1} more)"
                                 if sum(len(r.problems) for r in failed) > 1 else ""))


@click.command("check")
@config_option
@stacks_dir_option
def check(config_path, stacks_dir):
    """Parse, format-check, schema-check and staleness-check every stack."""
    _run_check(load(config_path), stacks_dir)

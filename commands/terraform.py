"""`plan`, `apply`, `outputs` and `destroy`: the stack's lifecycle, one command each."""
from __future__ import annotations

import sys
import threading
from pathlib import Path

import click

from commands.common import (accept_data_loss_option, allow_replace_option, auto_approve_option,
                             config_option, echo_json,
                             env_option, json_option, load, stacks_dir_option)
from commands.progress_view import ConsoleProgress
from errors import InterruptedRun, RefusedError
from pipeline.review import check_safety
from pipeline.stack import ApplyResult, Session, apply_saved, make_plan, open_session, read_outputs
from runner.plan import PlanSummary
from runner.plan_format import to_dict, to_markdown, to_text


def stdin_is_tty() -> bool:
    """Whether a human can answer a prompt (tests patch this)."""
    return sys.stdin.isatty()


def target_banner(target) -> str:
    if target.is_sandbox:
        return (f"target: local sandbox at {target.endpoint} (no HCLOUD_TOKEN, or the "
                "sandbox's own endpoint: nothing real is created)")
    return f"target: Hetzner Cloud ({target.endpoint})"


def session_for(config, stacks_dir: Path | None, *, quiet: bool = False) -> Session:
    from pipeline.target import resolve_target
    target = resolve_target(machines=getattr(config, "app", None) is not None)
    click.echo(target_banner(target), err=True)
    return open_session(target, config.environment, stacks_dir=stacks_dir)


def _stale_warning(config, stacks_dir: Path | None) -> None:
    try:
        from generator.freshness import stale_files
        stale = stale_files(config, config.environment, stacks_dir)
    except Exception:  # staleness is advice here; `check` reports it properly
        return
    if stale:
        click.echo(f"warning: the stack differs from what deploy.toml would generate "
                   f"({', '.join(stale)}); run `hetzner-deploy generate` to update it", err=True)


def print_summary(summary: PlanSummary, fmt: str) -> None:
    if fmt == "json":
        echo_json(to_dict(summary))
    elif fmt == "markdown":
        click.echo(to_markdown(summary), nl=False)
    else:
        click.echo(to_text(summary))


def interrupted_error(result: ApplyResult, env: str) -> InterruptedRun:
    return InterruptedRun(f"interrupted: terraform stopped cleanly after "
                          f"{len(result.completed)} resource(s) and saved its state; run "
                          f"`hetzner-deploy deploy --env {env}` again to converge "
                          f"(log: {result.log_path})")


def ask_yes(summary: PlanSummary | str, prompt: str = "Apply this plan? Type 'yes' to go on") -> bool:
    """A plan summary, or a phase's own text (the DNS change), then 'yes'."""
    click.echo(summary if isinstance(summary, str) else to_text(summary))
    return click.prompt(prompt, default="", show_default=False).strip() == "yes"


@click.command("plan")
@env_option
@config_option
@json_option
@click.option("--markdown", "as_markdown", is_flag=True,
              help="Print the summary as markdown for a pull-request comment.")
@stacks_dir_option
def plan(env, config_path, as_json, as_markdown, stacks_dir):
    """Plan the stack, save the plan, and summarise it (with the cost change)."""
    config = load(config_path, env, quiet=as_json)
    from generator.profile_choice import resolve_profile
    click.echo(resolve_profile(config, stacks_dir=stacks_dir).line(), err=True)
    session = session_for(config, stacks_dir)
    # The staleness check renders the stack (and runs terraform fmt): do it
    # while terraform plans rather than before.
    # Attribute-level detail and the cost need `terraform show -json`, which
    # starts every provider again: only for a reader (a terminal, markdown or
    # JSON). Text into a pipe or a log gets actions and counts from the plan's
    # own -json stream; a replace or delete is known from it as well.
    detail = as_json or as_markdown or sys.stdout.isatty()
    stale = threading.Thread(target=_stale_warning, args=(config, stacks_dir), daemon=True)
    stale.start()
    result = make_plan(session, config, detail=detail)
    stale.join()
    init = (f"init: ran ({result.init.reason})" if result.init.ran
            else "init: skipped (providers, lock file and backend unchanged)")
    click.echo(init, err=True)
    print_summary(result.summary, "json" if as_json else "markdown" if as_markdown else "text")
    if result.summary.has_changes and not detail:
        click.echo("(attributes and cost are shown on a terminal, or with --markdown or --json)",
                   err=True)
    if result.summary.has_changes and not as_json:
        click.echo(f"saved plan: {session.ws.planfile} "
                   f"(apply it with `hetzner-deploy apply --env {config.environment}`)", err=True)


@click.command("apply")
@env_option
@config_option
@json_option
@auto_approve_option
@allow_replace_option
@accept_data_loss_option
@stacks_dir_option
def apply(env, config_path, as_json, auto_approve, allow_replace, accept_data_loss, stacks_dir):
    """Apply the saved plan (never re-plans); refuses a stale one."""
    config = load(config_path, env, quiet=as_json)
    session = session_for(config, stacks_dir)
    progress = ConsoleProgress(quiet=as_json)

    def approve(summary: PlanSummary) -> bool:
        if auto_approve:
            if not as_json:
                click.echo(to_text(summary))
            return True
        if not stdin_is_tty():
            raise RefusedError("no terminal to confirm the plan: rerun with --auto-approve "
                               "after reviewing `hetzner-deploy plan`")
        return ask_yes(summary)

    result = apply_saved(session, config, allow_replace=allow_replace,
                         accept_data_loss=accept_data_loss, progress=progress, approve=approve)
    if result.interrupted:
        raise interrupted_error(result, config.environment)
    if as_json:
        echo_json({"applied": True, "summary": to_dict(result.summary),
                   "completed": list(result.completed), "log": str(result.log_path)})
    else:
        click.echo(f"applied: {len(result.completed)} resource(s); log {result.log_path}")


@click.command("outputs")
@env_option
@config_option
@json_option
@stacks_dir_option
def outputs(env, config_path, as_json, stacks_dir):
    """Show the stack's outputs (server IPs, volume, ids)."""
    config = load(config_path, env, quiet=True)
    out = read_outputs(session_for(config, stacks_dir))
    if as_json:
        echo_json(out.as_dict())
        return
    click.echo("\n".join(output_lines(out)))


def output_lines(out) -> list[str]:
    """The outputs for a person: one line per host by role, then the shared resources."""
    lines = []
    for h in out.hosts:
        addresses = "  ".join(a for a in (h.ipv4, h.ipv6, h.private_ip and f"private {h.private_ip}")
                              if a)
        volume = f"  volume {h.volume_device}" if h.volume_device else ""
        lines.append(f"{h.role:<12} {h.name}  {addresses}{volume}")
    if out.load_balancer_ipv4:
        lines.append(f"{'lb':<12} {out.load_balancer_ipv4}  {out.load_balancer_ipv6 or ''}".rstrip())
    lines.append(f"{'volume_id':<12} {out.volume_id}")
    lines.append(f"{'ssh_key_id':<12} {out.ssh_key_id}")
    return lines


@click.command("destroy")
@env_option
@config_option
@click.option("--confirm", "confirm_env", metavar="ENV", default=None,
              help="The environment's name, to confirm without a prompt.")
@click.option("--destroy-volume", is_flag=True,
              help="Also destroy the protected data volume (its data is lost).")
@stacks_dir_option
def destroy(env, config_path, confirm_env, destroy_volume, stacks_dir):
    """Destroy every resource of an environment (asks for its name)."""
    config = load(config_path, env)
    name = config.environment
    if confirm_env is None:
        if not stdin_is_tty():
            raise RefusedError(f"destroy needs confirmation: pass --confirm {name}")
        confirm_env = click.prompt(f"Type the environment's name ({name}) to destroy it",
                                   default="", show_default=False).strip()
    if confirm_env != name:
        raise RefusedError(f"not destroyed: confirmation {confirm_env!r} does not match "
                           f"the environment {name!r}")
    session = session_for(config, stacks_dir)
    # With --destroy-volume, delete protection is lifted (applied) first: the
    # provider does not lift it on destroy, and Hetzner would refuse the delete.
    from pipeline.destroy import plan_destroy
    result = plan_destroy(session, config, destroy_volume=destroy_volume,
                          progress=ConsoleProgress())
    if not result.summary.has_changes:
        click.echo(f"nothing to destroy in {name}")
        return
    click.echo(to_text(result.summary))
    check_safety(result.summary, allow_replace=True)
    done = apply_saved(session, config, allow_replace=True, progress=ConsoleProgress())
    if done.interrupted:
        raise interrupted_error(done, name)
    from pipeline.checkpoint import Checkpoint
    Checkpoint(session.ws.data_dir / "checkpoint.json").forget()
    click.echo(f"destroyed: {len(done.completed)} resource(s) in {name}; log {done.log_path}")

"""`hetzner-deploy verify`: the team's infrastructure check, as a command.

Before a deploy: API, inventory, name conflicts, availability, local
prerequisites, security warnings, cost, verdict. With --after: the
post-deploy checklist against the stack's outputs. Exit 0 when ready, 1 when
something blocks (with numbered next actions), 5 when the API could not be
used (after printing everything that could be checked locally).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from commands.common import config_option, echo_json, env_option, json_option, load
from errors import TerraformError, ApiError, ConfigError
from generator.config import DeployConfig
from pricing.estimate import cents, plain
from generator.profile_choice import resolve_profile
from generator.profiles import PROFILE_NAMES
from checks.base import FAIL, NOT_CHECKED, OK, WARN
from checks.preflight import VerifyReport, run_preflight

MARKS = {OK: "[green]ok[/]", WARN: "[yellow]warn[/]", FAIL: "[red]FAIL[/]",
         NOT_CHECKED: "[dim]not checked[/]"}
SECTIONS = (("api", "API"), ("prerequisites", "Prerequisites"), ("security", "Security"),
            ("conflicts", "Name conflicts"), ("availability", "Availability"),
            ("cost", "Cost"), ("after", "After deploy"))


def read_outputs(path: Path | None):
    """Outputs for --after: a `terraform output -json` file, else read from the work dir."""
    if path is None:
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--outputs: file not found: {path}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--outputs: {path.name} is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"--outputs: {path.name} must hold a JSON object")
    from runner.outputs import parse_outputs
    try:
        return parse_outputs(doc)
    except TerraformError as exc:
        raise ConfigError(f"--outputs: {path.name}: {exc.message}") from None


def workdir_outputs(target, config: DeployConfig, workdir: Path | None,
                    stacks_dir: Path | None = None):
    """`terraform output -json` of this target's work dir, parsed by the runner."""
    from runner.outputs import parse_outputs
    from runner.terraform import Terraform, terraform_env
    from runner.workspace import workspace_for
    kw = {"stacks_dir": stacks_dir} if stacks_dir else {}
    directory = workdir or workspace_for(target.kind, config.environment, **kw).workdir
    if not directory.is_dir():
        raise ConfigError(f"no work dir {directory}: deploy this environment first "
                          "(or pass --outputs FILE)")
    tf = Terraform(directory, terraform_env(extra=target.terraform_env))
    return parse_outputs(tf.output())


def _inventory_table(report: VerifyReport) -> Table:
    table = Table(title="Inventory", title_justify="left")
    for col in ("Resource type", "Status", "Count", "Names"):
        table.add_column(col)
    for fam in report.inventory.families:
        status = "[dim]empty[/]" if fam.count == 0 else "present"
        table.add_row(fam.title, status, str(fam.count), escape(", ".join(fam.names)) or "-")
    return table


def _checks_table(report: VerifyReport) -> Table:
    table = Table(title=f"Checks ({report.mode} deploy)", title_justify="left")
    for col in ("Section", "Check", "Status", "Detail"):
        table.add_column(col)
    order = {key: i for i, (key, _) in enumerate(SECTIONS)}
    titles = dict(SECTIONS)
    for check in sorted(report.checks, key=lambda c: order.get(c.section, 99)):
        # Details and names are data, not markup: "[backup]" must print as written.
        table.add_row(titles.get(check.section, check.section), escape(check.name),
                      MARKS[check.status], escape(check.detail))
    return table


def render(report: VerifyReport, console: Console) -> None:
    console.print(f"Target: [bold]{report.target_kind}[/] ({report.endpoint_host})  "
                  f"profile {report.profile}, environment {report.environment}, "
                  f"location {report.location}", highlight=False)
    if report.inventory is not None:
        console.print(_inventory_table(report))
        if report.ownership:
            console.print(f"Ownership decided by {report.ownership}.", highlight=False)
    console.print(_checks_table(report))
    cost = report.cost
    if cost is not None and cost.estimate is not None:
        est = cost.estimate
        console.print(f"Cost ({cost.label}):", highlight=False)
        for item in est.items:
            console.print(f"  {item.name}: {item.quantity} x {plain(item.unit_eur)} = "
                          f"€{cents(item.monthly_eur)}", highlight=False)
        console.print(f"  total €{cents(est.total_monthly_eur)}/month; {est.current_host} "
                      f"today €{cents(est.current_host_monthly_eur)}/month", highlight=False)
        if cost.problem:
            console.print(f"  note: {cost.problem}", highlight=False, markup=False)
    if report.ready:
        console.print("[bold green]Verdict: ready[/]" + (
            " (with warnings)" if report.warnings else ""))
    else:
        console.print("[bold red]Verdict: not ready[/]")
    if report.next_actions:
        console.print("Next actions:")
        for i, action in enumerate(report.next_actions, 1):
            # soft_wrap: a command in an action must stay copy-pasteable on one line.
            console.print(f"  {i}. {action}", highlight=False, markup=False, soft_wrap=True)


@click.command()
@config_option
@env_option
@json_option
@click.option("--profile", "profile_name", type=click.Choice(PROFILE_NAMES), default=None,
              help="Profile to check for (default: deploy.toml, the generated stack, or sizing).")
@click.option("--after", is_flag=True, help="Post-deploy checklist against the stack outputs.")
@click.option("--outputs", "outputs_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="With --after: a `terraform output -json` file to check.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Terraform work dir (default: the target's own).")
@click.option("--timeout", "deadline_s", type=click.FloatRange(1, 600), default=30.0,
              show_default=True, help="Give up on the API after this many seconds, retries included.")
@click.option("--stacks-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              hidden=True, help="Where the stacks live (default terraform/stacks).")
def verify(config_path, env, as_json, profile_name, after, outputs_path, workdir,
           deadline_s, stacks_dir) -> None:
    """Check that a deploy can go ahead (or, with --after, that it went right)."""
    from pipeline.target import resolve_target
    config = load(config_path, env, quiet=as_json)
    choice = resolve_profile(config, profile_name, stacks_dir=stacks_dir)
    if not as_json:
        click.echo(choice.line(), err=True)
    profile = choice.profile
    target = resolve_target()
    outputs = None
    if after:
        outputs = read_outputs(outputs_path)
        if outputs is None:
            outputs = workdir_outputs(target, config, workdir, stacks_dir)
    report = run_preflight(config, profile, target, after=after, outputs=outputs,
                           workdir=workdir, stacks_dir=stacks_dir, deadline_s=deadline_s,
                           environ=os.environ)
    if as_json:
        echo_json(report.as_json())
    else:
        render(report, Console(highlight=False, soft_wrap=False))
    if report.api_error:
        raise ApiError(report.api_error)
    if not report.ready:
        raise click.exceptions.Exit(1)

"""Options and helpers shared by the commands. Only CLI code prints."""
from __future__ import annotations

import json
from pathlib import Path

import click

from generator.config import DeployConfig, load_config, with_environment
from generator.config import STACKS

config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
    default=None, help="deploy.toml to read (default: ./deploy.toml, else deploy.example.toml).")
env_option = click.option("--env", "env", default=None, metavar="ENV",
                          help="Environment (default: project.environment from the config).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
stacks_dir_option = click.option(
    "--stacks-dir", type=click.Path(file_okay=False, path_type=Path), default=STACKS,
    show_default="terraform/stacks", help="Where the stacks live.")
auto_approve_option = click.option("--auto-approve", is_flag=True,
                                   help="Apply without asking for 'yes'.")
allow_replace_option = click.option(
    "--allow-replace", is_flag=True,
    help="Allow a plan that replaces or deletes a server or DNS zone (not the data: "
         "see --accept-data-loss).")
accept_data_loss_option = click.option(
    "--accept-data-loss", is_flag=True,
    help="Allow a plan that replaces or deletes the data volume or the server holding it "
         "(all-in-one or db): its data can be lost.")


def load(config_path: Path | None, env: str | None = None, quiet: bool = False) -> DeployConfig:
    """Load the config; say so on stderr when the committed example is used."""
    config = load_config(config_path)
    if config.from_example and not quiet:
        click.echo(f"note: no deploy.toml, using {config.source.name}", err=True)
    return with_environment(config, env) if env is not None else config


def warn_ssh_open(config: DeployConfig) -> None:
    if config.ssh_open_to_world:
        click.echo("warning: SSH (port 22) is open to the world; narrow ssh.allow "
                   "in deploy.toml to your own addresses", err=True)


def echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))

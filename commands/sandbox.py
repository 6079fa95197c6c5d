"""`hetzner-deploy sandbox up|down|status|env`: the local Hetzner Cloud stand-in."""
from __future__ import annotations

import json
import shlex

import click

from sandbox import manager


def _counts_line(info: manager.SandboxInfo) -> str:
    held = {k: v for k, v in sorted(info.counts.items()) if v}
    return ", ".join(f"{v} {k}" for k, v in held.items()) or "no resources"


@click.group("sandbox")
def sandbox() -> None:
    """Run a local Hetzner Cloud API emulator and the offline Terraform provider."""


@sandbox.command("up")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port to listen on (default: a free one).")
@click.option("--machines", is_flag=True,
              help="Boot a real machine (network namespace, sshd, Docker) for every running server; needs root.")
def up_cmd(port: int | None, machines: bool) -> None:
    """Start the sandbox (does nothing if it already runs)."""
    info = manager.up(port=port, machines=machines)
    click.echo(f"sandbox running on {info.endpoint} (pid {info.pid})")
    if machines:
        click.echo(f"  machines:        {info.directory / 'machines'} (images from {info.directory / 'images'})")
    if info.namecheap_endpoint:
        click.echo(f"  Namecheap API:   {info.namecheap_endpoint} (account sandbox); "
                   f"DNS for its zones on {info.dns_server}")
    click.echo(f"  state and logs:  {info.directory}")
    click.echo(f"  provider mirror: {info.mirror_dir}")
    click.echo(f"  terraform CLI config: {info.cli_config_file}")
    click.echo('  use it from a shell: eval "$(hetzner-deploy sandbox env)"')


@sandbox.command("down")
def down_cmd() -> None:
    """Stop the sandbox; its resources are kept for the next `up`."""
    info = manager.down()
    click.echo(f"sandbox stopped (state kept in {info.directory})")


@sandbox.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def status_cmd(as_json: bool) -> None:
    """Show whether the sandbox runs and what it holds."""
    info = manager.status()
    if as_json:
        click.echo(json.dumps(info.as_dict(), indent=2, sort_keys=True))
        return
    if not info.running:
        click.echo(f"sandbox not running (directory {info.directory})")
        return
    click.echo(f"sandbox running on {info.endpoint} (pid {info.pid}): {_counts_line(info)}")


@sandbox.command("env")
def env_cmd() -> None:
    """Print `export` lines pointing hcloud, Terraform and this tool at the sandbox."""
    for key, value in sorted(manager.shell_env(manager.status()).items()):
        click.echo(f"export {key}={shlex.quote(value)}")

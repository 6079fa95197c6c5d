"""hetzner-deploy command line: option parsing and error reporting only.

`make deploy PROFILE=ccx33` path: deploy -> phases.pipeline (preflight,
generate, plan, review, apply, outputs). Every command lives in a small
module under commands/; this file wires them and owns the error boundary.
"""
from __future__ import annotations

import sys

import click

from errors import DeployError


class _Group(click.Group):
    """Turns DeployError into one line on stderr and its exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DeployError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except click.UsageError as exc:
            # One line instead of click's usage block: bad input is one line.
            hint = f" (see: hetzner-deploy {exc.ctx.command_path.split(' ', 1)[-1]} --help)" \
                if exc.ctx and exc.ctx.parent else ""
            click.echo(f"error: {exc.format_message()}{hint}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group)
@click.version_option("0.1.0", prog_name="hetzner-deploy")
def cli() -> None:
    """From an empty Hetzner Cloud project to an app live on HTTPS."""


from commands.recommend import recommend  # noqa: E402
from commands.cost import cost  # noqa: E402

cli.add_command(recommend)
cli.add_command(cost)

from commands.generate import check, generate  # noqa: E402

cli.add_command(generate)
cli.add_command(check)

from commands.verify import verify  # noqa: E402

cli.add_command(verify)

from commands.terraform import apply, destroy, outputs, plan  # noqa: E402
from commands.deploy import deploy  # noqa: E402

for _cmd in (plan, apply, outputs, destroy, deploy):
    cli.add_command(_cmd)

from commands.sandbox import sandbox  # noqa: E402

cli.add_command(sandbox)

if __name__ == "__main__":
    sys.exit(cli())

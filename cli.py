"""hetzner-deploy command line: option parsing and error reporting only.

`make deploy PROFILE=ccx33` path: commands/deploy.py -> pipeline/deploy.py ->
pipeline/engine.py running pipeline/phases/ (preflight, generate, infra, outputs). Every command lives in a
small module under commands/; this file names them and owns the error boundary.
"""
from __future__ import annotations

import importlib
import sys

import click

from errors import DeployError

# command -> "module:attribute". Imported only when run (or listed by --help),
# so a no-op `deploy` does not pay for every other command's imports.
COMMANDS = {
    "recommend": "commands.recommend:recommend",
    "cost": "commands.cost:cost",
    "generate": "commands.generate:generate",
    "check": "commands.generate:check",
    "verify": "commands.verify:verify",
    "plan": "commands.terraform:plan",
    "apply": "commands.terraform:apply",
    "outputs": "commands.terraform:outputs",
    "destroy": "commands.terraform:destroy",
    "adopt": "commands.adopt:adopt",
    "deploy": "commands.deploy:deploy",
    "switch": "commands.switch:switch",
    "sandbox": "commands.sandbox:sandbox",
    "ci": "commands.ci:ci",
    "dns": "commands.dns:dns",
    "migrate": "commands.migrate:migrate",
    "app": "commands.app:app",
    "backup": "commands.backup:backup",
    "restore": "commands.backup:restore",
    "rollback": "commands.rollback:rollback",
    "drift": "commands.drift:drift",
    "diagram": "commands.diagram:diagram",
}
# Commands whose exit status 2 is a result ("drift found"), not an error: for
# them an error that would exit 2 (usage, config) exits 64 (EX_USAGE) instead,
# so cron and CI never read a typo as drift.
RESULT_CODE_2 = {"drift"}
USAGE_EXIT_WHEN_2_IS_RESULT = 64


class _Group(click.Group):
    """Loads commands lazily; turns DeployError into one line and its exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module), attribute)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name, command, rest = super().resolve_command(ctx, args)
        ctx.meta["hetzner_deploy.command"] = name
        return name, command, rest

    @staticmethod
    def _code(ctx: click.Context, code: int) -> int:
        if code == 2 and ctx.meta.get("hetzner_deploy.command") in RESULT_CODE_2:
            return USAGE_EXIT_WHEN_2_IS_RESULT
        return code

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DeployError as exc:
            for line in getattr(exc, "log_tail", ()):   # a failed release's container logs
                click.echo(f"  | {line}", err=True)
            click.echo(f"error: {exc}", err=True)
            ctx.exit(self._code(ctx, exc.exit_code))
        except click.UsageError as exc:
            # One line instead of click's usage block: bad input is one line.
            hint = f" (see: hetzner-deploy {exc.ctx.command_path.split(' ', 1)[-1]} --help)" \
                if exc.ctx and exc.ctx.parent else ""
            click.echo(f"error: {exc.format_message()}{hint}", err=True)
            ctx.exit(self._code(ctx, exc.exit_code))
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group)
@click.version_option("0.1.0", prog_name="hetzner-deploy")
def cli() -> None:
    """From an empty Hetzner Cloud project to an app live on HTTPS."""


if __name__ == "__main__":
    sys.exit(cli())

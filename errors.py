"""The project's one error hierarchy.

Every expected failure is a DeployError; cli.py turns it into one line on
stderr and its exit code. Anything else is a bug and may show a traceback.
"""
from __future__ import annotations


class DeployError(Exception):
    """Base of every expected failure."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(DeployError):
    """Bad input: deploy.toml, CLI options, missing files."""

    exit_code = 2


class ValidationError(DeployError):
    """`check` found generated files that are wrong or stale."""

    exit_code = 3


class CommandError(DeployError):
    """An external process failed. Carries argv, status and stderr tail."""

    exit_code = 4

    def __init__(self, message: str, argv: list[str] | None = None,
                 returncode: int | None = None, stderr_tail: str = "",
                 diagnostics: list[str] | None = None):
        super().__init__(message)
        self.argv = list(argv or [])
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        self.diagnostics = list(diagnostics or [])


class TerraformError(CommandError):
    """terraform exited non-zero; diagnostics come from its -json stream."""


class ApiError(DeployError):
    """The Hetzner (or sandbox) API refused or could not be reached."""

    exit_code = 5


class SandboxError(DeployError):
    """The local sandbox could not be started, found or stopped."""

    exit_code = 6


class RefusedError(DeployError):
    """A safety rule refused the operation (data loss, stale plan, no confirmation)."""

    exit_code = 7


class InterruptedRun(DeployError):
    """SIGINT, SIGTERM or SIGHUP stopped a run; children were stopped cleanly first."""

    exit_code = 130


class RemoteError(DeployError):
    """An SSH step failed: unreachable host, host key mismatch, timeout, non-zero remote exit."""

    exit_code = 8

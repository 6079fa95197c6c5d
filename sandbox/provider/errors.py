"""Turn hcloud client failures into one-line diagnostics."""
from __future__ import annotations

from hcloud import APIException
from hcloud.actions import ActionFailedException, ActionTimeoutException


class PlanRefused(Exception):
    """A change the stand-in (like the real provider) will not make."""


def describe(exc: BaseException) -> str:
    if isinstance(exc, PlanRefused):
        return str(exc)
    if isinstance(exc, APIException):
        return f"API error {exc.code}: {exc.message}"
    if isinstance(exc, ActionFailedException):
        action = exc.action
        return f"action {action.command} failed: {getattr(action, 'error', None)}"
    if isinstance(exc, ActionTimeoutException):
        return f"action {exc.action.command} timed out"
    return f"{type(exc).__name__}: {exc}"


def is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, APIException) and exc.code == "not_found"

"""Turn hcloud client failures into one-line diagnostics.

hcloud is imported inside the functions: by the time an error needs
describing the client has been imported anyway, and a start-up that only
serves schemas should not pay for it.
"""
from __future__ import annotations


class PlanRefused(Exception):
    """A change the stand-in (like the real provider) will not make."""


def describe(exc: BaseException) -> str:
    if isinstance(exc, PlanRefused):
        return str(exc)
    from hcloud import APIException
    from hcloud.actions import ActionFailedException, ActionTimeoutException
    if isinstance(exc, APIException):
        return f"API error {exc.code}: {exc.message}"
    if isinstance(exc, ActionFailedException):
        action = exc.action
        return f"action {action.command} failed: {getattr(action, 'error', None)}"
    if isinstance(exc, ActionTimeoutException):
        return f"action {exc.action.command} timed out"
    return f"{type(exc).__name__}: {exc}"


def is_not_found(exc: BaseException) -> bool:
    from hcloud import APIException
    return isinstance(exc, APIException) and exc.code == "not_found"

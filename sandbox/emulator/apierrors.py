"""API errors in the shape the real Hetzner Cloud API sends them.

Statuses follow Hetzner's documented error table (docs.hetzner.cloud,
"Errors" -> "Error Codes", 2026) and the operation-specific tables in the
OpenAPI description (../shared/hetzner_cloud_openapi.json):
    400 json_error            401 unauthorized, token_readonly
    403 forbidden, maintenance, resource_limit_exceeded
    404 not_found             405 method_not_allowed
    409 uniqueness_error, conflict
    410 deprecated_api_endpoint (details.announcement links the changelog)
    412 resource_unavailable  422 invalid_input, service_error, unsupported_error
                              and every operation-specific code (server_not_stopped,
                              resource_in_use, must_be_unassigned, ...)
    423 locked, protected     429 rate_limit_exceeded
    500 server_error          503 unavailable       504 timeout
"""
from __future__ import annotations


class ApiFault(Exception):
    """Raised anywhere in a handler; the HTTP layer turns it into the error body."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details if details is not None else {}
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def not_found(what: str = "resource") -> ApiFault:
    return ApiFault(404, "not_found", f"{what} not found")


def invalid_input(message: str, **fields: str) -> ApiFault:
    """`fields` maps each offending field to its message (details.fields, as the API does)."""
    return ApiFault(422, "invalid_input", message,
                    {"fields": [{"name": k, "messages": [v]} for k, v in fields.items()]})


def uniqueness(field: str = "name") -> ApiFault:
    return ApiFault(409, "uniqueness_error", f"{field} is already used",
                    {"fields": [{"name": field}]})


def protected(what: str) -> ApiFault:
    return ApiFault(423, "protected", f"cannot delete {what}: delete protection is enabled")


def unprocessable(code: str, message: str) -> ApiFault:
    """An operation-specific error: the OpenAPI tables give them all 422."""
    return ApiFault(422, code, message)


def locked(what: str) -> ApiFault:
    return ApiFault(423, "locked", f"{what} is locked: another action is still running on it")


def gone(what: str, announcement: str) -> ApiFault:
    """A removed endpoint, in the documented `deprecated_api_endpoint` shape."""
    return ApiFault(410, "deprecated_api_endpoint", f"API functionality was removed: {what}",
                    {"announcement": announcement})


# status -> (code, message) for injected faults; 429 follows the API's rate limiter.
FAULT_CODES = {
    429: ("rate_limit_exceeded", "limit of requests per hour reached"),
    500: ("server_error", "internal server error (injected by the sandbox)"),
    502: ("bad_gateway", "bad gateway (injected by the sandbox)"),
    503: ("unavailable", "service temporarily unavailable (injected by the sandbox)"),
    504: ("timeout", "request timed out (injected by the sandbox)"),
}

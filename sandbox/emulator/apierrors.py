"""API errors in the shape the real Hetzner Cloud API sends them."""
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
    return ApiFault(400, "invalid_input", message,
                    {"fields": [{"name": k, "messages": [v]} for k, v in fields.items()]})


def uniqueness(field: str = "name") -> ApiFault:
    return ApiFault(409, "uniqueness_error", f"{field} is already used",
                    {"fields": [{"name": field}]})


def protected(what: str) -> ApiFault:
    return ApiFault(423, "protected", f"cannot delete {what}: delete protection is enabled")


def conflict(code: str, message: str, status: int = 409) -> ApiFault:
    return ApiFault(status, code, message)


# status -> (code, message) for injected faults; 429 follows the API's rate limiter.
FAULT_CODES = {
    429: ("rate_limit_exceeded", "limit of requests per hour reached"),
    500: ("server_error", "internal server error (injected by the sandbox)"),
    502: ("bad_gateway", "bad gateway (injected by the sandbox)"),
    503: ("unavailable", "service temporarily unavailable (injected by the sandbox)"),
    504: ("timeout", "request timed out (injected by the sandbox)"),
}

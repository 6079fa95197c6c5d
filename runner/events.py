"""Parse the line-delimited JSON that `terraform ... -json` writes.

Terraform's machine-readable UI emits one JSON object per line; anything
else on stdout (a provider's stray print, a truncated line at interruption)
is kept as a plain-text event rather than crashing the parser.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable

APPLY_EVENT_TYPES = ("apply_start", "apply_progress", "apply_complete", "apply_errored")


@dataclass(frozen=True)
class Diagnostic:
    severity: str
    summary: str
    detail: str = ""
    filename: str = ""
    line: int | None = None

    def one_line(self) -> str:
        where = f" ({self.filename}:{self.line})" if self.filename and self.line else ""
        detail = f": {self.detail.splitlines()[0]}" if self.detail.strip() else ""
        return f"{self.summary}{detail}{where}"


@dataclass(frozen=True)
class Event:
    type: str
    level: str
    message: str
    address: str = ""
    action: str = ""
    resource_type: str = ""
    reason: str = ""
    elapsed_seconds: float | None = None
    id_value: str = ""
    diagnostic: Diagnostic | None = None
    changes: tuple[tuple[str, int], ...] = ()


def parse_line(line: str) -> Event | None:
    """One stdout line -> Event; blank lines -> None; non-JSON -> 'text' event."""
    line = line.strip()
    if not line:
        return None
    try:
        raw = json.loads(line)
    except ValueError:
        return Event(type="text", level="info", message=line)
    if not isinstance(raw, dict):
        return Event(type="text", level="info", message=line)
    hook = raw.get("hook") or raw.get("change") or {}
    resource = hook.get("resource") or {}
    diag = raw.get("diagnostic")
    diagnostic = None
    if isinstance(diag, dict):
        rng = diag.get("range") or {}
        diagnostic = Diagnostic(
            severity=str(diag.get("severity", "")),
            summary=str(diag.get("summary", "")),
            detail=str(diag.get("detail", "") or ""),
            filename=str(rng.get("filename", "") or ""),
            line=(rng.get("start") or {}).get("line"),
        )
    changes = raw.get("changes") or {}
    return Event(
        type=str(raw.get("type", "unknown")),
        level=str(raw.get("@level", "info")),
        message=str(raw.get("@message", "")),
        address=str(resource.get("addr", "") or ""),
        action=str(hook.get("action", "") or ""),
        resource_type=str(resource.get("resource_type", "") or ""),
        reason=str(hook.get("reason", "") or ""),
        elapsed_seconds=hook.get("elapsed_seconds"),
        id_value=str(hook.get("id_value", "") or ""),
        diagnostic=diagnostic,
        changes=tuple(sorted((k, int(v)) for k, v in changes.items()
                             if isinstance(v, int))),
    )


def parse_stream(text: str) -> list[Event]:
    return [e for e in (parse_line(line) for line in text.splitlines()) if e is not None]


def diagnostics(events: Iterable[Event], severity: str = "error") -> list[Diagnostic]:
    return [e.diagnostic for e in events
            if e.diagnostic is not None and e.diagnostic.severity == severity]


def error_lines(events: Iterable[Event]) -> list[str]:
    """Human lines for every error diagnostic, falling back to error-level messages."""
    events = list(events)
    lines = [d.one_line() for d in diagnostics(events)]
    if not lines:
        lines = [e.message for e in events if e.level == "error" and e.message]
    return lines

"""The one shape every verify finding takes."""
from __future__ import annotations

from dataclasses import dataclass

OK, WARN, FAIL, NOT_CHECKED = "ok", "warn", "fail", "not-checked"
STATUSES = (OK, WARN, FAIL, NOT_CHECKED)


@dataclass(frozen=True)
class Check:
    """One line of the report.

    `action` is the exact thing to do about a warn/fail (a command when one
    exists); it feeds the numbered "next actions" list.
    """
    section: str          # "api" | "inventory" | "availability" | "prerequisites" | ...
    name: str
    status: str
    detail: str = ""
    action: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown check status {self.status!r}")

    @property
    def blocks(self) -> bool:
        return self.status == FAIL

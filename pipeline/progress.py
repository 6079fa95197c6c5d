"""How phases report without printing: the CLI supplies a Progress and renders it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from runner.events import Event


@dataclass(frozen=True)
class PhaseLine:
    phase: str
    status: str   # "done" | "skipped" | "failed" | "refused"
    detail: str = ""
    seconds: float = 0.0   # wall clock of the phase (bench/ reads it; never asserted)


class Progress(Protocol):
    def phase(self, line: PhaseLine) -> None: ...
    def event(self, event: Event) -> None: ...
    def note(self, text: str) -> None: ...


class NullProgress:
    """Silent progress, for library callers and tests."""

    def phase(self, line: PhaseLine) -> None:
        pass

    def event(self, event: Event) -> None:
        pass

    def note(self, text: str) -> None:
        pass


class RecordingProgress(NullProgress):
    """Keeps everything reported; used by tests and the --json renderer."""

    def __init__(self) -> None:
        self.lines: list[PhaseLine] = []
        self.events: list[Event] = []
        self.notes: list[str] = []

    def phase(self, line: PhaseLine) -> None:
        self.lines.append(line)

    def event(self, event: Event) -> None:
        self.events.append(event)

    def note(self, text: str) -> None:
        self.notes.append(text)

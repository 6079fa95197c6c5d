"""Renders phase lines and terraform apply events: rich on a TTY, plain otherwise."""
from __future__ import annotations

import sys

import click

from pipeline.progress import PhaseLine
from runner.events import APPLY_EVENT_TYPES, Event

_MARK = {"done": "✓", "skipped": "·", "failed": "✗", "refused": "✗", "interrupted": "✗"}
_STYLE = {"done": "green", "skipped": "dim", "failed": "red", "refused": "red",
          "interrupted": "red"}
_EVENT_STYLE = {"apply_start": "cyan", "apply_progress": "dim", "apply_complete": "green",
                "apply_errored": "red"}


class ConsoleProgress:
    """Phase lines + live resource events; `quiet` (for --json) shows nothing."""

    def __init__(self, *, quiet: bool = False, rich: bool | None = None):
        self.quiet = quiet
        self.rich = sys.stdout.isatty() if rich is None else rich
        self._console = None
        if self.rich and not quiet:
            from rich.console import Console
            self._console = Console(highlight=False)

    def _print(self, text: str, style: str = "") -> None:
        if self.quiet:
            return
        if self._console is not None:
            self._console.print(text, style=style or None, markup=False)
        else:
            click.echo(text)

    def phase(self, line: PhaseLine) -> None:
        detail = f": {line.detail}" if line.detail else ""
        mark = _MARK.get(line.status, "-") if self._console else ""
        text = f"{mark} {line.phase} {line.status}{detail}" if mark else \
            f"[{line.phase}] {line.status}{detail}"
        self._print(text, _STYLE.get(line.status, ""))

    def event(self, event: Event) -> None:
        if event.type in APPLY_EVENT_TYPES:
            self._print(f"    {event.message}", _EVENT_STYLE.get(event.type, ""))
        elif event.type == "diagnostic" and event.diagnostic is not None:
            self._print(f"    {event.diagnostic.severity}: {event.diagnostic.one_line()}",
                        "red" if event.diagnostic.severity == "error" else "yellow")

    def note(self, text: str) -> None:
        self._print(text)

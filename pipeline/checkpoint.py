"""Remember which deploy phases finished, for which inputs.

A rerun skips a phase when its key (a hash of everything it depends on) is
the one recorded after it last succeeded. An interrupted or failed phase
records nothing, so the next run does it again.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def key_of(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class Checkpoint:
    def __init__(self, path: Path):
        self.path = path
        try:
            self._data: dict[str, dict] = json.loads(path.read_text())
        except (OSError, ValueError):
            self._data = {}

    def done(self, phase: str, key: str) -> dict | None:
        """The recorded result when `phase` last succeeded with this key, else None."""
        entry = self._data.get(phase)
        if entry and entry.get("key") == key:
            return entry.get("result") or {}
        return None

    def record(self, phase: str, key: str, result: dict | None = None) -> None:
        self._data[phase] = {"key": key, "result": result or {}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._data, indent=2, sort_keys=True, default=str) + "\n")
        os.replace(tmp, self.path)

    def forget(self, *phases: str) -> None:
        for phase in phases or tuple(self._data):
            self._data.pop(phase, None)
        if self.path.exists():
            self.path.write_text(json.dumps(self._data, indent=2, sort_keys=True) + "\n")

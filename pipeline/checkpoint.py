"""Remember which deploy phases finished, for which inputs, in which project.

A rerun skips a phase when its key (a hash of everything it depends on) is
the one recorded after it last succeeded. An interrupted or failed phase
records nothing, so the next run does it again.

The record is scoped to a project fingerprint (a hash of the API token,
never the token): the same endpoint with another project's token must not
trust what was deployed into the first project. A checkpoint recorded for
another scope, or an unreadable one, counts as absent; `note` says why.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from runner.workspace import write_private

SCOPE_KEY = "_scope"


def key_of(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class Checkpoint:
    def __init__(self, path: Path, scope: str = ""):
        self.path = path
        self.scope = scope
        self.note: str | None = None
        self._data: dict[str, dict] = {}
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError):
            self.note = f"{path.name} was unreadable and is ignored (every phase runs)"
            return
        if not isinstance(data, dict) or not all(isinstance(v, dict) for k, v in data.items()
                                                 if k != SCOPE_KEY):
            self.note = f"{path.name} has an unexpected shape and is ignored (every phase runs)"
            return
        recorded = data.pop(SCOPE_KEY, {}).get("fingerprint", "") \
            if isinstance(data.get(SCOPE_KEY), dict) else ""
        if recorded != scope:
            self.note = (f"{path.name} was recorded for another project or token and is "
                         f"ignored (every phase runs)")
            return
        self._data = data

    def done(self, phase: str, key: str) -> dict | None:
        """The recorded result when `phase` last succeeded with this key, else None."""
        entry = self._data.get(phase)
        if entry and entry.get("key") == key:
            result = entry.get("result")
            return result if isinstance(result, dict) else {}
        return None

    def _save(self) -> None:
        doc = dict(self._data, **{SCOPE_KEY: {"fingerprint": self.scope}})
        write_private(self.path, json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")

    def record(self, phase: str, key: str, result: dict | None = None) -> None:
        self._data[phase] = {"key": key, "result": result or {}}
        self._save()

    def forget(self, *phases: str) -> None:
        for phase in phases or tuple(self._data):
            self._data.pop(phase, None)
        if self.path.exists():
            self._save()

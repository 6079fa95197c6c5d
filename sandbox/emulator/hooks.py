"""Lifecycle callbacks: the emulator calls `emit` when a server is created,
powered, retyped or deleted, or a volume moves; the sandbox machines (and
anything else that wants to follow servers) `register` a listener.

Listeners run inside the API handler, under the store lock, so they must only
record the event and return: the machine controller wakes its own thread.
A listener that raises never breaks the API call: the error is printed to the
emulator's log instead.
"""
from __future__ import annotations

import sys
import traceback
from typing import Callable

Listener = Callable[..., None]
_listeners: list[Listener] = []


def register(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def unregister(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def emit(event: str, store, **details) -> None:
    """event: server_created (server, body), server_power (server, command),
    server_type_changed (server), server_deleted (server), volume_attached /
    volume_detached / volume_deleted (volume)."""
    for listener in list(_listeners):
        try:
            listener(event, store, **details)
        except Exception:  # noqa: BLE001 - a listener bug must not fail the API request
            print(f"hook {event}: listener failed:\n{traceback.format_exc()}", file=sys.stderr, flush=True)

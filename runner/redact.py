"""Find secret values and scrub them from text before it is shown or logged.

Terraform marks some values sensitive but not values derived from them
(terraform_data.output echoing a sensitive input is not marked), so we
collect every sensitive leaf the plan knows about and mask it wherever it
reappears, in summaries and in run logs alike.
"""
from __future__ import annotations

import os
import re
import urllib.parse
from typing import Any, Iterable, Mapping

MASK = "***"
MIN_SECRET_LEN = 4
# Backend credentials read from the environment; they can surface in terraform errors.
SECRET_ENV = ("PG_CONN_STR", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID")  # shorter strings ("1", "true") would mask harmless text


def _leaves(value: Any, marker: Any) -> Iterable[str]:
    """String leaves of `value` that `marker` (a *_sensitive tree) flags."""
    if marker is True:
        yield from _all_leaves(value)
    elif isinstance(marker, dict) and isinstance(value, dict):
        for key, sub in marker.items():
            yield from _leaves(value.get(key), sub)
    elif isinstance(marker, list) and isinstance(value, list):
        for sub_value, sub_marker in zip(value, marker):
            yield from _leaves(sub_value, sub_marker)


def _all_leaves(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _all_leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _all_leaves(v)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        yield str(value)


def sensitive_values(show_json: dict) -> set[str]:
    """Every value a plan (or state) document marks sensitive."""
    found: set[str] = set()
    for rc in show_json.get("resource_changes") or []:
        ch = rc.get("change") or {}
        found.update(_leaves(ch.get("before"), ch.get("before_sensitive")))
        found.update(_leaves(ch.get("after"), ch.get("after_sensitive")))
    config_vars = ((show_json.get("configuration") or {}).get("root_module") or {}).get("variables") or {}
    values = show_json.get("variables") or {}
    for name, decl in config_vars.items():
        if decl.get("sensitive") and name in values:
            found.update(_all_leaves(values[name].get("value")))
    outputs = (show_json.get("planned_values") or {}).get("outputs") or {}
    outputs = outputs or show_json.get("values", {}).get("outputs") or {}
    for out in outputs.values():
        if out.get("sensitive"):
            found.update(_all_leaves(out.get("value")))
    for name, ch in (show_json.get("output_changes") or {}).items():
        found.update(_leaves(ch.get("before"), ch.get("before_sensitive")))
        found.update(_leaves(ch.get("after"), ch.get("after_sensitive")))
    return {v for v in found if len(v) >= MIN_SECRET_LEN}


class Redactor:
    """Replaces known secret strings with ***; longest first so prefixes don't leak tails."""

    def __init__(self, secrets: Iterable[str | None] = ()):
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str | None]) -> None:
        merged = set(self._secrets) | {s for s in secrets if s and len(s) >= MIN_SECRET_LEN}
        self._secrets = sorted(merged, key=len, reverse=True)

    def contains_secret(self, text: str) -> bool:
        return any(s in text for s in self._secrets)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text


def conn_password(conn: str | None) -> str | None:
    """The password inside a PostgreSQL URL or keyword/value connection string."""
    if not conn:
        return None
    match = re.search(r"(?:^|\s)password\s*=\s*'?([^'\s]+)", conn)
    if match:
        return match.group(1)
    try:
        return urllib.parse.urlsplit(conn).password
    except ValueError:
        return None


def backend_secrets(env: Mapping[str, str]) -> list[str]:
    """Backend credentials from `env` (else the process environment), with the PG password."""
    values = [env.get(k) or os.environ.get(k) or "" for k in SECRET_ENV]
    values.append(conn_password(values[0]) or "")
    return [v for v in values if v]

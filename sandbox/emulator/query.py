"""Listing rules shared by every collection: name filter, label selectors,
sorting and page-based pagination with the API's meta block."""
from __future__ import annotations

import re
from typing import Iterable

from .apierrors import invalid_input

MAX_PER_PAGE = 50
DEFAULT_PER_PAGE = 25

_KEY = r"[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?"
_TERM = re.compile(
    rf"^\s*(?:(?P<not>!)\s*(?P<nkey>{_KEY})"
    rf"|(?P<key>{_KEY})\s*(?:(?P<op>==|!=|=)\s*(?P<val>[A-Za-z0-9._-]*)"
    rf"|\s+(?P<setop>in|notin)\s*\((?P<set>[^)]*)\))?)\s*$")


def _split_selector(selector: str) -> list[str]:
    """Split on commas that are not inside an `in (...)` set."""
    terms, depth, cur = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += ch
    terms.append(cur)
    return terms


def parse_selector(selector: str):
    """Return a predicate over a labels dict; bad syntax -> invalid_input."""
    checks = []
    for raw in _split_selector(selector):
        m = _TERM.match(raw)
        if not raw.strip() or not m:
            raise invalid_input(f"invalid label_selector: {selector!r}",
                                label_selector="invalid label selector")
        if m["not"]:
            checks.append(lambda l, k=m["nkey"]: k not in l)
        elif m["op"] in ("=", "=="):
            checks.append(lambda l, k=m["key"], v=m["val"]: l.get(k) == v)
        elif m["op"] == "!=":
            checks.append(lambda l, k=m["key"], v=m["val"]: l.get(k) != v)
        elif m["setop"]:
            values = {v.strip() for v in m["set"].split(",") if v.strip()}
            if m["setop"] == "in":
                checks.append(lambda l, k=m["key"], vs=values: l.get(k) in vs)
            else:
                checks.append(lambda l, k=m["key"], vs=values: l.get(k) not in vs)
        else:
            checks.append(lambda l, k=m["key"]: k in l)
    return lambda labels: all(check(labels or {}) for check in checks)


def _int_param(query: dict, name: str, default: int) -> int:
    values = query.get(name)
    if not values or values[-1] == "":
        return default
    try:
        value = int(values[-1])
    except ValueError:
        raise invalid_input(f"invalid {name}", **{name: "must be an integer"}) from None
    if value < 1:
        raise invalid_input(f"invalid {name}", **{name: "must be at least 1"})
    return value


def _sort(items: list[dict], specs: Iterable[str], allowed: set[str]) -> list[dict]:
    # Python's sort is stable, so applying keys last-to-first gives a multi-key sort.
    for spec in reversed([s for s in specs if s]):
        key, _, direction = spec.partition(":")
        if key not in allowed or direction not in ("", "asc", "desc"):
            raise invalid_input(f"invalid sort: {spec!r}", sort=f"unsupported sort value {spec!r}")
        items = sorted(items, key=lambda o: (o.get(key) is None, o.get(key)),
                       reverse=direction == "desc")
    return items


def listing(query: dict, key: str, items: list[dict], *, filters: dict | None = None,
            sort_keys: Iterable[str] = ("id", "name", "created")) -> dict:
    """Filter, sort and page rendered objects; returns the list response body.

    `filters` maps a query parameter to a function (obj, values) -> bool, for
    family-specific filters such as `status` or `type`.
    """
    items = sorted(items, key=lambda o: o["id"])
    if query.get("name") and query["name"][-1] != "":
        items = [o for o in items if o.get("name") == query["name"][-1]]
    if query.get("label_selector") and query["label_selector"][-1].strip():
        match = parse_selector(query["label_selector"][-1])
        items = [o for o in items if match(o.get("labels"))]
    for param, predicate in (filters or {}).items():
        values = [v for v in query.get(param, []) if v != ""]
        if values:
            items = [o for o in items if predicate(o, values)]
    items = _sort(items, query.get("sort", []), set(sort_keys))
    page = _int_param(query, "page", 1)
    per_page = min(_int_param(query, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
    total = len(items)
    last = max(1, -(-total // per_page))
    chunk = items[(page - 1) * per_page: page * per_page]
    return {key: chunk, "meta": {"pagination": {
        "page": page, "per_page": per_page,
        "previous_page": page - 1 if page > 1 else None,
        "next_page": page + 1 if page < last else None,
        "last_page": last, "total_entries": total}}}

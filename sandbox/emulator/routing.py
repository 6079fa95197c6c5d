"""Maps `METHOD /path/{param}` to handlers, and serves the action endpoints
every family shares (/actions, /<family>/actions, /<family>/{id}/actions)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from .apierrors import ApiFault, invalid_input, not_found
from .query import listing
from .store import Store


@dataclass
class Call:
    store: Store
    params: dict
    query: dict
    body: dict = field(default_factory=dict)

    def int_param(self, name: str = "id") -> int:
        try:
            return int(self.params[name])
        except ValueError:
            raise invalid_input(f"invalid {name}", **{name: "must be an integer"}) from None


Handler = Callable[[Call], "tuple[int, dict | None] | dict"]


class Router:
    def __init__(self):
        self._routes: list[tuple[str, re.Pattern, Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        self._routes.append((method, re.compile(f"^{regex}/?$"), handler))
        # Literal segments win over parameters: /servers/actions is not /servers/{id}.
        self._routes.sort(key=lambda route: route[1].groups)

    def get(self, pattern):
        return lambda fn: (self.add("GET", pattern, fn), fn)[1]

    def post(self, pattern):
        return lambda fn: (self.add("POST", pattern, fn), fn)[1]

    def put(self, pattern):
        return lambda fn: (self.add("PUT", pattern, fn), fn)[1]

    def delete(self, pattern):
        return lambda fn: (self.add("DELETE", pattern, fn), fn)[1]

    def resolve(self, method: str, path: str) -> tuple[Handler, dict]:
        allowed = False
        for route_method, regex, handler in self._routes:
            m = regex.match(path)
            if m:
                if route_method == method:
                    return handler, m.groupdict()
                allowed = True
        if allowed:
            raise ApiFault(405, "method_not_allowed", f"{method} is not allowed on {path}")
        raise not_found("route")


# -- actions ---------------------------------------------------------------
_ACTION_SORT = ("id", "command", "status", "progress", "started", "finished")


def _status_filter(obj, values):
    return obj["status"] in values


def _id_filter(obj, values):
    return str(obj["id"]) in values


def action_list(call: Call, actions: list[dict]) -> dict:
    rendered = [call.store.settle(a) for a in actions]
    return listing(call.query, "actions", rendered, sort_keys=_ACTION_SORT,
                   filters={"status": _status_filter, "id": _id_filter})


def _of_type(store: Store, rtype: str, rid: int | None = None) -> list[dict]:
    return [a for a in store.actions()
            if any(r["type"] == rtype and (rid is None or r["id"] == rid) for r in a["resources"])]


def _one(store: Store, actions: list[dict], aid: str) -> dict:
    match = next((a for a in actions if str(a["id"]) == str(aid)), None)
    if match is None:
        raise not_found("action")
    return {"action": store.settle(match)}


def add_action_routes(router: Router, family: str, rtype: str) -> None:
    def family_actions(call: Call):
        return action_list(call, _of_type(call.store, rtype))

    def family_action(call: Call):
        return _one(call.store, _of_type(call.store, rtype), call.params["id"])

    def resource_actions(call: Call):
        call.store.get(family, call.params["id"])
        return action_list(call, _of_type(call.store, rtype, call.int_param()))

    def resource_action(call: Call):
        call.store.get(family, call.params["id"])
        return _one(call.store, _of_type(call.store, rtype, call.int_param()), call.params["action_id"])

    router.add("GET", f"/{family}/actions", family_actions)
    router.add("GET", f"/{family}/actions/{{id}}", family_action)
    router.add("GET", f"/{family}/{{id}}/actions", resource_actions)
    router.add("GET", f"/{family}/{{id}}/actions/{{action_id}}", resource_action)


def _actions_by_id(call: Call):
    """GET /actions needs `id` since listing every action was removed on
    2025-01-30 (OpenAPI: GET /actions); without it the removed listing answers
    410 like the docs' `deprecated_api_endpoint` example."""
    if not [v for v in call.query.get("id", []) if v != ""]:
        from .apierrors import gone
        raise gone("listing all actions (pass ?id=...)",
                   "https://docs.hetzner.cloud/changelog#2025-01-30-listing-arbitrary-actions-in-the-actions"
                   "-list-endpoint-is-removed")
    return action_list(call, call.store.actions())


def add_global_action_routes(router: Router) -> None:
    router.add("GET", "/actions", _actions_by_id)
    router.add("GET", "/actions/{id}",
               lambda call: _one(call.store, call.store.actions(), call.params["id"]))


# -- helpers shared by the family modules ----------------------------------
def require(body: dict, *names: str) -> None:
    missing = [n for n in names if body.get(n) in (None, "")]
    if missing:
        raise invalid_input(f"invalid input in field '{missing[0]}'",
                            **{n: "Missing data for required field." for n in missing})


_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
_LABEL_PREFIX = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


def _label_key_ok(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    return bool(_LABEL_NAME.match(name)) and (not prefix or bool(_LABEL_PREFIX.match(prefix)))


def check_labels(body: dict) -> dict:
    """Labels follow the API's rules: `[prefix/]name` keys and values of at
    most 63 alphanumerics, `-`, `_` and `.`, starting and ending alphanumeric."""
    labels = body.get("labels")
    if labels is None:
        return {}
    if not isinstance(labels, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                               for k, v in labels.items()):
        raise invalid_input("invalid input in field 'labels'", labels="labels must map strings to strings")
    for key, value in labels.items():
        if not _label_key_ok(key):
            raise invalid_input(f"invalid label key {key!r}", labels=f"invalid label key {key!r}")
        if value and not _LABEL_NAME.match(value):
            raise invalid_input(f"invalid label value {value!r} for key {key!r}",
                                labels=f"invalid label value {value!r}")
    return dict(labels)


def check_name(store: Store, family: str, name, current_id: int | None = None) -> str:
    if not isinstance(name, str) or not name.strip():
        raise invalid_input("invalid input in field 'name'", name="name must be a non-empty string")
    other = store.by_name(family, name)
    if other is not None and other["id"] != current_id:
        from .apierrors import uniqueness
        raise uniqueness("name")
    return name


def update_common(store: Store, family: str, obj: dict, body: dict) -> None:
    """PUT semantics shared by every family: name and labels (labels replace)."""
    name = check_name(store, family, body["name"], obj["id"]) if "name" in body else obj["name"]
    labels = check_labels(body) if "labels" in body else obj["labels"]
    obj["name"], obj["labels"] = name, labels  # only once both are valid
    store.touch()


def protection_change(store: Store, obj: dict, body: dict, keys=("delete",)) -> None:
    for key in keys:
        if key in body:
            if not isinstance(body[key], bool):
                raise invalid_input(f"invalid input in field '{key}'", **{key: "must be a boolean"})
            obj["protection"][key] = body[key]
    store.touch()


def ensure_unprotected(obj: dict, what: str) -> None:
    if obj.get("protection", {}).get("delete"):
        from .apierrors import protected
        raise protected(what)

"""What every stand-in resource shares: schema, client, waiting, small value helpers."""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable

from tf.iface import Resource
from tf.types import Unknown

from sandbox.provider import schema
from sandbox.provider.errors import is_not_found


@lru_cache(maxsize=None)
def _schema(type_name: str, replace: frozenset[str]):
    return schema.resource(type_name, replace)


class HcloudResource(Resource):
    TYPE: str = ""
    # Arguments (attributes or blocks) whose change needs a new object.
    REPLACE: frozenset[str] = frozenset()
    # Arguments with a schema Default in the real provider (see state.apply_defaults).
    DEFAULTS: dict = {}
    # SDKv2 resources whose planned values may differ from the configuration
    # (a StateFunc, such as hcloud_server's user_data hash).
    LEGACY_TYPE_SYSTEM = False

    def __init__(self, provider):
        self.provider = provider
        self.config: dict | None = None   # the raw configuration, during apply
        self.partial: dict | None = None  # set by created()

    def created(self, planned: dict, ident) -> None:
        """The API made the object: from here on a failure must not lose it."""
        self.partial = {**planned, "id": ident}

    @classmethod
    def get_name(cls) -> str:
        return cls.TYPE

    @classmethod
    def get_schema(cls):
        return _schema(cls.TYPE, cls.REPLACE)

    @property
    def api(self):
        return self.provider.client()

    def validate(self, diags, type_name, config):
        super().validate(diags, type_name, config)
        if not diags.has_errors():
            self.check(diags, config)

    def check(self, diags, config) -> None:
        """Resource-specific configuration rules (values may be unknown)."""

    def import_(self, ctx, id: str):
        return self.read(ctx, {"id": id})

    def upgrade(self, ctx, version, old):
        return old

    def fetch(self, getter, ident):
        """getter(ident), or None when the object is gone (Terraform then drops it)."""
        try:
            return getter(int(ident))
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise


def importing(current: dict) -> bool:
    """A read for `terraform import`: only the id is known, nothing to shape by."""
    return set(k for k, v in current.items() if v is not None) <= {"id"}


def known(value: Any) -> Any:
    """A planned value, with unknowns read as absent."""
    return None if value is Unknown else value


def wait(*actions) -> None:
    for action in actions:
        if action is not None:
            action.wait_until_finished()


def wait_all(actions: Iterable) -> None:
    wait(*(a for a in (actions or []) if a is not None))


def protection(obj, kind: str = "delete") -> bool:
    return bool((getattr(obj, "protection", None) or {}).get(kind))


def labels(value) -> dict:
    return dict(known(value) or {})


def first(items):
    items = known(items) or []
    return items[0] if items else None


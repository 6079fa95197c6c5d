"""Build the framework's Schema objects from generator.provider_schema.

The stand-in serves exactly the project's own schema description, so HCL
accepted in the sandbox is HCL the real provider accepts.
"""
from __future__ import annotations

from tf import types as t
from tf.schema import Attribute, Block, Schema

from generator import provider_schema
from sandbox.provider.blocks import ModeBlock

_SCALARS = {"string": t.String, "number": t.Number, "bool": t.Bool}
_COLLECTIONS = {"list": t.List, "set": t.Set, "map": t.Map}


def tf_type(spec) -> t.TfType:
    if isinstance(spec, str):
        return _SCALARS[spec]()
    kind, element = spec
    return _COLLECTIONS[kind](tf_type(element))


def _attribute(name: str, spec: dict, replace: bool) -> Attribute:
    return Attribute(
        name, tf_type(spec["type"]),
        required=spec.get("required", False), optional=spec.get("optional", False),
        computed=spec.get("computed", False), sensitive=spec.get("sensitive", False),
        deprecated=spec.get("deprecated"), requires_replace=replace or None)


def _block(spec: dict, replace: frozenset[str] = frozenset()) -> Block:
    attributes = [_attribute(name, a, name in replace)
                  for name, a in sorted(spec.get("attributes", {}).items())]
    nested = [ModeBlock(name, entry["nesting_mode"], _block(entry["block"]),
                        min_items=entry.get("min_items"), max_items=entry.get("max_items"))
              for name, entry in sorted(spec.get("block_types", {}).items())]
    return Block(attributes=attributes, block_types=nested,
                 deprecated=spec.get("deprecated"))


def resource(type_name: str, replace: frozenset[str] = frozenset()) -> Schema:
    """Schema for one resource; `replace` names attributes that force a new resource."""
    data = provider_schema.resource_schema(type_name)
    unknown = replace - set(data["block"].get("attributes", {})) - set(
        data["block"].get("block_types", {}))
    if unknown:
        raise KeyError(f"{type_name}: no such attributes {sorted(unknown)}")
    block = _block(data["block"], replace)
    return Schema(version=data["version"], attributes=block.attributes,
                  block_types=block.block_types)


def provider() -> Schema:
    block = _block(provider_schema.provider_block()["block"])
    return Schema(version=0, attributes=block.attributes)

"""Build the framework's Schema objects from generator.provider_schema.

The stand-in serves exactly the project's own schema description, so HCL
accepted in the sandbox is HCL the real provider accepts.
"""
from __future__ import annotations

from tf import types as t
from tf.gen import tfplugin_pb2 as pb
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


class Object(t.TfType):
    """An object value (the elements of a nested attribute); `tf` has no Object type."""

    def __init__(self, attributes: dict[str, t.TfType]):
        self.attributes = attributes

    def encode(self, value):
        if value is None or value is t.Unknown:
            return value
        return {k: typ.encode(value.get(k)) for k, typ in self.attributes.items()}

    def decode(self, value):
        if value is None or value is t.Unknown:
            return value
        return {k: typ.decode(value.get(k)) for k, typ in self.attributes.items()}

    def semantically_equal(self, a, b) -> bool:
        return a == b

    def tf_type(self) -> bytes:
        inner = ",".join(f'"{k}":{typ.tf_type().decode()}' for k, typ in sorted(self.attributes.items()))
        return f'["object",{{{inner}}}]'.encode()


_NESTED_WIRE = {"single": pb.Schema.Object.NestingMode.SINGLE, "list": pb.Schema.Object.NestingMode.LIST,
                "set": pb.Schema.Object.NestingMode.SET}


class NestedAttribute(Attribute):
    """An attribute with `nested_type` (protocol 6): HCL writes it as
    `records = [{ value = "..." }]` and optional inner attributes may be left
    out, which a plain set(object) type would refuse."""

    def __init__(self, name: str, mode: str, inner: list[Attribute], **kwargs):
        element = Object({a.name: a.type for a in inner})
        super().__init__(name, element if mode == "single" else
                         (t.Set(element) if mode == "set" else t.List(element)), **kwargs)
        self.mode, self.inner = mode, inner

    def to_pb(self) -> pb.Schema.Attribute:
        plain = super().to_pb()
        plain.ClearField("type")
        plain.nested_type.CopyFrom(pb.Schema.Object(attributes=[a.to_pb() for a in self.inner],
                                                    nesting=_NESTED_WIRE[self.mode]))
        return plain


def _attribute(name: str, spec: dict, replace: bool) -> Attribute:
    if "nested_type" in spec:
        nested = spec["nested_type"]
        inner = [_attribute(n, a, False) for n, a in sorted(nested["attributes"].items())]
        return NestedAttribute(
            name, nested["nesting_mode"], inner,
            required=spec.get("required", False), optional=spec.get("optional", False),
            computed=spec.get("computed", False), sensitive=spec.get("sensitive", False),
            requires_replace=replace or None)
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

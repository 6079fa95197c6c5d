"""Nested block types for the `tf` framework, including LIST nesting.

`tf` 1.2.0 ships only a set-nested block. The real hcloud schema also has
single blocks (`timeouts`) and list blocks with max_items=1
(`hcloud_load_balancer.algorithm`, `hcloud_load_balancer_service.health_check`
...). The tfplugin6 protocol carries all of these as a NestingMode; these
classes add the missing modes on top of the framework's NestedBlock.
"""
from __future__ import annotations

from typing import Any

from tf.gen import tfplugin_pb2 as pb
from tf.schema import Block, NestedBlock, NestMode
from tf.types import Unknown
from tf.utils import Diagnostics

_WIRE_MODE = {
    "single": pb.Schema.NestedBlock.NestingMode.SINGLE,
    "list": pb.Schema.NestedBlock.NestingMode.LIST,
    "set": pb.Schema.NestedBlock.NestingMode.SET,
}


def _encode_one(block: NestedBlock, value: dict | None) -> Any:
    from tf.provider import _encode_state_d
    return _encode_state_d(block._amap(), block._bmap(), value, None)


def _decode_one(block: NestedBlock, value: Any) -> Any:
    from tf.provider import _decode_state
    if value is None or value is Unknown:
        return value
    return _decode_state(Diagnostics(), block._amap(), block._bmap(), value)[1]


class ModeBlock(NestedBlock):
    """A nested block whose nesting mode is given by name: single, list or set."""

    def __init__(self, type_name: str, mode: str, block: Block,
                 min_items: int | None = None, max_items: int | None = None):
        # The framework's enum has no LIST member; it is only used for
        # to_pb, which this class overrides, so any member will do here.
        super().__init__(type_name, NestMode.Set if mode != "single" else NestMode.Single,
                         block, min_items=min_items, max_items=max_items)
        self.mode = mode

    def to_pb(self) -> pb.Schema.NestedBlock:
        return pb.Schema.NestedBlock(
            type_name=self.type_name, block=self.block.to_pb(),
            min_items=self.min_items, max_items=self.max_items,
            nesting=_WIRE_MODE[self.mode])

    def encode(self, value: Any) -> Any:
        if value is None or value is Unknown:
            return value
        if self.mode == "single":
            return _encode_one(self, value)
        return [_encode_one(self, v) for v in value]

    def decode(self, value: Any) -> Any:
        if value is None or value is Unknown:
            return value
        if self.mode == "single":
            return _decode_one(self, value)
        return [_decode_one(self, v) for v in value]

    def semantically_equal(self, a_decoded, b_decoded) -> bool:
        if self.mode != "set" or a_decoded is None or b_decoded is None:
            return a_decoded == b_decoded
        if len(a_decoded) != len(b_decoded):
            return False
        rest = list(b_decoded)
        for item in a_decoded:
            if item not in rest:
                return False
            rest.remove(item)
        return True

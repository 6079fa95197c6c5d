"""Pure helpers that shape resource states against a (framework) block schema.

Terraform holds a provider to strict rules: a planned value that is known must
come back unchanged after apply, and nested blocks must have as many elements
as the configuration. These helpers make the stand-in's states obey them the
way the real provider's SDK does, without each resource repeating the work.
"""
from __future__ import annotations

from copy import deepcopy
from typing import Any

from tf.types import Unknown


def _parts(schema) -> tuple[dict, dict]:
    return ({a.name: a for a in schema.attributes},
            {b.type_name: b for b in schema.block_types})


def complete(schema, state: dict | None) -> dict | None:
    """Every attribute and block present: the wire format wants whole objects."""
    if state is None:
        return None
    attrs, blocks = _parts(schema)
    out = {name: state.get(name) for name in attrs}
    for name, block in blocks.items():
        value = state.get(name)
        if block.mode == "single":
            out[name] = value if value is None or value is Unknown \
                else complete(block.block, value)
        elif value is Unknown:
            out[name] = Unknown
        else:
            out[name] = [complete(block.block, v) for v in (value or [])]
    return out


def mark_computed_unknown(schema, state: dict) -> dict:
    """Plan of a create: computed attributes the config leaves null become unknown."""
    attrs, blocks = _parts(schema)
    out = dict(state)
    for name, attr in attrs.items():
        if out.get(name) is None and attr.computed:
            out[name] = attr.default  # the framework's default is Unknown
    for name, block in blocks.items():
        value = out.get(name)
        if value is None or value is Unknown:
            continue
        if block.mode == "single":
            out[name] = mark_computed_unknown(block.block, value)
        else:
            out[name] = [mark_computed_unknown(block.block, v) for v in value]
    return out


def has_unknown(value: Any) -> bool:
    if value is Unknown:
        return True
    if isinstance(value, dict):
        return any(has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(has_unknown(v) for v in value)
    return False


def _score(a: dict, b: dict) -> int:
    return sum(1 for k, v in a.items() if v is not None and b.get(k) == v)


def settle(schema, prior: dict | None, fresh: dict | None) -> dict | None:
    """Reconcile a state read from the API with the prior (or planned) state.

    Attributes that are not computed belong to the configuration: where the
    prior value is null, the API's value (a default such as `false` or `{}`)
    must not appear, or Terraform would see a change nobody made. Computed
    attributes take the API's value.
    """
    if fresh is None or prior is None:
        return fresh
    attrs, blocks = _parts(schema)
    out = deepcopy(fresh)
    for name, attr in attrs.items():
        before = prior.get(name)
        if not attr.computed and before is None:
            out[name] = None
        elif not attr.computed and before in ([], {}) and out.get(name) is None:
            out[name] = before  # empty and unset are the same to the API
    for name, block in blocks.items():
        old, new = prior.get(name), out.get(name)
        if new is None or old is None or old is Unknown or new is Unknown:
            continue
        if block.mode == "single":
            out[name] = settle(block.block, old, new)
            continue
        if block.mode == "list":
            out[name] = [settle(block.block, old[i] if i < len(old) else None, v)
                         for i, v in enumerate(new)]
            continue
        # Sets have no order: pair each element with the prior one it most
        # resembles.
        remaining = list(old)
        settled = []
        for item in new:
            match = max(remaining, key=lambda p: _score(p, item), default=None)
            if match is not None:
                remaining.remove(match)
            settled.append(settle(block.block, match, item))
        out[name] = settled
    return out


def _is_zero(value: Any) -> bool:
    return value is False or (isinstance(value, (str, list, dict)) and not value)


def blank_zeroes(schema, state: dict | None, keep=frozenset()) -> dict | None:
    """Import: a non-computed `false`/`""`/`[]`/`{}` reads as unset, as SDKv2 does,
    except arguments with a default (`keep`), which the real read sets explicitly."""
    if state is None:
        return None
    attrs, blocks = _parts(schema)
    out = dict(state)
    for name, attr in attrs.items():
        value = out.get(name)
        if not attr.computed and name not in keep and _is_zero(value):
            out[name] = None
    for name, block in blocks.items():
        value = out.get(name)
        if block.mode == "single" and isinstance(value, dict):
            out[name] = blank_zeroes(block.block, value)
        elif isinstance(value, list):
            out[name] = [blank_zeroes(block.block, v) for v in value]
    return out


def _matches(attrs: dict, proposed: dict, prior: dict) -> bool:
    for name in attrs:
        value = proposed.get(name)
        if value is None:
            if not attrs[name].computed and prior.get(name) is not None:
                return False
        elif value != prior.get(name):
            return False
    return True


def _fill(schema, proposed: dict, prior: dict) -> dict:
    attrs, _ = _parts(schema)
    out = dict(proposed)
    for name, attr in attrs.items():
        if attr.computed and out.get(name) is None:
            out[name] = prior.get(name)
    return carry_computed(schema, prior, out)


def carry_computed(schema, prior: dict | None, proposed: dict) -> dict:
    """Plan of an update: computed values inside nested blocks come from the prior state.

    Terraform does this itself for top-level attributes, not for elements of
    nested sets. An element is matched to the prior element that agrees on
    everything the configuration sets.
    """
    if prior is None:
        return proposed
    _, blocks = _parts(schema)
    out = dict(proposed)
    for name, block in blocks.items():
        new, old = out.get(name), prior.get(name)
        if not new or not old or new is Unknown or old is Unknown:
            continue
        inner_attrs, _ = _parts(block.block)
        if block.mode == "single":
            out[name] = _fill(block.block, new, old)
            continue
        remaining = list(old)
        filled = []
        for item in new:
            if has_unknown(item):
                filled.append(item)
                continue
            match = next((p for p in remaining if _matches(inner_attrs, item, p)), None)
            if match is None:
                filled.append(item)
                continue
            remaining.remove(match)
            filled.append(_fill(block.block, item, match))
        out[name] = filled
    return out


def apply_defaults(schema, defaults: dict, state: dict | None) -> dict | None:
    """SDKv2 `Default` (and the plugin framework's static defaults): an argument the
    configuration leaves null is planned with its default, as the real provider shows it.

    `defaults` maps attribute names to values, and block names to such a dict
    for each element of that block.
    """
    if state is None or not defaults:
        return state
    _, blocks = _parts(schema)
    out = dict(state)
    for name, value in defaults.items():
        if name in blocks:
            items = out.get(name)
            if items is None or items is Unknown:
                continue
            block = blocks[name]
            if block.mode == "single":
                out[name] = apply_defaults(block.block, value, items)
            else:
                out[name] = [apply_defaults(block.block, value, item) for item in items]
        elif out.get(name) is None:
            out[name] = deepcopy(value)
    return out


def strip_unknown(value: Any) -> Any:
    """A planned value made fit for state: unknowns become null."""
    if value is Unknown:
        return None
    if isinstance(value, dict):
        return {k: strip_unknown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_unknown(v) for v in value]
    return value

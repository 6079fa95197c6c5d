"""diagram from a real sandbox apply: the SVG parses, names every resource in
the state and the DNS names, and the same state gives the same bytes."""
from __future__ import annotations

import json

import pytest
from defusedxml import ElementTree

from ops.diagram import build, render_svg
from runner.tfstate import parse_state
from tests.sandbox.conftest import emulator  # noqa: F401  (fixture)
from tests.sandbox.tfharness import Terraform, copy_stack

pytestmark = pytest.mark.e2e


def _text(svg: str) -> str:
    root = ElementTree.fromstring(svg)
    return "\n".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))


def test_diagram_names_every_state_resource_and_is_deterministic(tmp_path, emulator):  # noqa: F811
    stack = copy_stack(tmp_path / "stack")
    tf = Terraform(stack, tmp_path, emulator)
    tf.init()
    tf.apply()
    state = parse_state(json.loads((stack / "terraform.tfstate").read_text()))
    assert len(state.managed) >= 6
    svg = render_svg(build(state, ["example.com", "api.example.com"]))
    text = _text(svg)
    for res in state.managed:
        assert res.address in text, res.address
    assert "example.com" in text and "api.example.com" in text
    assert "in tcp/443 from ::/0, 0.0.0.0/0" in text or "in tcp/443 from 0.0.0.0/0, ::/0" in text
    again = render_svg(build(parse_state(json.loads((stack / "terraform.tfstate").read_text())),
                             ["api.example.com", "example.com"]))
    assert again == svg

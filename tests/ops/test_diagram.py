"""diagram without `dot`: one DiagramError line, no traceback."""
import pytest

from ops.diagram import DiagramError, build, render_svg
from runner.tfstate import parse_state


def test_missing_dot_is_one_clear_error(tmp_path):
    graph = build(parse_state({}), ["example.com"])
    with pytest.raises(DiagramError, match="Debian package graphviz"):
        render_svg(graph, dot=str(tmp_path / "no-such-dot"))

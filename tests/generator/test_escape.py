"""The encoders of generator/escape.py, judged by Terraform itself: whatever a
value holds, the literal we write evaluates to exactly that value and nothing
else. python-hcl2 and PyYAML check the shape; Terraform checks the value."""
from __future__ import annotations

import base64
import json
import re

import hcl2
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from errors import ConfigError
from generator import escape
from generator import render
from runner.process import run

# Hostile strings: each tries to end a literal, open an interpolation or a
# template directive, add a YAML node, or smuggle a line break.
HOSTILE = [
    '"', "\\", '\\"', "'", "`", "",
    'b"\n}\nresource "terraform_data" "x" {\n  provisioner "local-exec" {\n'
    '    command = "id"\n  }\n}\nterraform {\n  backend "s3" {\n    bucket = "x',
    '${file("/etc/passwd")}', "$${x}", "$$${x}", "$", "$$", "${", "%{ if true }x%{ endif }",
    "%%{x}", "%{", "{", "}", "\\${x}", "\\u0041", "\\n",
    "\n", "\r\n", "\t", "\x00", "\x1b[31m", "\x7f", "\x85", "\u2028", "\u2029",
    "a: b", "# c", "&anchor", "*alias", "!!python/object:os.system", "| block", "> fold",
    "---", "...", "- item", "[1, 2]", "{a: 1}", "? key", "@at", "%TAG", "~", "null", "yes",
    " leading", "trailing ", "é", "😀", "\u202eevil", "<<EOF\nx\nEOF",
]
# 100 KB with a hostile run every 100 characters. A value made of nothing but
# escapes is slow for Terraform itself (about 10 s to read), so it is the e2e case below.
LONG = (("a" * 90 + '"${x}%{y}\n') * 1000)[:100_000]
WORST = ('"${x}%{y}\n' * 10_000)[:100_000]


def terraform_values(literals: list[str], tmp_path) -> list:
    """Terraform's own reading of HCL expressions (one per entry)."""
    body = "\n".join(f"  v{i} = {lit}" for i, lit in enumerate(literals))
    (tmp_path / "main.tf").write_text(f"locals {{\n{body}\n}}\n")
    expr = "base64encode(jsonencode([" + ", ".join(f"local.v{i}" for i in range(len(literals)))
    done = run(["terraform", "console"], cwd=tmp_path, input=expr + "]))\n", timeout=60)
    return json.loads(base64.b64decode(done.stdout.strip().strip('"')))


def test_hcl_strings_mean_exactly_the_value_to_terraform(tmp_path):
    values = [*HOSTILE, LONG]
    assert terraform_values([escape.hcl_string(v) for v in values], tmp_path) == values


def test_user_data_scalars_mean_exactly_the_value_after_templatefile(tmp_path):
    """user-data.yaml is read by Terraform's templatefile(), then by cloud-init's YAML."""
    values = [*HOSTILE, LONG]
    lines = "".join(f"v{i}: [{escape.user_data_scalar(v)}]\n" for i, v in enumerate(values))
    (tmp_path / "t.yaml").write_text("#cloud-config\n" + lines, encoding="utf-8")
    done = run(["terraform", "console"], cwd=tmp_path, timeout=60,
               input='base64encode(templatefile("t.yaml", {}))\n')
    text = base64.b64decode(done.stdout.strip().strip('"')).decode("utf-8")
    doc = yaml.safe_load(text)
    assert doc == {f"v{i}": [v] for i, v in enumerate(values)}


@pytest.mark.e2e
def test_100_kb_of_escapes_round_trips_through_terraform(tmp_path):
    assert terraform_values([escape.hcl_string(WORST)], tmp_path) == [WORST]


def test_a_lone_surrogate_is_refused_in_one_line():
    for encode in (escape.hcl_string, escape.user_data_scalar):
        with pytest.raises(ConfigError, match="^project.name: not valid Unicode text"):
            encode("a\udc80b", "project.name")


@pytest.mark.parametrize("encode,bad,needle", [
    (escape.hcl_number, "50\nresource", "must be a whole number"),
    (escape.hcl_number, True, "must be a whole number"),
    (escape.hcl_bool, "true\n", "must be true or false"),
    (escape.hcl_bool, 1, "must be true or false"),
    (escape.hcl_list, "0.0.0.0/0", "must be a list"),
    (escape.hcl_string, 5, "must be text"),
])
def test_non_text_values_are_refused_by_type(encode, bad, needle):
    with pytest.raises(ConfigError, match=needle) as info:
        encode(bad, "storage.x")
    assert "\n" not in str(info.value)


def test_the_template_environment_refuses_a_raw_value():
    template = render._environment().from_string('x = "{{ value }}"\n')
    with pytest.raises(ConfigError, match="unencoded value"):
        template.render(value='a"\nb')
    encoded = render._environment().from_string("x = {{ value | hcl }}\n")
    assert encoded.render(value='a"') == 'x = "a\\""\n'


_UNESCAPED_MARKER = re.compile(r"(?<!\$)\$\{|(?<!%)%\{")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=("Cs",))))
def test_any_text_stays_one_hcl_literal(value):
    literal = escape.hcl_string(value)
    # One line, no raw control character, no live interpolation or directive.
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in literal)
    assert not _UNESCAPED_MARKER.search(literal)
    doc = hcl2.loads(f"x = {literal}\ny = 1\n")
    assert list(doc) == ["x", "y"] and isinstance(doc["x"], str)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=("Cs",))))
def test_any_text_stays_one_yaml_scalar(value):
    scalar = escape.yaml_scalar(value)
    assert "\n" not in scalar
    assert yaml.safe_load(f"k: [{scalar}, second]\nz: 1\n") == {"k": [value, "second"], "z": 1}

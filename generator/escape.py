"""One encoder per target language for every value that reaches a stack file.

A value from deploy.toml is data, never code: whatever it holds, it comes
out of these functions as one literal of the target language, so it cannot
end a block, open an interpolation or add a YAML key. The Jinja environment
in render.py refuses to print anything that did not come through here
(`Encoded`), so a template cannot paste a raw value by accident.

- HCL (`.tf`, `.tfvars`): a quoted string literal with backslash, quote and
  control characters escaped, and the `$` or `%` of a template marker (`${`,
  `%{`) written as `\u0024` or `\u0025`. Terraform reads both that and the
  doubled form (`$${`) as a literal marker; python-hcl2, which `check` parses
  stacks with, rejects a `$${` that has no closing brace, and reads this.
- cloud-init user-data: the value is dumped by PyYAML as a double-quoted,
  one-line scalar; the file is also a Terraform template (`templatefile`),
  so the YAML text then has its template markers doubled.
"""
from __future__ import annotations

import re

import yaml

from errors import ConfigError


class Encoded(str):
    """Text already encoded for the file it is printed into."""


_TEMPLATE_MARKER = re.compile(r"([$%])\{")
# HCL's own short escapes; every other control character becomes \uNNNN.
_HCL_SHORT = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or isinstance(value, bool):
        raise ConfigError(f"{what}: must be text (got {type(value).__name__})")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise ConfigError(f"{what}: not valid Unicode text (lone surrogate)")
    return value


def template_escape(text: str) -> str:
    """Double `${` and `%{` so Terraform's template engine reads them literally."""
    return _TEMPLATE_MARKER.sub(r"\1\1{", text)


def _hcl_char(c: str) -> str:
    if c in _HCL_SHORT:
        return _HCL_SHORT[c]
    code = ord(c)
    # C0, DEL, C1 and the Unicode line/paragraph separators: never raw in a literal.
    if code < 0x20 or 0x7F <= code <= 0x9F or code in (0x2028, 0x2029):
        return f"\\u{code:04x}"
    return c


def hcl_string(value: object, what: str = "value") -> Encoded:
    """A quoted HCL string literal that evaluates to exactly `value`."""
    text = _text(value, what)
    body = "".join(_hcl_char(c) for c in text)
    # Markers are found after the escaping above, which never creates or splits one.
    return Encoded('"' + _TEMPLATE_MARKER.sub(_marker_escape, body) + '"')


def _marker_escape(match: re.Match) -> str:
    return f"\\u{ord(match.group(1)):04x}{{"


def hcl_number(value: object, what: str = "value") -> Encoded:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{what}: must be a whole number (got {value!r:.60})")
    return Encoded(str(value))


def hcl_bool(value: object, what: str = "value") -> Encoded:
    if not isinstance(value, bool):
        raise ConfigError(f"{what}: must be true or false (got {value!r:.60})")
    return Encoded("true" if value else "false")


def hcl_list(values: object, what: str = "value") -> Encoded:
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
        raise ConfigError(f"{what}: must be a list (got {type(values).__name__})")
    return Encoded("[" + ", ".join(hcl_string(v, what) for v in values) + "]")


def yaml_scalar(value: object, what: str = "value") -> str:
    """One double-quoted YAML scalar on one line, as PyYAML writes it."""
    text = _text(value, what)
    dumped = yaml.safe_dump(text, default_style='"', width=float("inf"), allow_unicode=True)
    # safe_dump ends a lone scalar with a newline (and "..." for plain styles only).
    dumped = dumped.removesuffix("\n")
    if "\n" in dumped:  # never seen with width=inf; refuse rather than paste a block
        raise ConfigError(f"{what}: cannot be written as one YAML line")
    return dumped


def user_data_scalar(value: object, what: str = "value") -> Encoded:
    """A YAML scalar inside user-data.yaml, which Terraform reads via templatefile()."""
    return Encoded(template_escape(yaml_scalar(value, what)))


def comment(text: str) -> Encoded:
    """Comment lines (`# ...`) for both HCL and YAML; refuses anything but printable ASCII."""
    if not re.fullmatch(r"[ -~]*", text.replace("\n", "")):
        raise ConfigError("generated header: only printable ASCII may go into a comment")
    return Encoded("\n".join(f"# {line}" if line else "#" for line in text.split("\n")))

"""The SSH public key named by ssh.public_key: read, parsed, reduced to what we embed.

The key is parsed by `cryptography` (`load_ssh_public_key`), not matched by a
regex: a blob that is valid base64 but not a key, or whose type disagrees with
its prefix, is refused. What the stack embeds is the key type and the base64
body as the user gave them; the comment (often an e-mail address) is dropped.
Each kind of wrong file gets its own one-line ConfigError naming ssh.public_key.
"""
from __future__ import annotations

import binascii
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import load_ssh_public_key

from errors import ConfigError
from generator.inputs import FileFault, read_small_file, show, show_path

KEY = "ssh.public_key"
MAX_BYTES = 16 * 1024     # an 8192-bit RSA key is about 1.4 KB; anything near this is not a key
# Markers of Terraform, Jinja and shell templates: never part of a real key line.
TEMPLATE_MARKERS = ("${", "%{", "{{", "{%")
QUOTES = ('"', "'", "`", "\\")
_PRIVATE = ("PRIVATE KEY-----", "PuTTY-User-Key-File")
_EXAMPLE = "expected one line like 'ssh-ed25519 AAAA... comment'"


def read_public_key(path: Path, label: str = "") -> str:
    """`<type> <base64>` of the OpenSSH public key in `path`; ConfigError otherwise."""
    path = Path(path)
    prefix = f"{label}: {KEY}" if label else KEY
    where = show_path(path)

    def fail(problem: str) -> ConfigError:
        return ConfigError(f"{prefix}: {where} {problem}")

    try:
        data = read_small_file(path, MAX_BYTES)
    except FileFault as fault:
        if fault.missing:
            stem = path.with_suffix("") if path.suffix == ".pub" else path
            raise ConfigError(f"{prefix}: file not found: {where} "
                              f"(create one with: ssh-keygen -t ed25519 -f {show_path(stem)})") from None
        if fault.too_big:
            raise fail(f"is larger than {MAX_BYTES // 1024} KiB; a public key is one short line") from None
        raise fail(fault.problem) from None
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise fail(f"is not an OpenSSH public key: byte {exc.start} is not ASCII ({_EXAMPLE})") from None
    return parse_public_key(text, fail)


def parse_public_key(text: str, fail) -> str:
    """The checks on a key file's text; `fail(problem)` makes the error to raise."""
    if any(marker in text for marker in _PRIVATE):
        raise fail("is a private key, not an OpenSSH public key: give the .pub file")
    if not text.strip():
        raise fail(f"is empty ({_EXAMPLE})")
    for marker in TEMPLATE_MARKERS:
        if marker in text:
            raise fail(f"contains the template marker {marker!r}; a public key never does")
    for quote in QUOTES:
        if quote in text:
            raise fail(f"contains a quote character {quote!r}; give the key line only, "
                       "without authorized_keys options")
    lines = text.strip().splitlines()
    if len(lines) > 1:
        raise fail(f"has {len(lines)} lines; give one key ({_EXAMPLE})")
    line = lines[0]
    if not line.isprintable():
        raise fail(f"contains control characters ({_EXAMPLE})")
    parts = line.split()
    if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-", "sk-")):
        raise fail(f"is not an OpenSSH public key ({_EXAMPLE})")
    kind, body = parts[0], parts[1]
    try:
        binascii.a2b_base64(body, strict_mode=True)
    except binascii.Error:
        raise fail(f"is not an OpenSSH public key: the key body {show(body)} is not valid base64") from None
    try:
        load_ssh_public_key(f"{kind} {body}".encode("ascii"))
    except UnsupportedAlgorithm:
        raise fail(f"is not an OpenSSH public key: key type {show(kind)} is not supported") from None
    except ValueError as exc:
        raise fail(f"is not an OpenSSH public key: {show(kind)} key does not parse ({exc})") from None
    # The key type and body only: comments often hold a person's e-mail address.
    return f"{kind} {body}"

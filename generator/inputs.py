"""Reading and checking the files a user hands us (deploy.toml, a price table, a key).

Shared by generator/config.py, generator/ssh_key.py and pricing/table.py:

- `read_small_file`: the bytes of a regular file of bounded size. It opens
  non-blocking and checks the type on the open descriptor, so a FIFO cannot
  hang us, /dev/zero cannot fill memory, and nothing can be swapped in between
  the check and the read.
- `pattern`, `choice`, `between`: annotated validators for pydantic models
  whose failure is a sentence of ours (patterns always match the whole value);
- `Wording.line`: pydantic's first error as the project's one-line message,
  `<file>: <section>.<key>: <what is wrong> (got <value>)`, with the value cut
  short and escaped so a hostile value cannot add lines.
"""
from __future__ import annotations

import errno
import os
import re
import stat
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from errors import ConfigError

# pydantic is imported where a validator is made or raised, not here: the app phase reads
# its files through read_small_file/show_path, and a no-op deploy must not pay for pydantic.
if TYPE_CHECKING:
    from pydantic import AfterValidator, BeforeValidator, ValidationError
    from pydantic_core import PydanticCustomError

SHOW_MAX = 60          # characters of a bad value quoted back in a message
_BARE_KEY = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


class FileFault(Exception):
    """A file that cannot be used. `missing` and `too_big` let callers word those their own way."""

    def __init__(self, problem: str, missing: bool = False, too_big: bool = False):
        super().__init__(problem)
        self.problem = problem
        self.missing = missing
        self.too_big = too_big


def show(value: Any) -> str:
    """A value quoted back to the user: repr (so newlines and controls stay escaped), cut short."""
    text = repr(value)
    return text if len(text) <= SHOW_MAX else text[:SHOW_MAX - 1] + "…"


def show_path(path: Path | str) -> str:
    """A path as typed when it is printable, else its repr: a file name can hold a newline."""
    text = str(path)
    return text if text.isprintable() and len(text) <= 1024 else show(text)


def show_key(key: Any) -> str:
    """A TOML key as written when it is a bare key, else quoted: `"a\\nb" = 1` is a valid key."""
    text = str(key)
    return text if text and set(text) <= _BARE_KEY and len(text) <= SHOW_MAX else show(text)


def bad(message: str) -> PydanticCustomError:
    """The error our annotated validators raise; the message is used as it is."""
    from pydantic_core import PydanticCustomError
    # No context is passed, so braces in a quoted value are never treated as placeholders.
    return PydanticCustomError("deploy_input", message)


def bad_table(message: str) -> PydanticCustomError:
    """The error a check across keys raises; its message names the keys, so no prefix."""
    from pydantic_core import PydanticCustomError
    return PydanticCustomError("deploy_table", message)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_small_file(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them, or FileFault."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileFault("not found", missing=True) from None
    except IsADirectoryError:
        raise FileFault("is a directory, not a file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileFault("is a symlink loop") from None
        if exc.errno in (errno.ENXIO, errno.EOPNOTSUPP):   # a socket
            raise FileFault("is a socket, not a regular file") from None
        raise FileFault(f"cannot be read: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise FileFault("is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise FileFault(f"is {_kind(info.st_mode)}, not a regular file")
        too_big = FileFault(f"is larger than {_size(limit)}; this is not the file you meant",
                            too_big=True)
        if info.st_size > limit:
            raise too_big
        chunks, total = [], 0
        while total <= limit:          # the file may grow after fstat: read at most limit + 1
            chunk = os.read(fd, limit + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise too_big
        return b"".join(chunks)
    except OSError as exc:
        raise FileFault(f"cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)


def _size(n: int) -> str:
    return f"{n // 1024 // 1024} MiB" if n >= 1024 * 1024 else f"{n // 1024} KiB"


# --- small annotated validators with their own sentence ----------------------------

def pattern(regex: str, says: str, max_len: int | None = None) -> BeforeValidator:
    compiled = re.compile(regex)

    def check(v: Any) -> str:
        if not isinstance(v, str) or (max_len and len(v) > max_len) or not compiled.fullmatch(v):
            raise bad(f"must be {says} (got {show(v)})")
        return v
    from pydantic import BeforeValidator
    return BeforeValidator(check)


def choice(noun: str, options: Callable[[], tuple[str, ...]]) -> BeforeValidator:
    def check(v: Any) -> str:
        if not isinstance(v, str) or v not in options():
            raise bad(f"unknown {noun} {show(v)}: choose one of {', '.join(options())}")
        return v
    from pydantic import BeforeValidator
    return BeforeValidator(check)


def between(lo: int, hi: int, unit: str) -> AfterValidator:
    def check(v: int) -> int:
        if not lo <= v <= hi:
            raise bad(f"must be between {lo} and {hi} {unit} (got {v})")
        return v
    from pydantic import AfterValidator
    return AfterValidator(check)


def read_toml(path: Path, label: str, limit: int, **toml_options) -> dict:
    """A small TOML file as a dict, or one ConfigError line; never hangs on a FIFO."""
    try:
        data = read_small_file(path, limit)
    except FileFault as fault:
        raise ConfigError(f"{show_path(path)}: "
                          f"{'config file not found' if fault.missing else fault.problem}") from None
    try:
        return tomllib.loads(data.decode("utf-8"), **toml_options)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{label}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: invalid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{label}: invalid TOML: nested too deeply") from None


# Pydantic's own error types, in the project's words. `{v}` is the value quoted back.
_BUILTIN: dict[str, str] = {
    "int_type": "must be a whole number (got {v})",
    "bool_type": "must be true or false (got {v})",
    "string_type": "must be a string (got {v})",
    "list_type": "must be a list (got {v})",
    "dict_type": "must be a table (got {v})",
    "model_type": "must be a table (got {v})",
    "date_type": "must be a TOML date (got {v})",
}


def _builtin(err: dict) -> str:
    kind, ctx, v = err["type"], err.get("ctx") or {}, show(err.get("input"))
    if kind == "greater_than_equal":
        return (f"must not be negative (got {err['input']})" if ctx.get("ge") == 0
                else f"must be at least {ctx.get('ge')} (got {err['input']})")
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')} (got {err['input']})"
    if kind == "too_short":
        return "must not be empty"
    return _BUILTIN.get(kind, "{msg} (got {v})").format(v=v, msg=err["msg"].lower())


def first_error(exc: ValidationError) -> dict:
    """The error to report: an unknown key first, since it usually explains the rest (a typo)."""
    errors = exc.errors(include_url=False)
    return next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])


class Wording:
    """How one kind of file spells locations and structural faults; one subclass per kind."""

    def where(self, loc: tuple) -> str:
        """`storage.volume_size_gb`, `rows[0].source`: the key a message names."""
        return "".join(f"[{p}]" if isinstance(p, int) else f".{show_key(p)}" for p in loc).lstrip(".")

    def unknown(self, loc: tuple) -> str:
        return f"unknown key {self.where(loc[:-1]) + '.' if loc[:-1] else ''}{show_key(loc[-1])}"

    def missing(self, loc: tuple) -> str:
        return f"missing required key {self.where(loc)}"

    def line(self, exc: ValidationError, label: str) -> str:
        """One line for the first error of `exc`, prefixed with the file's label."""
        err = first_error(exc)
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            text = self.unknown(loc)
        elif err["type"] == "missing":
            text = self.missing(loc)
        else:
            at = "" if err["type"] == "deploy_table" else self.where(loc)
            what = err["msg"] if err["type"].startswith("deploy_") else _builtin(err)
            text = f"{at}: {what}" if at else what
        return f"{label}: {text}" if label else text

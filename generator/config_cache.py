"""The last validated DeployConfig per config file, reused while nothing it read changed.

Validating deploy.toml means importing pydantic and building its models, which
is most of what a run with nothing to do costs (issue 8's no-op budget). The
result of a validation is a tree of frozen dataclasses, so it is kept here and
handed back when the inputs are byte-for-byte those of last time:

- the config file itself, and every file a value of the config names (each
  `Path` in the tree: the SSH key, a pricing table, ...), by sha256 and mode;
- the code that validates (generator/*.py and errors.py), by sha256.

Only successes are kept: a bad file is validated again every time, so its
error message is always the schema's. The cache is an optimisation and never a
source of truth; any trouble reading or writing it means "validate again".

It lives beside the config in `.work/config-cache/` (git-ignored), 0600 in a
0700 folder, and is read only when we own it and nobody else can write it.
Entries are pickles restricted to the config's own dataclasses, Path and
Decimal, so even a planted file cannot run code.
"""
from __future__ import annotations

import dataclasses
import decimal
import hashlib
import io
import os
import pathlib
import pickle
import stat
from pathlib import Path

VERSION = 1
_CODE = Path(__file__).resolve().parent
_ERRORS = _CODE.parent / "errors.py"
_PLAIN = {("pathlib", "PosixPath"): pathlib.PosixPath, ("decimal", "Decimal"): decimal.Decimal}


def _sha(path: Path) -> tuple[str, int] | None:
    """sha256 and permission bits of the regular file at path, or None."""
    try:
        with open(path, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                return None
            return hashlib.sha256(fh.read()).hexdigest(), stat.S_IMODE(info.st_mode)
    except OSError:
        return None


def _code_digest() -> str:
    h = hashlib.sha256()
    for path in sorted([*_CODE.glob("*.py"), _ERRORS]):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _paths(value) -> list[Path]:
    """Every Path inside a config tree (dataclasses and tuples)."""
    if isinstance(value, Path):
        return [value]
    if dataclasses.is_dataclass(value):
        return [p for f in dataclasses.fields(value) for p in _paths(getattr(value, f.name))]
    if isinstance(value, (tuple, list)):
        return [p for item in value for p in _paths(item)]
    return []


def _entry_path(config_path: Path, from_example: bool) -> Path:
    # abspath, not resolve(): the file may be a symlink loop, which parse() reports.
    name = hashlib.sha256(f"{os.path.abspath(config_path)}\0{from_example}".encode()).hexdigest()[:24]
    return config_path.parent / ".work" / "config-cache" / f"{name}.pickle"


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _PLAIN:
            return _PLAIN[(module, name)]
        if module == "generator.config" or (module.startswith("generator.config_")
                                            and module not in ("generator.config_file",
                                                               "generator.config_cache")):
            import importlib
            found = getattr(importlib.import_module(module), name, None)
            if isinstance(found, type) and dataclasses.is_dataclass(found):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a config")


def _private(path: Path) -> bool:
    """Ours, and writable by nobody else: the file and its folder."""
    try:
        for p in (path.parent, path):
            info = os.lstat(p)
            if info.st_uid != os.geteuid() or info.st_mode & 0o022 or stat.S_ISLNK(info.st_mode):
                return False
    except OSError:
        return False
    return True


def load(config_path: Path, from_example: bool):
    """The cached DeployConfig for this file when every input is unchanged, else None."""
    entry = _entry_path(config_path, from_example)
    if not _private(entry):
        return None
    try:
        version, code, deps, config = _Unpickler(io.BytesIO(entry.read_bytes())).load()
    except Exception:    # any damage at all means "validate again", never a failure
        return None
    if version != VERSION or code != _code_digest():
        return None
    if any(_sha(Path(p)) != seen for p, seen in deps):
        return None
    return config


def store(config_path: Path, from_example: bool, config) -> None:
    """Keep a validated config; silently nothing when its folder cannot be written."""
    deps = [(str(p), _sha(p)) for p in [config_path, *_paths(config)]]
    entry = _entry_path(config_path, from_example)
    tmp = entry.with_name(f".{entry.name}.{os.getpid()}")
    try:
        entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(entry.parent, 0o700)
        data = pickle.dumps((VERSION, _code_digest(), deps, config), protocol=5)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, entry)
    except OSError:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass

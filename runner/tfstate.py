"""One typed reader for Terraform state, so nobody walks raw state dicts.

Two shapes reach us: the state file format v4 (terraform.tfstate, `terraform
state pull`: resources[].instances[].attributes) and `terraform show -json`
(values.root_module.resources[].values, nested child_modules). Both become a
frozen TfState of one StateResource per instance.

A corrupt file is one line (StateError), never a traceback: an unreadable
state must stop the run, because planning against it would recreate
everything that already exists.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Iterator, Mapping

from errors import RefusedError

SUPPORTED_VERSION = 4


class StateError(RefusedError):
    """The state exists but cannot be read: refuse rather than plan against nothing."""


@dataclass(frozen=True)
class StateResource:
    """One instance of one resource (count/for_each instances are separate)."""
    mode: str                      # "managed" | "data"
    type: str
    name: str
    module: str = ""               # "" for the root module, else "module.x"
    index_key: str | int | None = None
    attributes: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    tainted: bool = False
    dependencies: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        base = f"{self.type}.{self.name}" if self.mode == "managed" else \
            f"data.{self.type}.{self.name}"
        if self.index_key is not None:
            base += f"[{json.dumps(self.index_key)}]"
        return f"{self.module}.{base}" if self.module else base

    @property
    def id(self) -> str | None:
        value = self.attributes.get("id")
        return None if value is None else str(value)

    @property
    def numeric_id(self) -> int | None:
        try:
            return int(self.attributes.get("id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None


@dataclass(frozen=True)
class TfState:
    lineage: str = ""
    serial: int = 0
    version: int = SUPPORTED_VERSION
    terraform_version: str = ""
    resources: tuple[StateResource, ...] = ()

    def __iter__(self) -> Iterator[StateResource]:
        return iter(self.resources)

    @property
    def managed(self) -> tuple[StateResource, ...]:
        return tuple(r for r in self.resources if r.mode == "managed")

    @property
    def is_empty(self) -> bool:
        return not self.managed

    def of_type(self, type_name: str) -> tuple[StateResource, ...]:
        return tuple(r for r in self.managed if r.type == type_name)

    def get(self, address: str) -> StateResource | None:
        for res in self.resources:
            if res.address == address:
                return res
        return None

    def addresses(self) -> set[str]:
        return {r.address for r in self.managed}

    def ids_by_type(self) -> dict[str, set[int]]:
        found: dict[str, set[int]] = {}
        for res in self.managed:
            if res.numeric_id is not None:
                found.setdefault(res.type, set()).add(res.numeric_id)
        return found


def _frozen(value: Any) -> Mapping[str, Any]:
    return MappingProxyType(dict(value)) if isinstance(value, Mapping) else MappingProxyType({})


def _from_raw(doc: Mapping[str, Any]) -> Iterable[StateResource]:
    for res in doc.get("resources") or ():
        if not isinstance(res, Mapping):
            raise ValueError("a resource entry is not an object")
        for inst in res.get("instances") or ():
            yield StateResource(
                mode=str(res.get("mode", "managed")), type=str(res.get("type", "")),
                name=str(res.get("name", "")), module=str(res.get("module", "") or ""),
                index_key=inst.get("index_key"), attributes=_frozen(inst.get("attributes")),
                tainted=inst.get("status") == "tainted",
                dependencies=tuple(inst.get("dependencies") or ()))


def _from_show(module: Mapping[str, Any], prefix: str = "") -> Iterable[StateResource]:
    for res in module.get("resources") or ():
        yield StateResource(
            mode=str(res.get("mode", "managed")), type=str(res.get("type", "")),
            name=str(res.get("name", "")), module=prefix, index_key=res.get("index"),
            attributes=_frozen(res.get("values")), tainted=bool(res.get("tainted")),
            dependencies=tuple(res.get("depends_on") or ()))
    for child in module.get("child_modules") or ():
        yield from _from_show(child, str(child.get("address", "")))


def parse_state(doc: Mapping[str, Any] | None) -> TfState:
    """A TfState from either shape; ValueError when the document is not a state."""
    if not doc:
        return TfState()
    if not isinstance(doc, Mapping):
        raise ValueError("not a JSON object")
    if "values" in doc and "resources" not in doc:   # terraform show -json
        root = (doc.get("values") or {}).get("root_module") or {}
        return TfState(terraform_version=str(doc.get("terraform_version", "")),
                       resources=tuple(_from_show(root)))
    version = doc.get("version", SUPPORTED_VERSION)
    if version != SUPPORTED_VERSION:
        raise ValueError(f"state format version {version!r} (only {SUPPORTED_VERSION} is read)")
    try:
        serial = int(doc.get("serial", 0))
    except (TypeError, ValueError):
        raise ValueError("serial is not a number") from None
    try:
        resources = tuple(_from_raw(doc))
    except (AttributeError, TypeError) as exc:
        raise ValueError(f"unexpected shape ({exc})") from None
    return TfState(str(doc.get("lineage", "")), serial, version,
                   str(doc.get("terraform_version", "")), resources)


def parse_state_text(text: str, where: str,
                     backups: Path | None = None) -> tuple[dict, TfState]:
    """(raw document, typed state) from state JSON; StateError naming `where` when corrupt."""
    if not text.strip():
        return {}, TfState()
    try:
        doc = json.loads(text)
        return doc, parse_state(doc)
    except ValueError as exc:   # JSONDecodeError is a ValueError
        reason = str(exc).splitlines()[0] if str(exc) else "unreadable"
        folder = backups or Path(".work/state-backups")
        raise StateError(f"the Terraform state {where} is corrupt ({reason}); nothing was "
                         f"changed. Restore it from the newest copy in {folder}/, or move "
                         f"it aside if nothing was ever deployed") from None


def load_state_file(path: Path) -> tuple[dict, TfState]:
    """The local state file; missing or zero bytes reads as no state."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, TfState()
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(f"the Terraform state {path} cannot be read "
                         f"({getattr(exc, 'strerror', None) or exc})") from None
    return parse_state_text(text, str(path), path.parent / ".work" / "state-backups")

"""The stack manifest: what `generate` wrote into a stack, and nothing else.

`generate` writes manifest.json into the stack it renders: the profile, every
file it rendered with its sha256, and the resources it protects from deletion.
It is how later runs know what was generated without reading the rendered
files back: the profile for the next `generate`, the files to delete when a
profile no longer renders them, and the files `check` must refuse because
nobody generated them. The one escape hatch for hand-written Terraform is a
file named `*.local.tf`: kept, never deleted, reported as hand-written.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from errors import ConfigError

MANIFEST_NAME = "manifest.json"
LOCAL_SUFFIX = ".local.tf"
VERSION = 1
# What Terraform and the runner write into a stack that is the real target's
# workdir; not generated, not hand-written, never committed (see .gitignore).
RUNTIME_FILES = frozenset({".terraform.lock.hcl", "terraform.tfstate", "terraform.tfstate.backup",
                           ".terraform.tfstate.lock.info"})
RUNTIME_DIRS = frozenset({".terraform", ".work"})
# A listed name is deleted by `generate` when no longer rendered: a plain file
# name in the stack folder only, never a path.
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,100}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ManifestError(ConfigError):
    """manifest.json is missing a field, or not what `generate` writes."""


@dataclass(frozen=True)
class Protected:
    address: str             # e.g. hcloud_volume.data
    delete_protection: bool  # Hetzner refuses to delete it
    prevent_destroy: bool    # Terraform refuses to plan its deletion


@dataclass(frozen=True)
class Manifest:
    profile: str
    files: tuple[tuple[str, str], ...]   # (file name, sha256), sorted by name
    protected: tuple[Protected, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.files)

    def sha256(self, name: str) -> str | None:
        return dict(self.files).get(name)

    def to_bytes(self) -> bytes:
        doc = {
            "version": VERSION,
            "generator": "hetzner-deploy generate",
            "profile": self.profile,
            "files": dict(self.files),
            "protected": [{"address": p.address, "delete_protection": p.delete_protection,
                           "prevent_destroy": p.prevent_destroy} for p in self.protected],
        }
        return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def protected_resources(parsed: dict[str, dict]) -> tuple[Protected, ...]:
    """Resources carrying delete_protection or prevent_destroy in parsed .tf
    files (python-hcl2 documents by file name); `check` compares the manifest with it."""
    found = []
    for name in sorted(parsed):
        if not name.endswith(".tf"):
            continue
        for block in parsed[name].get("resource", []):
            for rtype, instances in block.items():
                for rname, body in instances.items():
                    lifecycle = (body.get("lifecycle") or [{}])[0]
                    delete = body.get("delete_protection") is True
                    prevent = lifecycle.get("prevent_destroy") is True
                    if delete or prevent:
                        found.append(Protected(f"{rtype}.{rname}", delete, prevent))
    return tuple(sorted(found, key=lambda p: p.address))


def build_manifest(profile: str, files: dict[str, bytes],
                   protected: tuple[Protected, ...]) -> Manifest:
    return Manifest(profile, tuple(sorted((n, sha256(d)) for n, d in files.items())),
                    tuple(sorted(protected, key=lambda p: p.address)))


def read_manifest(stack_dir: Path) -> Manifest | None:
    """The stack's manifest; None when it has none. A malformed one is a ManifestError."""
    path = stack_dir / MANIFEST_NAME
    if not path.is_file():
        return None
    where = f"{stack_dir.name}/{MANIFEST_NAME}"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{where}: unreadable ({type(exc).__name__}); "
                            "run `hetzner-deploy generate` to rewrite it") from None
    if not isinstance(doc, dict) or doc.get("version") != VERSION:
        raise ManifestError(f"{where}: not a version {VERSION} manifest; regenerate the stack")
    profile, files, protected = doc.get("profile"), doc.get("files"), doc.get("protected", [])
    if not isinstance(profile, str) or not profile:
        raise ManifestError(f"{where}: names no profile; regenerate the stack")
    if not isinstance(files, dict) or not all(
            isinstance(n, str) and _FILE_NAME.fullmatch(n) and n != MANIFEST_NAME
            and isinstance(h, str) and _SHA256.fullmatch(h) for n, h in files.items()):
        raise ManifestError(f"{where}: files must map plain file names to sha256 hashes")
    try:
        marks = tuple(Protected(str(p["address"]), bool(p["delete_protection"]),
                                bool(p["prevent_destroy"])) for p in protected)
    except (TypeError, KeyError):
        raise ManifestError(f"{where}: protected must list address/delete_protection/"
                            "prevent_destroy records") from None
    return Manifest(profile, tuple(sorted(files.items())), marks)


def stack_profile(stack_dir: Path) -> str | None:
    """The profile the stack was last generated for (from its manifest), if known."""
    try:
        manifest = read_manifest(stack_dir)
    except ManifestError:  # `check` names a broken manifest; here it is simply unknown
        return None
    return manifest.profile if manifest else None


@dataclass(frozen=True)
class Listing:
    """Every entry of a stack folder, by who put it there."""
    generated: tuple[str, ...]     # listed in the manifest and present
    missing: tuple[str, ...]       # listed in the manifest, absent
    hand_written: tuple[str, ...]  # *.local.tf: the escape hatch
    runtime: tuple[str, ...]       # Terraform's and the runner's own files
    unknown: tuple[str, ...]       # anything else: `check` fails on these


def list_stack(stack_dir: Path, manifest: Manifest | None) -> Listing:
    listed = set(manifest.names) if manifest else set()
    generated, hand, runtime, unknown = [], [], [], []
    for entry in sorted(stack_dir.iterdir()) if stack_dir.is_dir() else []:
        name = entry.name
        if name == MANIFEST_NAME:
            continue
        if (name in RUNTIME_DIRS and entry.is_dir()) or (name in RUNTIME_FILES and entry.is_file()):
            runtime.append(name)
        elif name in listed and entry.is_file() and not entry.is_symlink():
            generated.append(name)
        elif name.endswith(LOCAL_SUFFIX) and entry.is_file():
            hand.append(name)
        else:
            unknown.append(name + ("/" if entry.is_dir() else ""))
    missing = sorted(listed - set(generated))
    return Listing(tuple(generated), tuple(missing), tuple(hand), tuple(runtime), tuple(unknown))

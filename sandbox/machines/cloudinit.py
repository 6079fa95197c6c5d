"""The server's user data, read the way cloud-init would, as a boot plan.

Honoured: write_files, runcmd, bootcmd, ssh_keys (host keys),
ssh_authorized_keys, mounts (volumes by their /dev/disk/by-id path), hostname,
and a user data that is a shell script. Everything else is named in the
machine's log as not run, so nobody mistakes the sandbox for the real boot.
"""
from __future__ import annotations

import base64
import gzip
import re
import shlex
from dataclasses import dataclass, field

import yaml

HONOURED = {"write_files", "runcmd", "bootcmd", "ssh_keys", "ssh_authorized_keys", "mounts", "hostname",
            "fqdn", "preserve_hostname"}
# Keys whose sandbox behaviour already equals what they ask for.
MATCHING = {"ssh_pwauth": False, "disable_root": False}
VOLUME_DEVICE = re.compile(r"HC_Volume_(\d+)$")
HOST_KEY = re.compile(r"^(rsa|ecdsa|ed25519)_(private|public)$")


@dataclass
class WriteFile:
    path: str
    content: bytes
    mode: int = 0o644
    owner: str = "root:root"
    append: bool = False


@dataclass
class BootPlan:
    files: list[WriteFile] = field(default_factory=list)
    bootcmd: list[str] = field(default_factory=list)     # shell lines
    runcmd: list[str] = field(default_factory=list)      # shell lines
    host_keys: dict[str, dict[str, str]] = field(default_factory=dict)   # type -> private/public
    authorized_keys: list[str] = field(default_factory=list)
    volume_mounts: dict[int, str] = field(default_factory=dict)           # volume id -> mount point
    hostname: str | None = None
    notes: list[str] = field(default_factory=list)       # what the log must say


def _command(item) -> str:
    if isinstance(item, list):
        return shlex.join(str(a) for a in item)
    return str(item)


def _content(entry: dict) -> bytes:
    raw = entry.get("content", "")
    data = raw.encode() if isinstance(raw, str) else bytes(raw or b"")
    encoding = str(entry.get("encoding", "text")).lower()
    if encoding in ("b64", "base64"):
        return base64.b64decode(data)
    if encoding in ("gz", "gzip"):
        return gzip.decompress(data)
    if encoding in ("gz+b64", "gzip+base64", "gz+base64", "gzip+b64"):
        return gzip.decompress(base64.b64decode(data))
    return data


def _write_files(entries, plan: BootPlan) -> None:
    for entry in entries or []:
        path = str(entry.get("path", ""))
        if not path.startswith("/") or ".." in path.split("/"):
            plan.notes.append(f"write_files: skipped {path!r} (needs an absolute path without '..')")
            continue
        try:
            mode = int(str(entry.get("permissions", "0644")), 8)
            content = _content(entry)
        except (ValueError, OSError) as exc:
            plan.notes.append(f"write_files: skipped {path}: {exc}")
            continue
        plan.files.append(WriteFile(path, content, mode, str(entry.get("owner", "root:root")),
                                    bool(entry.get("append", False))))


def _mounts(entries, plan: BootPlan) -> None:
    for entry in entries or []:
        if not isinstance(entry, list) or len(entry) < 2:
            continue
        match = VOLUME_DEVICE.search(str(entry[0]))
        if match:
            plan.volume_mounts[int(match.group(1))] = str(entry[1])
        else:
            plan.notes.append(f"mounts: {entry[0]} -> {entry[1]} not mounted (only Hetzner volumes exist here)")


def parse(user_data: str | None) -> BootPlan:
    plan = BootPlan()
    text = user_data or ""
    if not text.strip():
        plan.notes.append("no user data")
        return plan
    if text.startswith("#!"):
        plan.files.append(WriteFile("/var/lib/cloud/instance/scripts/part-001", text.encode(), 0o755))
        plan.runcmd.append("/var/lib/cloud/instance/scripts/part-001")
        plan.notes.append("user data is a script: run once after boot, like cloud-init's scripts-user")
        return plan
    if not text.startswith("#cloud-config"):
        plan.notes.append("user data is neither #cloud-config nor a script: not run")
        return plan
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        plan.notes.append(f"user data is not valid YAML, nothing of it runs: {str(exc).splitlines()[0]}")
        return plan
    if not isinstance(doc, dict):
        plan.notes.append("user data is not a YAML mapping: nothing of it runs")
        return plan
    _write_files(doc.get("write_files"), plan)
    plan.bootcmd = [_command(c) for c in doc.get("bootcmd") or []]
    plan.runcmd = [_command(c) for c in doc.get("runcmd") or []]
    for key, value in (doc.get("ssh_keys") or {}).items():
        match = HOST_KEY.match(str(key))
        if match:
            plan.host_keys.setdefault(match.group(1), {})[match.group(2)] = str(value)
        else:
            plan.notes.append(f"ssh_keys: {key} ignored")
    plan.authorized_keys = [str(k).strip() for k in doc.get("ssh_authorized_keys") or []]
    _mounts(doc.get("mounts"), plan)
    if not doc.get("preserve_hostname"):
        plan.hostname = doc.get("hostname") or doc.get("fqdn")
    skipped = sorted(k for k in doc if k not in HONOURED and MATCHING.get(k, object()) != doc[k])
    if skipped:
        plan.notes.append("cloud-init modules NOT run in the sandbox: " + ", ".join(skipped))
    return plan

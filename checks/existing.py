"""What already exists that would make the apply fail halfway: caught before anything changes.

- The same SSH public key under another name: Hetzner refuses a second key
  with the same fingerprint (`uniqueness_error`), so a second environment in
  the same project would fail after creating three resources.
- A downgrade that cannot happen: a server upgraded without `keep_disk` has
  a disk larger than the smaller type offers, and Hetzner refuses the
  rescale after the server was already powered off.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Iterable

from hcloud import Client

from checks.base import FAIL, OK, Check
from generator.profiles import Profile


def key_fingerprint(public_key: str) -> str | None:
    """Hetzner's fingerprint: MD5 of the key blob, colon-separated hex."""
    parts = public_key.split()
    if len(parts) < 2:
        return None
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        return None
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def check_ssh_key_reuse(client: Client, public_key: str, key_name: str,
                        owned_ids: Iterable[int] | None) -> Check:
    fingerprint = key_fingerprint(public_key)
    owned = set(owned_ids or ())
    clash = next((k for k in client.ssh_keys.get_all()
                  if fingerprint and k.fingerprint == fingerprint and k.name != key_name
                  and k.id not in owned), None)
    if clash is None:
        return Check("conflicts", "SSH key not held under another name", OK,
                     f"no other key in the project has fingerprint {fingerprint}")
    return Check("conflicts", "SSH key not held under another name", FAIL,
                 f"the project already holds this public key as '{clash.name}' (id {clash.id}); "
                 f"Hetzner refuses the same key twice, so creating '{key_name}' would fail "
                 "after other resources exist",
                 f"use another key for this environment (ssh.public_key in deploy.toml), or "
                 f"delete '{clash.name}' if nothing uses it any more")


def check_downgrades(client: Client, profile: Profile, hostnames: dict[str, str],
                     owned_ids: Iterable[int] | None) -> list[Check]:
    """hostnames: planned server name -> the server type the profile gives it."""
    owned = None if owned_ids is None else set(owned_ids)
    checks: list[Check] = []
    disks: dict[str, int] = {}
    for name, wanted in hostnames.items():
        server = client.servers.get_by_name(name)
        if server is None or server.server_type.name == wanted:
            continue
        if owned is not None and server.id not in owned:
            continue   # a foreign server with our name is a conflict, reported elsewhere
        if wanted not in disks:
            disks[wanted] = client.server_types.get_by_name(wanted).disk
        if server.primary_disk_size > disks[wanted]:
            checks.append(Check(
                "rescale", f"Rescale {name} to {wanted}", FAIL,
                f"its disk is {server.primary_disk_size} GB (grown when it was upgraded without "
                f"keep_disk) and {wanted} offers {disks[wanted]} GB: Hetzner refuses this "
                "downgrade after powering the server off",
                f"stay on {server.server_type.name}, or move the data off this server and "
                "replace it (hetzner-deploy apply --allow-replace) on purpose"))
        else:
            checks.append(Check("rescale", f"Rescale {name} to {wanted}", OK,
                                f"{server.server_type.name} -> {wanted} in place, disk "
                                f"{server.primary_disk_size} GB fits {disks[wanted]} GB"))
    return checks

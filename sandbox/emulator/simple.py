"""SSH keys and placement groups: the families without actions of their own."""
from __future__ import annotations

import base64
import binascii
import hashlib

from .apierrors import invalid_input
from .query import listing
from .routing import Call, Router, check_labels, check_name, require, update_common
from .store import Store, now

KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
             "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")


def fingerprint(public_key: str) -> str:
    """MD5 fingerprint of the key blob, colon-separated: what the API shows."""
    parts = public_key.strip().split()
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        raise invalid_input("invalid input in field 'public_key'", public_key="not an OpenSSH public key")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise invalid_input("invalid input in field 'public_key'", public_key="key data is not base64") from None
    # The blob starts with its own key type; a mismatch means a mangled key.
    if len(blob) < 4 or blob[4:4 + int.from_bytes(blob[:4], "big")].decode("latin-1") != parts[0]:
        raise invalid_input("invalid input in field 'public_key'", public_key="key data does not match key type")
    digest = hashlib.md5(blob).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, 32, 2))


def create_ssh_key(call: Call):
    require(call.body, "name", "public_key")
    name = check_name(call.store, "ssh_keys", call.body["name"])
    fp = fingerprint(call.body["public_key"])
    if any(k["fingerprint"] == fp for k in call.store.all("ssh_keys")):
        from .apierrors import uniqueness
        raise uniqueness("public_key")
    key = {"id": call.store.new_id(), "name": name, "fingerprint": fp,
           "public_key": call.body["public_key"].strip(), "labels": check_labels(call.body), "created": now()}
    call.store.put("ssh_keys", key)
    return 201, {"ssh_key": dict(key)}


def update_ssh_key(call: Call):
    key = call.store.get("ssh_keys", call.params["id"], "ssh key")
    update_common(call.store, "ssh_keys", key, call.body)
    return {"ssh_key": dict(key)}


def delete_ssh_key(call: Call):
    key = call.store.get("ssh_keys", call.params["id"], "ssh key")
    call.store.delete("ssh_keys", key["id"])
    return 204, None


def render_placement_group(store: Store, pg: dict) -> dict:
    return dict(pg, labels=dict(pg["labels"]),
                servers=sorted(s["id"] for s in store.all("servers") if s.get("placement_group") == pg["id"]))


def create_placement_group(call: Call):
    require(call.body, "name", "type")
    if call.body["type"] != "spread":
        raise invalid_input("invalid input in field 'type'", type="must be spread")
    name = check_name(call.store, "placement_groups", call.body["name"])
    pg = {"id": call.store.new_id(), "name": name, "type": "spread",
          "labels": check_labels(call.body), "created": now()}
    call.store.put("placement_groups", pg)
    return 201, {"placement_group": render_placement_group(call.store, pg)}


def update_placement_group(call: Call):
    pg = call.store.get("placement_groups", call.params["id"], "placement group")
    update_common(call.store, "placement_groups", pg, call.body)
    return {"placement_group": render_placement_group(call.store, pg)}


def delete_placement_group(call: Call):
    pg = call.store.get("placement_groups", call.params["id"], "placement group")
    # The API keeps servers running and simply drops them from the deleted group.
    for server in call.store.all("servers"):
        if server.get("placement_group") == pg["id"]:
            server["placement_group"] = None
    call.store.delete("placement_groups", pg["id"])
    return 204, None


def register(router: Router) -> None:
    router.add("GET", "/ssh_keys", lambda c: listing(
        c.query, "ssh_keys", [dict(k) for k in c.store.all("ssh_keys")],
        filters={"fingerprint": lambda o, vs: o["fingerprint"] in vs}))
    router.add("POST", "/ssh_keys", create_ssh_key)
    router.add("GET", "/ssh_keys/{id}", lambda c: {"ssh_key": dict(c.store.get("ssh_keys", c.params["id"], "ssh key"))})
    router.add("PUT", "/ssh_keys/{id}", update_ssh_key)
    router.add("DELETE", "/ssh_keys/{id}", delete_ssh_key)

    router.add("GET", "/placement_groups", lambda c: listing(
        c.query, "placement_groups", [render_placement_group(c.store, p) for p in c.store.all("placement_groups")],
        filters={"type": lambda o, vs: o["type"] in vs}))
    router.add("POST", "/placement_groups", create_placement_group)
    router.add("GET", "/placement_groups/{id}", lambda c: {"placement_group": render_placement_group(
        c.store, c.store.get("placement_groups", c.params["id"], "placement group"))})
    router.add("PUT", "/placement_groups/{id}", update_placement_group)
    router.add("DELETE", "/placement_groups/{id}", delete_placement_group)

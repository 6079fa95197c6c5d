"""Which servers a label selector reaches: firewalls and load balancers can
target servers by label, and the server side has to show that too."""
from __future__ import annotations

from .query import parse_selector
from .store import Store


def servers_matching(store: Store, selector: str) -> list[int]:
    match = parse_selector(selector)
    return sorted(s["id"] for s in store.all("servers") if match(s["labels"]))


def firewalls_for_server(store: Store, server: dict) -> list[int]:
    found = []
    for fw in store.all("firewalls"):
        for entry in fw["applied_to"]:
            if entry["type"] == "server" and entry["server"]["id"] == server["id"]:
                found.append(fw["id"])
                break
            if entry["type"] == "label_selector" and \
                    parse_selector(entry["label_selector"]["selector"])(server["labels"]):
                found.append(fw["id"])
                break
    return sorted(found)

"""The emulator's state: every resource, action, id counter and admin switch,
kept behind one lock and persisted as JSON.

Saving writes a temp file in the same directory, fsyncs it and os.replace()s
it over state.json, so a reader sees either the old or the new state, never a
half-written one; leftover temp files from a killed writer are ignored.
"""
from __future__ import annotations

import copy
import ipaddress
import json
import os
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from .apierrors import locked, not_found

STATE_FILE = "state.json"
FAMILIES = ("servers", "volumes", "firewalls", "placement_groups", "ssh_keys", "networks",
            "load_balancers", "floating_ips", "primary_ips", "certificates", "zones")
DEFAULT_IP_RANGE = "203.0.113.0/24"
IPV6_RANGE = "2001:db8::/32"


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).replace(microsecond=0).isoformat()


def _empty(ip_range: str) -> dict:
    return {"version": 1, "next_id": 1000, "next_action_id": 1, "ip_range": ip_range,
            "ipv4_cursor": 0, "ipv6_cursor": 0, "unavailable": [],
            "resources": {f: {} for f in FAMILIES}, "actions": {}, "action_due": {}}


class Store:
    def __init__(self, state_dir: str | os.PathLike | None, ip_range: str | None = None,
                 action_seconds: float = 0.0, clock=time.time):
        self.lock = threading.RLock()
        # How long an action runs, on `clock`. With 0 an action finishes the
        # first time anything reads it, and nothing is ever `locked`.
        self.action_seconds = float(action_seconds)
        self.clock = clock
        self.state_dir = Path(state_dir) if state_dir else None
        self.data = _empty(ip_range or DEFAULT_IP_RANGE)
        self.dirty = False
        # Admin switch, not persisted: the next N actions finish with this error.
        self.failing_actions = {"count": 0, "code": "action_failed", "message": "failed (injected by the sandbox)"}
        self._doomed: set[int] = set()
        if self.state_dir is not None:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self._load()
        if ip_range:
            self._check_range(ip_range)
            self.data["ip_range"] = ip_range

    # -- persistence -------------------------------------------------------
    @staticmethod
    def _check_range(ip_range: str) -> None:
        net = ipaddress.ip_network(ip_range, strict=False)
        if net.version != 4 or net.num_addresses < 8:
            raise ValueError(f"--ip-range must be an IPv4 network of at least 8 addresses: {ip_range}")

    def _load(self) -> None:
        # Temp files left by a killed writer were never renamed into place: drop them.
        for stale in self.state_dir.glob(".state.*.tmp"):
            stale.unlink(missing_ok=True)
        path = self.state_dir / STATE_FILE
        if not path.exists():
            return
        loaded = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(loaded, dict) or not isinstance(loaded.get("resources", {}), dict):
            raise ValueError(f"{path} is not an emulator state file")
        data = _empty(loaded.get("ip_range") or self.data["ip_range"])
        data.update(loaded)
        for family in FAMILIES:  # families added after the file was written
            data["resources"].setdefault(family, {})
        self.data = data

    def save(self) -> None:
        if self.state_dir is None:
            self.dirty = False
            return
        text = json.dumps(self.data, sort_keys=True)
        fd, tmp = tempfile.mkstemp(prefix=".state.", suffix=".tmp", dir=self.state_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.state_dir / STATE_FILE)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.dirty = False

    def save_if_dirty(self) -> None:
        if self.dirty:
            self.save()

    # -- resources ---------------------------------------------------------
    def new_id(self) -> int:
        # One counter for every family: an id given to the wrong family is a 404,
        # which catches mix-ups a per-family counter would hide.
        self.data["next_id"] += 1
        self.dirty = True
        return self.data["next_id"]

    def table(self, family: str) -> dict:
        return self.data["resources"][family]

    def all(self, family: str) -> list[dict]:
        return list(self.table(family).values())

    def get(self, family: str, rid, what: str | None = None) -> dict:
        obj = self.table(family).get(str(rid))
        if obj is None:
            raise not_found(what or family.rstrip("s").replace("_", " "))
        return obj

    def find(self, family: str, rid) -> dict | None:
        return self.table(family).get(str(rid))

    def by_name(self, family: str, name: str) -> dict | None:
        return next((o for o in self.all(family) if o.get("name") == name), None)

    def put(self, family: str, obj: dict) -> dict:
        self.table(family)[str(obj["id"])] = obj
        self.dirty = True
        return obj

    def delete(self, family: str, rid) -> None:
        self.table(family).pop(str(rid), None)
        self.dirty = True

    def touch(self) -> None:
        self.dirty = True

    def snapshot(self) -> dict:
        """Everything a handler may change, for restore(). The action log is
        append-only, so it is cut back to its length instead of copied (the
        copy would grow with every action ever run)."""
        return {k: copy.deepcopy(v) for k, v in self.data.items() if k not in ("actions", "action_due")}

    def restore(self, saved: dict) -> None:
        for aid in [a for a in self.data["actions"] if int(a) >= saved["next_action_id"]]:
            self.data["actions"].pop(aid)
            self.data["action_due"].pop(aid, None)
        self.data.update(saved)
        self.dirty = True

    # -- actions -----------------------------------------------------------
    def busy(self, rtype: str, rid) -> bool:
        """Whether an action on this resource is still running (the API's `locked`)."""
        if self.action_seconds <= 0:
            return False
        for aid in list(self.data["action_due"]):
            action = self.data["actions"].get(aid)
            if action is None:
                continue
            if any(r["type"] == rtype and str(r["id"]) == str(rid) for r in action["resources"]):
                if self.settle(action)["status"] == "running":
                    return True
        return False

    def action(self, command: str, resources: list[tuple[int, str]], follow_up: bool = False) -> dict:
        """Record a running action. It finishes `action_seconds` later on the
        store's clock, checked whenever it is read; a resource with an action
        still running refuses a new one with `locked` (423), unless this one
        is a `follow_up` the same request started (a create's next_actions)."""
        for rid, rtype in resources:
            if not follow_up and self.busy(rtype, rid):
                raise locked(f"{rtype.replace('_', ' ')} {rid}")
        aid = self.data["next_action_id"]
        self.data["next_action_id"] += 1
        started = self.clock()
        action = {"id": aid, "command": command, "status": "running", "progress": 0,
                  "started": iso(started), "finished": None, "error": None,
                  "resources": [{"id": rid, "type": rtype} for rid, rtype in resources]}
        self.data["actions"][str(aid)] = action
        self.data["action_due"][str(aid)] = started + self.action_seconds
        if self.failing_actions["count"] > 0:
            self.failing_actions["count"] -= 1
            self._doomed.add(aid)
        self.dirty = True
        return dict(action, resources=list(action["resources"]))

    def settle(self, action: dict) -> dict:
        if action["status"] != "running":
            return action
        due = self.data["action_due"].get(str(action["id"]))
        now_ = self.clock()
        if due is not None and now_ < due:
            total = max(self.action_seconds, 1e-9)
            action["progress"] = min(99, int(100 * (1 - (due - now_) / total)))
            return action
        finished = iso(now_)
        if action["id"] in self._doomed:
            self._doomed.discard(action["id"])
            action.update(status="error", finished=finished, error={
                "code": self.failing_actions["code"], "message": self.failing_actions["message"]})
        else:
            action.update(status="success", progress=100, finished=finished)
        self.data["action_due"].pop(str(action["id"]), None)
        self.dirty = True
        return action

    def actions(self) -> list[dict]:
        return list(self.data["actions"].values())

    # -- addresses ---------------------------------------------------------
    def _used_ips(self) -> set[str]:
        used = {o["ip"] for fam in ("primary_ips", "floating_ips") for o in self.all(fam)}
        used |= {o["public_net"]["ipv4"]["ip"] for o in self.all("load_balancers")
                 if o.get("public_net", {}).get("ipv4", {}).get("ip")}
        used |= {o["public_net"]["ipv6"]["ip"] for o in self.all("load_balancers")
                 if o.get("public_net", {}).get("ipv6", {}).get("ip")}
        return used

    def next_ipv4(self) -> str:
        net = ipaddress.ip_network(self.data["ip_range"], strict=False)
        hosts = list(net.hosts())[1:]  # the first host is the "gateway"
        used = self._used_ips()
        for step in range(len(hosts)):
            candidate = str(hosts[(self.data["ipv4_cursor"] + step) % len(hosts)])
            if candidate not in used:
                self.data["ipv4_cursor"] = (self.data["ipv4_cursor"] + step + 1) % len(hosts)
                self.dirty = True
                return candidate
        from .apierrors import ApiFault
        raise ApiFault(412, "resource_unavailable", "no free IPv4 address left in the sandbox range")

    def next_ipv6_net(self) -> str:
        """A fresh /64 out of the documentation prefix (never routed anywhere)."""
        self.data["ipv6_cursor"] += 1
        self.dirty = True
        base = ipaddress.ip_network(IPV6_RANGE)
        return f"{base.network_address + (self.data['ipv6_cursor'] << 64)}/64"

    # -- admin switches ----------------------------------------------------
    def unavailable(self) -> set[tuple[str, str]]:
        return {tuple(pair) for pair in self.data["unavailable"]}

    def set_available(self, server_type: str, location: str, available: bool) -> None:
        pairs = self.unavailable()
        if available:
            pairs.discard((server_type, location))
        else:
            pairs.add((server_type, location))
        self.data["unavailable"] = sorted([list(p) for p in pairs])
        self.dirty = True

    def summary(self) -> dict:
        return {"counts": {f: len(self.table(f)) for f in FAMILIES},
                "actions": len(self.data["actions"]),
                "unavailable": [list(p) for p in sorted(self.unavailable())],
                "ip_range": self.data["ip_range"]}

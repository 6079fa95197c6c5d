"""hcloud_firewall and hcloud_firewall_attachment."""
from __future__ import annotations


from sandbox.provider.resources import hc
from sandbox.provider.resources.base import HcloudResource, known, labels, wait_all


def _rule(spec: dict) -> hc.FirewallRule:
    return hc.FirewallRule(direction=spec["direction"], protocol=spec["protocol"],
                           source_ips=sorted(spec.get("source_ips") or []),
                           destination_ips=sorted(spec.get("destination_ips") or []),
                           port=spec.get("port"), description=spec.get("description"))


def _rule_state(rule) -> dict:
    # An empty address list is reported as null, the way an unset argument reads.
    return {"direction": rule.direction, "protocol": rule.protocol, "port": rule.port,
            "source_ips": sorted(rule.source_ips) if rule.source_ips else None,
            "destination_ips": sorted(rule.destination_ips) if rule.destination_ips else None,
            "description": rule.description}


def _target(server_id=None, selector=None) -> hc.FirewallResource:
    if server_id is not None:
        return hc.FirewallResource(type="server", server=hc.Server(id=int(server_id)))
    return hc.FirewallResource(type="label_selector",
                               label_selector=hc.FirewallResourceLabelSelector(selector))


def _applied(firewall) -> tuple[set[int], set[str]]:
    servers, selectors = set(), set()
    for res in firewall.applied_to or []:
        if res.type == "server" and res.server is not None:
            servers.add(res.server.id)
        elif res.type == "label_selector" and res.label_selector is not None:
            selectors.add(res.label_selector.selector)
    return servers, selectors


def _targets_of(blocks) -> tuple[set[int], set[str]]:
    servers = {int(b["server"]) for b in blocks or [] if known(b.get("server")) is not None}
    selectors = {b["label_selector"] for b in blocks or []
                 if known(b.get("label_selector")) is not None}
    return servers, selectors


def _sync_targets(firewall, have: tuple[set, set], want: tuple[set, set]) -> None:
    add = [_target(server_id=s) for s in want[0] - have[0]] + \
        [_target(selector=s) for s in want[1] - have[1]]
    drop = [_target(server_id=s) for s in have[0] - want[0]] + \
        [_target(selector=s) for s in have[1] - want[1]]
    if drop:
        wait_all(firewall.remove_from_resources(drop))
    if add:
        wait_all(firewall.apply_to_resources(add))


class Firewall(HcloudResource):
    TYPE = "hcloud_firewall"

    def create(self, ctx, planned):
        servers, selectors = _targets_of(planned.get("apply_to"))
        made = self.api.firewalls.create(
            name=planned["name"], labels=labels(planned.get("labels")),
            rules=[_rule(r) for r in planned.get("rule") or []],
            resources=[_target(server_id=s) for s in servers]
            + [_target(selector=s) for s in selectors] or None)
        wait_all(made.actions)
        return self.read(ctx, {**planned, "id": str(made.firewall.id)})

    def read(self, ctx, current):
        firewall = self.fetch(self.api.firewalls.get_by_id, current["id"])
        if firewall is None:
            return None
        servers, selectors = _applied(firewall)
        # Only the targets this resource declares: servers that list the
        # firewall in their own firewall_ids must not show up as drift here.
        apply_to = []
        for block in current.get("apply_to") or []:
            if known(block.get("server")) in servers:
                apply_to.append({"server": block["server"], "label_selector": None})
            elif known(block.get("label_selector")) in selectors:
                apply_to.append({"server": None, "label_selector": block["label_selector"]})
        return {**current, "id": str(firewall.id), "name": firewall.name,
                "labels": firewall.labels or {}, "apply_to": apply_to,
                "rule": [_rule_state(r) for r in firewall.rules or []]}

    def update(self, ctx, current, planned):
        firewall = self.api.firewalls.get_by_id(int(current["id"]))
        if planned["name"] != current["name"] or planned.get("labels") != current.get("labels"):
            firewall.update(name=planned["name"], labels=labels(planned.get("labels")))
        if planned.get("rule") != current.get("rule"):
            wait_all(firewall.set_rules([_rule(r) for r in planned.get("rule") or []]))
        _sync_targets(firewall, _targets_of(current.get("apply_to")),
                      _targets_of(planned.get("apply_to")))
        return self.read(ctx, planned)

    def delete(self, ctx, current):
        firewall = self.fetch(self.api.firewalls.get_by_id, current["id"])
        if firewall is None:
            return None
        servers, selectors = _applied(firewall)
        _sync_targets(firewall, (servers, selectors), (set(), set()))
        self.api.firewalls.delete(firewall)
        return None


class FirewallAttachment(HcloudResource):
    TYPE = "hcloud_firewall_attachment"
    REPLACE = frozenset({"firewall_id"})

    @staticmethod
    def _wanted(state) -> tuple[set[int], set[str]]:
        return ({int(s) for s in state.get("server_ids") or []},
                set(state.get("label_selectors") or []))

    def create(self, ctx, planned):
        firewall = self.api.firewalls.get_by_id(int(planned["firewall_id"]))
        have, want = _applied(firewall), self._wanted(planned)
        _sync_targets(firewall, have, (have[0] | want[0], have[1] | want[1]))
        return self.read(ctx, {**planned, "id": str(firewall.id)})

    def read(self, ctx, current):
        firewall = self.fetch(self.api.firewalls.get_by_id,
                              current.get("firewall_id") or current["id"])
        if firewall is None:
            return None
        servers, selectors = _applied(firewall)
        want_servers, want_selectors = self._wanted(current)
        importing = current.get("firewall_id") is None
        if importing:
            want_servers, want_selectors = servers, selectors
        return {**current, "id": str(firewall.id), "firewall_id": firewall.id,
                "server_ids": sorted(servers & want_servers)
                if importing or current.get("server_ids") is not None else None,
                "label_selectors": sorted(selectors & want_selectors)
                if importing or current.get("label_selectors") is not None else None}

    def update(self, ctx, current, planned):
        firewall = self.api.firewalls.get_by_id(int(current["firewall_id"]))
        _sync_targets(firewall, self._wanted(current), self._wanted(planned))
        return self.read(ctx, planned)

    def delete(self, ctx, current):
        firewall = self.fetch(self.api.firewalls.get_by_id, current["firewall_id"])
        if firewall is not None:
            servers, selectors = _applied(firewall)
            mine_s, mine_l = self._wanted(current)
            _sync_targets(firewall, (servers & mine_s, selectors & mine_l), (set(), set()))
        return None

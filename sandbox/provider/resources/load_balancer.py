"""hcloud_load_balancer and hcloud_load_balancer_network."""
from __future__ import annotations


from sandbox.provider.resources import hc
from sandbox.provider.resources.base import (HcloudResource, first, importing, known, labels,
                                             protection, wait)


def _split(ident: str) -> tuple[int, int]:
    lb_id, _, network_id = str(ident).partition("-")
    return int(lb_id), int(network_id)


class LoadBalancer(HcloudResource):
    TYPE = "hcloud_load_balancer"
    DEFAULTS = {"delete_protection": False}
    REPLACE = frozenset({"location", "network_zone"})

    def check(self, diags, config):
        if config.get("target"):
            diags.add_error("the deprecated `target` block is not supported by the sandbox "
                            "provider: use hcloud_load_balancer_target", path=["target"])
        if config.get("location") is None and config.get("network_zone") is None:
            diags.add_error("hcloud_load_balancer needs `location` or `network_zone`")

    def create(self, ctx, planned):
        algorithm = known((first(planned.get("algorithm")) or {}).get("type"))
        location = known(planned.get("location"))
        made = self.api.load_balancers.create(
            name=planned["name"],
            load_balancer_type=hc.LoadBalancerType(name=planned["load_balancer_type"]),
            algorithm=hc.LoadBalancerAlgorithm(type=algorithm) if algorithm else None,
            labels=labels(planned.get("labels")),
            location=hc.Location(name=location) if location else None,
            network_zone=None if location else known(planned.get("network_zone")))
        self.created(planned, str(made.load_balancer.id))
        wait(made.action)
        if planned.get("delete_protection"):
            wait(made.load_balancer.change_protection(delete=True))
        return self.read(ctx, {**planned, "id": str(made.load_balancer.id)})

    def read(self, ctx, current):
        lb = self.fetch(self.api.load_balancers.get_by_id, current["id"])
        if lb is None:
            return None
        public = lb.public_net
        private = first(lb.private_net)
        return {**current, "id": str(lb.id), "name": lb.name,
                "load_balancer_type": lb.load_balancer_type.name,
                "location": lb.location.name, "network_zone": lb.location.network_zone,
                "labels": lb.labels or {}, "delete_protection": protection(lb),
                "ipv4": public.ipv4.ip if public and public.ipv4 else None,
                "ipv6": public.ipv6.ip if public and public.ipv6 else None,
                "network_id": private.network.id if private else None,
                "network_ip": private.ip if private else None,
                "algorithm": [{"type": lb.algorithm.type}]
                if current.get("algorithm") or importing(current) else [],
                "target": []}

    def update(self, ctx, current, planned):
        lb = self.api.load_balancers.get_by_id(int(current["id"]))
        if planned["name"] != current["name"] or planned.get("labels") != current.get("labels"):
            lb.update(name=planned["name"], labels=labels(planned.get("labels")))
        if planned["load_balancer_type"] != current["load_balancer_type"]:
            wait(lb.change_type(hc.LoadBalancerType(name=planned["load_balancer_type"])))
        algorithm = known((first(planned.get("algorithm")) or {}).get("type"))
        if algorithm and algorithm != (first(current.get("algorithm")) or {}).get("type"):
            wait(lb.change_algorithm(hc.LoadBalancerAlgorithm(type=algorithm)))
        if bool(planned.get("delete_protection")) != bool(current.get("delete_protection")):
            wait(lb.change_protection(delete=bool(planned.get("delete_protection"))))
        return self.read(ctx, planned)

    def delete(self, ctx, current):
        lb = self.fetch(self.api.load_balancers.get_by_id, current["id"])
        if lb is not None:
            # Older API descriptions answer 204, newer ones an action: take both.
            answer = self.api.request("DELETE", f"/load_balancers/{lb.id}") or {}
            if answer.get("action"):
                wait(self.api.actions.get_by_id(answer["action"]["id"]))
        return None


class LoadBalancerNetwork(HcloudResource):
    TYPE = "hcloud_load_balancer_network"
    DEFAULTS = {"enable_public_interface": True}
    REPLACE = frozenset({"load_balancer_id", "network_id", "subnet_id", "ip"})

    def check(self, diags, config):
        if config.get("network_id") is None and config.get("subnet_id") is None:
            diags.add_error("hcloud_load_balancer_network needs `network_id` or `subnet_id`")

    def create(self, ctx, planned):
        lb = self.api.load_balancers.get_by_id(int(planned["load_balancer_id"]))
        network_id = known(planned.get("network_id"))
        if network_id is None:
            network_id = int(str(planned["subnet_id"]).split("-", 1)[0])
        wait(lb.attach_to_network(hc.Network(id=int(network_id)), ip=known(planned.get("ip"))))
        public = known(planned.get("enable_public_interface"))
        if public is False:
            wait(lb.disable_public_interface())
        return self.read(ctx, {**planned, "id": f"{lb.id}-{int(network_id)}"})

    def read(self, ctx, current):
        lb_id, network_id = _split(current["id"])
        lb = self.fetch(self.api.load_balancers.get_by_id, lb_id)
        private = next((p for p in (lb.private_net if lb else None) or []
                        if p.network.id == network_id), None)
        if private is None:
            return None
        return {**current, "load_balancer_id": lb_id, "network_id": network_id,
                "ip": private.ip, "enable_public_interface": bool(lb.public_net.enabled)}

    def update(self, ctx, current, planned):
        lb = self.api.load_balancers.get_by_id(int(current["load_balancer_id"]))
        public = known(planned.get("enable_public_interface"))
        if public is not None and public != current.get("enable_public_interface"):
            wait(lb.enable_public_interface() if public else lb.disable_public_interface())
        return self.read(ctx, planned)

    def delete(self, ctx, current):
        lb = self.fetch(self.api.load_balancers.get_by_id, current["load_balancer_id"])
        if lb is not None and any(p.network.id == int(current["network_id"])
                                  for p in lb.private_net or []):
            wait(lb.detach_from_network(hc.Network(id=int(current["network_id"]))))
        return None

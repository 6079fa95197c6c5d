"""hcloud_load_balancer_service and hcloud_load_balancer_target."""
from __future__ import annotations


from sandbox.provider.resources import hc
from sandbox.provider.resources.base import HcloudResource, first, importing, known, wait


def _health_check(block: dict | None) -> hc.LoadBalancerHealthCheck | None:
    if block is None:
        return None
    http = first(block.get("http"))
    return hc.LoadBalancerHealthCheck(
        protocol=block["protocol"], port=block["port"], interval=block["interval"],
        timeout=block["timeout"], retries=block["retries"],
        http=None if http is None else hc.LoadBalancerHealthCheckHttp(
            domain=http.get("domain"), path=http.get("path"), response=http.get("response"),
            status_codes=http.get("status_codes"), tls=http.get("tls")))


def _http(block: dict | None) -> hc.LoadBalancerServiceHttp | None:
    if block is None:
        return None
    certificates = known(block.get("certificates"))
    return hc.LoadBalancerServiceHttp(
        cookie_name=known(block.get("cookie_name")),
        cookie_lifetime=known(block.get("cookie_lifetime")),
        certificates=[hc.Certificate(id=int(c)) for c in certificates] if certificates else None,
        redirect_http=known(block.get("redirect_http")),
        sticky_sessions=known(block.get("sticky_sessions")),
        timeout_idle=known(block.get("timeout_idle")))


def _service(planned: dict, listen_port=None) -> hc.LoadBalancerService:
    return hc.LoadBalancerService(
        protocol=planned["protocol"],
        listen_port=listen_port if listen_port is not None else known(planned.get("listen_port")),
        destination_port=known(planned.get("destination_port")),
        proxyprotocol=known(planned.get("proxyprotocol")),
        health_check=_health_check(first(planned.get("health_check"))),
        http=_http(first(planned.get("http"))))


def _health_state(hc, prior: list) -> list:
    if hc is None or not prior:
        return []
    http = hc.http
    inner = [] if http is None or not prior[0].get("http") else [{
        "domain": http.domain, "path": http.path, "response": http.response,
        "status_codes": list(http.status_codes or []), "tls": http.tls}]
    return [{"protocol": hc.protocol, "port": hc.port, "interval": hc.interval,
             "timeout": hc.timeout, "retries": hc.retries, "http": inner}]


def _http_state(http, prior: list) -> list:
    if http is None or not prior:
        return []
    return [{"cookie_name": http.cookie_name, "cookie_lifetime": http.cookie_lifetime,
             "certificates": sorted(c.id for c in http.certificates or []),
             "redirect_http": bool(http.redirect_http),
             "sticky_sessions": bool(http.sticky_sessions),
             "timeout_idle": http.timeout_idle}]


class LoadBalancerServiceResource(HcloudResource):
    TYPE = "hcloud_load_balancer_service"
    REPLACE = frozenset({"load_balancer_id", "listen_port"})

    def check(self, diags, config):
        if config.get("protocol") == "tcp" and config.get("listen_port") is None:
            diags.add_error("a tcp service needs `listen_port`", path=["listen_port"])

    def create(self, ctx, planned):
        lb = self.api.load_balancers.get_by_id(int(planned["load_balancer_id"]))
        port = known(planned.get("listen_port"))
        if port is None:
            port = 443 if planned["protocol"] == "https" else 80
        wait(lb.add_service(_service(planned, port)))
        return self.read(ctx, {**planned, "id": f"{lb.id}__{port}"})

    def read(self, ctx, current):
        lb_id, _, port = str(current["id"]).partition("__")
        lb = self.fetch(self.api.load_balancers.get_by_id, lb_id)
        service = next((s for s in (lb.services if lb else None) or []
                        if s.listen_port == int(port)), None)
        if service is None:
            return None
        # On import there is no configuration to follow: report every block.
        everything = [{"http": [{}]}] if importing(current) else None
        return {**current, "load_balancer_id": str(lb.id), "protocol": service.protocol,
                "listen_port": service.listen_port, "destination_port": service.destination_port,
                "proxyprotocol": bool(service.proxyprotocol),
                "health_check": _health_state(service.health_check,
                                              everything or current.get("health_check") or []),
                "http": _http_state(service.http, everything or current.get("http") or [])}

    def update(self, ctx, current, planned):
        lb = self.api.load_balancers.get_by_id(int(current["load_balancer_id"]))
        wait(lb.update_service(_service(planned, current["listen_port"])))
        return self.read(ctx, planned)

    def delete(self, ctx, current):
        lb = self.fetch(self.api.load_balancers.get_by_id, current["load_balancer_id"])
        if lb is not None and any(s.listen_port == current["listen_port"]
                                  for s in lb.services or []):
            wait(lb.delete_service(hc.LoadBalancerService(listen_port=current["listen_port"])))
        return None


def _target(state: dict) -> hc.LoadBalancerTarget:
    kind = state["type"]
    return hc.LoadBalancerTarget(
        type=kind,
        server=hc.Server(id=int(state["server_id"])) if kind == "server" else None,
        label_selector=hc.LoadBalancerTargetLabelSelector(state["label_selector"])
        if kind == "label_selector" else None,
        ip=hc.LoadBalancerTargetIP(state["ip"]) if kind == "ip" else None,
        use_private_ip=known(state.get("use_private_ip")) if kind != "ip" else None)


def _ident(state: dict) -> str:
    return str({"server": state.get("server_id"), "label_selector": state.get("label_selector"),
                "ip": state.get("ip")}[state["type"]])


def _matches(target, kind: str, ident: str) -> bool:
    if target.type != kind:
        return False
    if kind == "server":
        return str(target.server.id) == ident
    if kind == "label_selector":
        return target.label_selector.selector == ident
    return target.ip.ip == ident


class LoadBalancerTargetResource(HcloudResource):
    TYPE = "hcloud_load_balancer_target"
    REPLACE = frozenset({"load_balancer_id", "type", "server_id", "label_selector", "ip",
                         "use_private_ip"})

    def check(self, diags, config):
        needs = {"server": "server_id", "label_selector": "label_selector", "ip": "ip"}
        kind = config.get("type")
        if isinstance(kind, str):
            if kind not in needs:
                diags.add_error(f"unknown target type {kind!r}", path=["type"])
            elif config.get(needs[kind]) is None:
                diags.add_error(f"a {kind} target needs `{needs[kind]}`", path=[needs[kind]])

    def create(self, ctx, planned):
        lb = self.api.load_balancers.get_by_id(int(planned["load_balancer_id"]))
        wait(lb.add_target(_target(planned)))
        return self.read(ctx, {**planned,
                               "id": f"{lb.id}__{planned['type']}__{_ident(planned)}"})

    def read(self, ctx, current):
        lb_id, kind, ident = str(current["id"]).split("__", 2)
        lb = self.fetch(self.api.load_balancers.get_by_id, lb_id)
        target = next((t for t in (lb.targets if lb else None) or []
                       if _matches(t, kind, ident)), None)
        if target is None:
            return None
        return {**current, "load_balancer_id": lb.id, "type": kind,
                "server_id": target.server.id if target.server else None,
                "label_selector": target.label_selector.selector
                if target.label_selector else None,
                "ip": target.ip.ip if target.ip else None,
                "use_private_ip": bool(target.use_private_ip)}

    def update(self, ctx, current, planned):
        return self.read(ctx, planned)

    def delete(self, ctx, current):
        lb = self.fetch(self.api.load_balancers.get_by_id, current["load_balancer_id"])
        if lb is None:
            return None
        if any(_matches(t, current["type"], _ident(current)) for t in lb.targets or []):
            wait(lb.remove_target(_target(current)))
        return None

"""targets[].health_status: `healthy` everywhere without machines; with them,
what the load balancer's HAProxy reported (store.lb_health), `unknown` where it
reported nothing. Read with the official hcloud client and checked against the
OpenAPI description."""
from __future__ import annotations

from hcloud.images import Image
from hcloud.load_balancer_types import LoadBalancerType
from hcloud.load_balancers.domain import (LoadBalancerService, LoadBalancerTarget, LoadBalancerTargetIP,
                                          LoadBalancerTargetLabelSelector)
from hcloud.locations import Location
from hcloud.networks.domain import NetworkSubnet
from hcloud.server_types import ServerType

from tests.sandbox.test_openapi import spec, validate  # noqa: F401 - spec is a fixture


def _statuses(target) -> dict[int, str]:
    return {h.listen_port: h.status for h in target.health_status}


def test_health_status_follows_what_haproxy_reports(emulator, hcloud_client, spec):  # noqa: F811
    client = hcloud_client
    network = client.networks.create(name="n", ip_range="10.0.0.0/16", subnets=[
        NetworkSubnet(type="cloud", ip_range="10.0.1.0/24", network_zone="eu-central")])
    servers = [client.servers.create(name=f"app-{i}", server_type=ServerType(name="cpx12"),
                                     image=Image(name="ubuntu-24.04"), networks=[network],
                                     location=Location(name="fsn1"), labels={"role": "app"}).server
               for i in (1, 2)]
    lb = client.load_balancers.create(
        name="lb", load_balancer_type=LoadBalancerType(name="lb11"), location=Location(name="fsn1"),
        network=network,
        services=[LoadBalancerService(protocol="tcp", listen_port=443, destination_port=443),
                  LoadBalancerService(protocol="http", listen_port=80, destination_port=80)],
        targets=[LoadBalancerTarget(type="server", server=servers[0], use_private_ip=True),
                 LoadBalancerTarget(type="label_selector", use_private_ip=True,
                                    label_selector=LoadBalancerTargetLabelSelector(selector="role=app")),
                 LoadBalancerTarget(type="ip", ip=LoadBalancerTargetIP(ip="198.18.82.200"))]).load_balancer

    # Without machines: what the emulator always said.
    shown = client.load_balancers.get_by_id(lb.id)
    assert all(_statuses(t) == {443: "healthy", 80: "healthy"} for t in shown.targets)

    s1, s2 = (f"s{s.id}" for s in servers)
    emulator.server.store.lb_health = {lb.id: {(80, s1): "unhealthy", (443, s1): "healthy",
                                               (80, s2): "healthy", (443, s2): "healthy"}}
    shown = client.load_balancers.get_by_id(lb.id)
    single, selector, by_ip = shown.targets
    assert _statuses(single) == {80: "unhealthy", 443: "healthy"}
    inner = {t.server.id: _statuses(t) for t in selector.targets}
    assert inner == {servers[0].id: {80: "unhealthy", 443: "healthy"},
                     servers[1].id: {80: "healthy", 443: "healthy"}}
    assert _statuses(selector) == {80: "unhealthy", 443: "healthy"}
    assert _statuses(by_ip) == {80: "unknown", 443: "unknown"}   # HAProxy said nothing about it
    status, body, _ = emulator.api("GET", f"/load_balancers/{lb.id}")
    validate(spec, "GET", "/load_balancers/{id}", status, body)

    # Another load balancer's report does not leak, and an LB not proxied yet is unknown.
    emulator.server.store.lb_health = {lb.id + 1000: {(80, s1): "healthy"}}
    shown = client.load_balancers.get_by_id(lb.id)
    assert {_statuses(t)[80] for t in shown.targets} == {"unknown"}

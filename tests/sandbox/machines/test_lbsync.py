"""The emulator's load balancers as LbSpecs (no root needed): which address
each target is reached on, the private legs, and a hostile value sent through
the API refusing the whole load balancer instead of reaching haproxy.cfg."""
from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hcloud.images import Image
from hcloud.load_balancer_types import LoadBalancerType
from hcloud.load_balancers.domain import (LoadBalancerHealthCheck, LoadBalancerHealthCheckHttp,
                                          LoadBalancerService, LoadBalancerTarget,
                                          LoadBalancerTargetLabelSelector)
from hcloud.locations import Location
from hcloud.networks.domain import NetworkSubnet
from hcloud.server_types import ServerType

from sandbox.machines import lbsync
from tests.sandbox.conftest import start_emulator

RANGE = "198.18.82.0/24"


@pytest.fixture
def running(tmp_path):
    emulator = start_emulator(tmp_path / "state", ip_range=RANGE)
    try:
        yield emulator
    finally:
        emulator.server.close()


def _snapshot(running, tmp_path):
    return lbsync.snapshot(running.server.store, ipaddress.ip_network(RANGE), lambda lid: tmp_path / str(lid),
                           lambda ip_range: True)


def test_targets_private_public_and_by_selector(running, tmp_path):
    client = running.client()
    network = client.networks.create(name="n", ip_range="10.0.0.0/16", subnets=[
        NetworkSubnet(type="cloud", ip_range="10.0.1.0/24", network_zone="eu-central")])
    s1, s2 = (client.servers.create(name=f"app-{i}", server_type=ServerType(name="cpx12"),
                                    image=Image(name="ubuntu-24.04"), networks=[network],
                                    location=Location(name="fsn1"), labels={"role": "app"}).server
              for i in (1, 2))
    s1, s2 = client.servers.get_by_id(s1.id), client.servers.get_by_id(s2.id)
    lb = client.load_balancers.create(
        name="lb", load_balancer_type=LoadBalancerType(name="lb11"), location=Location(name="fsn1"),
        network=network, services=[LoadBalancerService(protocol="http", listen_port=80, destination_port=8080)],
        targets=[LoadBalancerTarget(type="server", server=s1, use_private_ip=True),
                 LoadBalancerTarget(type="server", server=s2, use_private_ip=False),
                 LoadBalancerTarget(type="label_selector", use_private_ip=True,
                                    label_selector=LoadBalancerTargetLabelSelector(selector="role=app"))]
    ).load_balancer
    lb = client.load_balancers.get_by_id(lb.id)
    specs, refused = _snapshot(running, tmp_path)
    assert refused == {} and set(specs) == {lb.id}
    spec = specs[lb.id]
    lb_private = lb.private_net[0].ip
    assert spec.ip == lb.public_net.ipv4.ip and ipaddress.ip_address(spec.ip) in ipaddress.ip_network(RANGE)
    assert spec.private == {network.id: ("10.0.0.0/16", (lb_private,))}
    # A server named twice (by id and by the selector) is one backend, on the address named first.
    assert f"server s{s1.id} {s1.private_net[0].ip}:8080 " in spec.config
    assert f"server s{s2.id} {s2.public_net.ipv4.ip}:8080 " in spec.config
    assert spec.config.count(f"server s{s2.id} ") == 1
    assert spec.public == {s2.id: s2.public_net.ipv4.ip}
    assert f"bind {spec.ip}:80" in spec.config and f"bind {lb_private}:80" in spec.config
    assert spec.config.count("stats socket " + str(Path(tmp_path) / str(lb.id) / "stats.sock")) == 1


def test_a_hostile_health_check_path_refuses_the_load_balancer(running, tmp_path):
    client = running.client()
    hostile = LoadBalancerHealthCheck(protocol="http", port=80, interval=15, timeout=10, retries=3,
                                      http=LoadBalancerHealthCheckHttp(path="/h\n    server evil 127.0.0.1:22"))
    lb = client.load_balancers.create(
        name="lb", load_balancer_type=LoadBalancerType(name="lb11"), location=Location(name="fsn1"),
        services=[LoadBalancerService(protocol="http", listen_port=80, destination_port=80,
                                      health_check=hostile)]).load_balancer
    specs, refused = _snapshot(running, tmp_path)
    assert specs == {} and "health_check.http.path" in refused[lb.id]
    # Fixed through the API: proxied again.
    client.load_balancers.update_service(lb, LoadBalancerService(
        listen_port=80, health_check=LoadBalancerHealthCheck(http=LoadBalancerHealthCheckHttp(path="/health"))))
    specs, refused = _snapshot(running, tmp_path)
    assert refused == {} and "uri /health ver" in specs[lb.id].config

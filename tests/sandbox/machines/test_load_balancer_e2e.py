"""The sandbox load balancer is real with machines: HAProxy in a namespace of
its own proxies the LB's public IPv4 to the app machines over the private
network, and the API (read with the official hcloud client) reports each
target's health from HAProxy's checks."""
from __future__ import annotations

import http.client
import json
import subprocess
import time

import pytest
from hcloud.images import Image
from hcloud.load_balancer_types import LoadBalancerType
from hcloud.load_balancers.domain import (LoadBalancerHealthCheck, LoadBalancerHealthCheckHttp,
                                          LoadBalancerService, LoadBalancerTarget)
from hcloud.locations import Location
from hcloud.networks.domain import NetworkSubnet
from hcloud.server_types import ServerType

from sandbox.machines.net import tag_for
from tests.sandbox.machines.machinekit import cloud_config, keypair, ssh, wait_port

pytestmark = pytest.mark.e2e

# http.server without HTTPServer.server_bind: that one does a reverse lookup,
# which can hang inside a namespace. It answers on the private address only.
WEB = """import http.server, socketserver
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"{name}"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args): pass
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
S(("{ip}", 80), H).serve_forever()
"""
START = "cat > /root/web.py && (nohup python3 /root/web.py >/dev/null 2>&1 & echo $! > /root/web.pid)"
STOP = "kill $(cat /root/web.pid)"


def _get(ip: str, port: int = 80) -> tuple[int, str]:
    conn = http.client.HTTPConnection(ip, port, timeout=5)
    try:
        conn.request("GET", "/health")
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def _wait(predicate, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout}s")


def _health(client, lb_id: int, port: int = 80) -> dict[int, str]:
    lb = client.load_balancers.get_by_id(lb_id)
    return {t.server.id: {h.listen_port: h.status for h in t.health_status}[port] for t in lb.targets}


def _answers(ip: str, count: int, port: int = 80) -> list[str]:
    out = []
    for _ in range(count):
        try:
            status, body = _get(ip, port)
        except OSError:
            status, body = 0, ""
        out.append(body if status == 200 else f"failed:{status}")
    return out


def test_the_load_balancer_proxies_to_healthy_machines_over_the_private_network(machines_sandbox, monkeypatch):
    # Hetzner's 15 s interval / 10 s timeout, scaled to 0.75 s / 0.5 s: a dead target is seen in ~2 s.
    monkeypatch.setenv("HCLOUD_SANDBOX_LB_CHECK_SCALE", "0.05")
    sb = machines_sandbox
    network = sb.client.networks.create(name="priv", ip_range="10.0.0.0/16", subnets=[
        NetworkSubnet(type="cloud", ip_range="10.0.1.0/24", network_zone="eu-central")])
    host_private, host_public = keypair(sb.dir, "hostkey")
    servers = [sb.client.servers.create(name=f"app-{i}", server_type=ServerType(name="cpx12"),
                                        image=Image(name="ubuntu-24.04"), ssh_keys=[sb.ssh_key()],
                                        networks=[network], location=Location(name="fsn1"),
                                        user_data=cloud_config(host_private)).server for i in (1, 2)]
    servers = [sb.client.servers.get_by_id(s.id) for s in servers]
    public = {s.name: s.public_net.ipv4.ip for s in servers}
    for s in servers:
        wait_port(public[s.name], 22)
        started = ssh(public[s.name], START, sb.client_key, host_public,
                      input=WEB.format(name=s.name, ip=s.private_net[0].ip))
        assert started.exit_status == 0, started.stderr
    check = LoadBalancerHealthCheck(protocol="http", port=80, interval=15, timeout=10, retries=3,
                                    http=LoadBalancerHealthCheckHttp(path="/health", status_codes=["2??"]))
    lb = sb.client.load_balancers.create(
        name="lb", load_balancer_type=LoadBalancerType(name="lb11"), location=Location(name="fsn1"),
        network=network,
        services=[LoadBalancerService(protocol="http", listen_port=80, destination_port=80, health_check=check)],
        targets=[LoadBalancerTarget(type="server", server=s, use_private_ip=True) for s in servers]
    ).load_balancer
    lb_ip = lb.public_net.ipv4.ip
    ids = {s.name: s.id for s in servers}

    # Both machines answer through the load balancer's public address, and both are healthy.
    _wait(lambda: _health(sb.client, lb.id) == {i: "healthy" for i in ids.values()}, "both targets healthy")
    seen = _answers(lb_ip, 10)
    assert set(seen) == {"app-1", "app-2"}, seen
    # The app answers on its private address only: the public one has nothing on port 80.
    with pytest.raises(OSError):
        _get(public["app-1"])

    # app-1's web server stops: its target turns unhealthy, and every request goes to app-2.
    assert ssh(public["app-1"], STOP, sb.client_key, host_public).exit_status == 0
    _wait(lambda: _health(sb.client, lb.id) == {ids["app-1"]: "unhealthy", ids["app-2"]: "healthy"},
          "app-1 unhealthy in the API")
    assert _answers(lb_ip, 20) == ["app-2"] * 20

    # Back again: healthy again, and both answer.
    started = ssh(public["app-1"], START, sb.client_key, host_public,
                  input=WEB.format(name="app-1", ip=servers[0].private_net[0].ip))
    assert started.exit_status == 0, started.stderr
    _wait(lambda: _health(sb.client, lb.id) == {i: "healthy" for i in ids.values()}, "app-1 healthy again")
    assert set(_answers(lb_ip, 10)) == {"app-1", "app-2"}

    # A target removed: HAProxy reloads in place (same master) and only app-1 answers.
    pidfile = sb.dir / "machines" / "lbs" / str(lb.id) / "pid"
    master = pidfile.read_text()
    sb.client.load_balancers.remove_target(lb, LoadBalancerTarget(type="server", server=servers[1],
                                                                  use_private_ip=True)).wait_until_finished()
    _wait(lambda: _answers(lb_ip, 10) == ["app-1"] * 10, "only app-1 behind the load balancer")
    assert pidfile.read_text() == master

    # A target on its public IP: app-2 back, without use_private_ip, behind a new tcp service
    # on 8080 where only its public address answers (app-1 has nothing there: unhealthy).
    web = WEB.replace("(\"{ip}\", 80)", "(\"{ip}\", 8080)").format(name="app-2-public", ip=public["app-2"])
    started = ssh(public["app-2"], START.replace("web.", "web8080."), sb.client_key, host_public, input=web)
    assert started.exit_status == 0, started.stderr
    tcp = LoadBalancerHealthCheck(protocol="tcp", port=8080, interval=15, timeout=10, retries=3)
    sb.client.load_balancers.add_service(lb, LoadBalancerService(
        protocol="tcp", listen_port=8080, destination_port=8080, health_check=tcp)).wait_until_finished()
    sb.client.load_balancers.add_target(lb, LoadBalancerTarget(type="server", server=servers[1],
                                                               use_private_ip=False)).wait_until_finished()
    _wait(lambda: _health(sb.client, lb.id, 8080) == {ids["app-1"]: "unhealthy", ids["app-2"]: "healthy"},
          "app-2 healthy on its public address")
    assert _answers(lb_ip, 10, 8080) == ["app-2-public"] * 10
    assert pidfile.read_text() == master

    # Deleting the load balancer takes its namespace and its /32 route away.
    routes = json.loads(subprocess.run(["ip", "-j", "-4", "route"], capture_output=True, text=True).stdout)
    assert [r["dev"] for r in routes if r.get("dst") == lb_ip] == [f"hdbr-{tag_for(sb.dir / 'machines')}"]
    netns = f"hdm-{tag_for(sb.dir / 'machines')}-{lb.id}"
    assert netns in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    sb.client.load_balancers.delete(lb)

    def gone():
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        routes = json.loads(subprocess.run(["ip", "-j", "-4", "route"], capture_output=True, text=True).stdout)
        return netns not in names and not [r for r in routes if r.get("dst") == lb_ip]
    _wait(gone, "the load balancer's namespace and route removed")
    with pytest.raises(OSError):
        _get(lb_ip)

"""A Hetzner private network between machines: reachable from machine to
machine (firewalls do not apply there, as on Hetzner), never from the host."""
from __future__ import annotations

import json
import subprocess
import time

import pytest
from hcloud.firewalls.domain import FirewallRule
from hcloud.images import Image
from hcloud.networks.domain import NetworkSubnet
from hcloud.server_types import ServerType

from sandbox.machines import sweep
from tests.sandbox.machines.machinekit import cloud_config, keypair, ssh, wait_port

pytestmark = pytest.mark.e2e

LISTEN = ("nohup python3 -c 'import socket; s=socket.socket(); s.bind((\"{ip}\", 5432)); s.listen(5)\n"
          "while True: c=s.accept()[0]; c.sendall(b\"db-here\"); c.close()' >/dev/null 2>&1 &")
CONNECT = "python3 -c 'import socket,time; time.sleep(0.3); print(socket.create_connection((\"{ip}\", 5432), 3).recv(16).decode())'"


def test_machines_talk_over_the_private_network_and_the_host_has_no_way_in(machines_sandbox):
    sb = machines_sandbox
    network = sb.client.networks.create(name="priv", ip_range="10.0.0.0/16", subnets=[
        NetworkSubnet(type="cloud", ip_range="10.0.1.0/24", network_zone="eu-central")])
    ssh_only = FirewallRule(direction="in", protocol="tcp", port="22", source_ips=["0.0.0.0/0"])
    firewall = sb.client.firewalls.create(name="fw", rules=[ssh_only]).firewall
    host_private, host_public = keypair(sb.dir, "hostkey")
    servers = [sb.client.servers.create(name=f"priv-{i}", server_type=ServerType(name="cpx12"),
                                        image=Image(name="ubuntu-24.04"), ssh_keys=[sb.ssh_key()],
                                        networks=[network], firewalls=[firewall],
                                        user_data=cloud_config(host_private)).server for i in (1, 2)]
    servers = [sb.client.servers.get_by_id(s.id) for s in servers]
    public = [s.public_net.ipv4.ip for s in servers]
    private = [s.private_net[0].ip for s in servers]
    assert all(ip.startswith("10.0.1.") for ip in private)
    for ip in public:
        wait_port(ip, 22)
    assert ssh(public[1], LISTEN.format(ip=private[1]), sb.client_key, host_public).exit_status == 0
    out = ssh(public[0], CONNECT.format(ip=private[1]), sb.client_key, host_public)
    assert out.stdout.strip() == "db-here", out.stderr
    # The host has neither an address nor a route in the private range: nothing leads there from outside.
    addrs = json.loads(subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True).stdout)
    assert not [a for link in addrs for a in link.get("addr_info", []) if a.get("local", "").startswith("10.0.1.")]
    routes = json.loads(subprocess.run(["ip", "-j", "-4", "route"], capture_output=True, text=True).stdout)
    assert not [r for r in routes if r.get("dst", "").startswith("10.0.")]
    # Leaving the network (a live detach) takes the interface away.
    sb.client.servers.detach_from_network(servers[0], network).wait_until_finished()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if ssh(public[0], f"ip -4 addr | grep -q {private[0]}", sb.client_key, host_public).exit_status != 0:
            break
        time.sleep(0.1)
    assert ssh(public[0], f"ip -4 addr | grep -q {private[0]}", sb.client_key, host_public).exit_status == 1
    links = sweep.leftovers(sb.dir / "machines")["links"]
    assert len([name for name in links if name.startswith("hdw")]) == 1   # only the second server's leg

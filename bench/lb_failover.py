"""The sandbox load balancer (HAProxy in its own namespace) on sandbox machines
(root; the packages of scripts/sandbox-machine-deps.sh): seconds from LB create
to both targets healthy in the API, ms per request through it, seconds from an
app's web server stopping to `unhealthy` in the API and from its start to
`healthy`. Two app machines on a private network, an http service 80 -> 80
with an http check on /health (Hetzner's 15 s / 10 s / 3 retries, scaled by
HCLOUD_SANDBOX_LB_CHECK_SCALE, default 0.1). Uses the range in
HD_TEST_MACHINE_RANGE (default 198.18.77.0/24).

    .venv/bin/python bench/lb_failover.py
    HCLOUD_SANDBOX_LB_CHECK_SCALE=1 .venv/bin/python bench/lb_failover.py   # Hetzner's own timing
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import hcloud  # noqa: E402
from hcloud.images import Image  # noqa: E402
from hcloud.load_balancer_types import LoadBalancerType  # noqa: E402
from hcloud.load_balancers.domain import (LoadBalancerHealthCheck, LoadBalancerHealthCheckHttp,  # noqa: E402
                                          LoadBalancerService, LoadBalancerTarget)
from hcloud.locations import Location  # noqa: E402
from hcloud.networks.domain import NetworkSubnet  # noqa: E402
from hcloud.server_types import ServerType  # noqa: E402

from sandbox.emulator import make_server  # noqa: E402
from sandbox.machines import sweep  # noqa: E402
from sandbox.machines.controller import Controller  # noqa: E402
from tests.sandbox.machines import test_load_balancer_e2e as lbtest  # noqa: E402
from tests.sandbox.machines.machinekit import TEST_RANGE, cloud_config, keypair, ssh, wait_port  # noqa: E402


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="hd-lb-bench-"))
    server = make_server(tmp / "state", token="bench", ip_range=TEST_RANGE)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    controller = Controller(server.store, tmp / "machines", TEST_RANGE, tmp / "images")
    client_private, client_public = keypair(tmp, "client")
    host_private, host_public = keypair(tmp, "host")
    try:
        controller.start()
        client = hcloud.Client(token="bench", api_endpoint=server.url, poll_interval=0.05)
        key = client.ssh_keys.create(name="k", public_key=client_public)
        net = client.networks.create(name="p", ip_range="10.0.0.0/16", subnets=[
            NetworkSubnet(type="cloud", ip_range="10.0.1.0/24", network_zone="eu-central")])
        apps = [client.servers.get_by_id(client.servers.create(
            name=f"app-{i}", server_type=ServerType(name="cpx12"), image=Image(name="ubuntu-24.04"),
            ssh_keys=[key], networks=[net], location=Location(name="fsn1"),
            user_data=cloud_config(host_private)).server.id) for i in (1, 2)]

        def web(app, start=True):
            ip = app.public_net.ipv4.ip
            if start:
                ssh(ip, lbtest.START, client_private, host_public,
                    input=lbtest.WEB.format(name=app.name, ip=app.private_net[0].ip))
            else:
                ssh(ip, lbtest.STOP, client_private, host_public)

        for app in apps:
            wait_port(app.public_net.ipv4.ip, 22)
            web(app)
        check = LoadBalancerHealthCheck(protocol="http", port=80, interval=15, timeout=10, retries=3,
                                        http=LoadBalancerHealthCheckHttp(path="/health", status_codes=["2??"]))
        ids = [a.id for a in apps]
        t0 = time.monotonic()
        lb = client.load_balancers.create(
            name="lb", load_balancer_type=LoadBalancerType(name="lb11"), location=Location(name="fsn1"),
            network=net, targets=[LoadBalancerTarget(type="server", server=a, use_private_ip=True) for a in apps],
            services=[LoadBalancerService(protocol="http", listen_port=80, destination_port=80,
                                          health_check=check)]).load_balancer
        lbtest._wait(lambda: lbtest._health(client, lb.id) == {i: "healthy" for i in ids}, "healthy", 120)
        scale = os.environ.get("HCLOUD_SANDBOX_LB_CHECK_SCALE", "0.1 (default)")
        print(f"check scale {scale}")
        print(f"create -> both targets healthy in the API: {time.monotonic() - t0:.2f} s")
        count = 200
        t0 = time.monotonic()
        lbtest._answers(lb.public_net.ipv4.ip, count)
        print(f"{count} sequential GETs through the load balancer: {(time.monotonic() - t0) / count * 1000:.1f} ms each")
        web(apps[0], start=False)
        t0 = time.monotonic()
        lbtest._wait(lambda: lbtest._health(client, lb.id)[ids[0]] == "unhealthy", "unhealthy", 180)
        print(f"web server stopped -> unhealthy in the API: {time.monotonic() - t0:.2f} s")
        web(apps[0])
        t0 = time.monotonic()
        lbtest._wait(lambda: lbtest._health(client, lb.id)[ids[0]] == "healthy", "healthy", 180)
        print(f"web server started -> healthy in the API: {time.monotonic() - t0:.2f} s")
    finally:
        controller.close()
        sweep.sweep(tmp / "machines")
        server.shutdown()
        server.server_close()
        left = {k: v for k, v in sweep.leftovers(tmp / "machines").items() if v}
        shutil.rmtree(tmp, ignore_errors=True)
        if left:
            print(f"left behind: {left}")


if __name__ == "__main__":
    main()

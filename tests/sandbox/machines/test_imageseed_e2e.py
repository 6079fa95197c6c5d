"""A machine booted while another runs gets the sandbox images as hard links of the
running machine's imports (sandbox/machines/imageseed.py), and Docker inside it is the
oracle: the same image ids, containers run from them, a build on top works, and nothing
else of the donor's (an image it tagged, its containers) comes along."""
from __future__ import annotations

import pytest
from hcloud.images import Image
from hcloud.server_types import ServerType

from sandbox.machines.images import build
from tests.sandbox.machines.machinekit import cloud_config, keypair, ssh, wait_boot_finished

pytestmark = pytest.mark.e2e


def _boot(sb, name, host_private, host_public):
    server = sb.client.servers.create(name=name, server_type=ServerType(name="cpx12"),
                                      image=Image(name="ubuntu-24.04"), ssh_keys=[sb.ssh_key()],
                                      user_data=cloud_config(host_private)).server
    ip = server.public_net.ipv4.ip
    wait_boot_finished(ip, sb.client_key, host_public)
    return server, ip


def test_a_second_machine_gets_the_images_linked_and_only_them(machines_sandbox):
    sb = machines_sandbox
    build(sb.dir / "images", ["python", "busybox"])
    host_private, host_public = keypair(sb.dir, "hostkey")
    run = lambda ip, cmd: ssh(ip, cmd, sb.client_key, host_public)   # noqa: E731
    first, ip1 = _boot(sb, "donor-1", host_private, host_public)
    log1 = run(ip1, "cat /var/log/cloud-init-output.log").stdout
    assert "image sandbox/python imported" in log1
    # Things of the donor's own that must not travel: a tag and a container.
    assert run(ip1, "docker tag sandbox/busybox donor-only:1 && "
                    "docker run -d --init --name keep sandbox/busybox sleep 600").exit_status == 0
    images = "docker images --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}' | sort"
    donor_images = run(ip1, images).stdout

    second, ip2 = _boot(sb, "seeded-2", host_private, host_public)
    log2 = run(ip2, "cat /var/log/cloud-init-output.log").stdout
    assert "imported" not in log2            # nothing imported: the images were there
    seeded = run(ip2, images).stdout.splitlines()
    assert seeded == [line for line in donor_images.splitlines()
                      if not line.startswith("donor-only:")]
    assert sorted(s.split(":")[0] for s in seeded) == ["sandbox/busybox", "sandbox/python"]
    assert run(ip2, "docker ps -aq").stdout.strip() == ""
    # The images work: a container runs, a build on top of one works.
    hello = run(ip2, "docker run --rm sandbox/python python3 -c 'print(6 * 7)'")
    assert hello.exit_status == 0 and hello.stdout.strip() == "42", hello.stderr
    built = run(ip2, "mkdir -p /tmp/b && printf 'FROM sandbox/busybox\\nRUN echo hi > /hi\\n' "
                     "> /tmp/b/Dockerfile && docker build -q -t mine /tmp/b && "
                     "docker run --rm mine cat /hi")
    assert built.exit_status == 0 and built.stdout.strip().endswith("hi"), built.stderr
    # The donor is untouched by what the second machine did, and still runs its container.
    assert run(ip1, "docker images -q mine").stdout.strip() == ""
    assert run(ip1, "docker ps -q --filter name=keep").stdout.strip() != ""
    # Deleting the donor leaves the second machine's images whole.
    sb.client.servers.delete(first).wait_until_finished(max_retries=200)
    again = run(ip2, "docker run --rm sandbox/python python3 -c 'print(1)'")
    assert again.exit_status == 0 and again.stdout.strip() == "1"

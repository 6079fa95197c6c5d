"""Sandbox machines booted through the emulator's API (the official hcloud
client), reached over real SSH with a pinned host key, running Docker."""
from __future__ import annotations

import errno
import socket
import time
from pathlib import Path

import asyncssh
import pytest
from hcloud.firewalls.domain import FirewallRule
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.server_types import ServerType

from sandbox.machines import sweep
from sandbox.machines.images import build
from tests.sandbox.machines.machinekit import (BOOT_ID, cloud_config, keypair, ssh, wait_boot_finished,
                                               wait_closed, wait_port, wait_restarted)

pytestmark = pytest.mark.e2e

APP = r'''
import socket
def redis_ping():
    s = socket.create_connection(("redis", 6379), timeout=2)
    s.sendall(b"PING\r\n"); answer = s.recv(64); s.close(); return answer.strip().decode()
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 8000)); srv.listen(8)
while True:
    c, _ = srv.accept(); c.recv(4096)
    body = ("app says redis " + redis_ping()).encode()
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body); c.close()
'''

COMPOSE = """version: "3.7"
services:
  redis:
    image: sandbox/redis
    command: ["redis-server", "--save", "", "--protected-mode", "no"]
    init: true
  app:
    image: sandbox/python
    command: ["python3", "/srv/app.py"]
    init: true
    volumes: ["/srv/app.py:/srv/app.py:ro"]
    ports: ["80:8000"]
    depends_on: [redis]
"""


def _create(sb, name: str, user_data: str, **kw):
    resp = sb.client.servers.create(name=name, server_type=ServerType(name="cpx12"), image=Image(name="ubuntu-24.04"),
                                    ssh_keys=[sb.ssh_key()], user_data=user_data, **kw)
    return resp.server


def _http_get(ip: str, port: int = 80, timeout: float = 3.0) -> bytes:
    with socket.create_connection((ip, port), timeout=timeout) as conn:
        conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := conn.recv(4096):
            data += chunk
        return data


def test_boot_honours_cloud_init_and_pins_the_host_key(machines_sandbox):
    sb = machines_sandbox
    host_private, host_public = keypair(sb.dir, "hostkey")
    extra = ("write_files:\n  - path: /etc/sandbox-test/hello\n    permissions: '0640'\n    content: hello machine\n"
             "runcmd:\n  - [sh, -c, 'echo runcmd-ran > /root/runcmd.out']\n"
             "packages: [curl]\npackage_upgrade: true\n")
    server = _create(sb, "boot-1", cloud_config(host_private, extra))
    ip = server.public_net.ipv4.ip
    assert ip.startswith("198.18.77.")
    print(f"sshd reachable {wait_port(ip, 22):.2f}s after create")
    wait_boot_finished(ip, sb.client_key, host_public)
    out = ssh(ip, "cat /etc/sandbox-test/hello; stat -c %a /etc/sandbox-test/hello; cat /root/runcmd.out; hostname",
              sb.client_key, host_public)
    # write_files content has no newline of its own, so `cat` joins it to the mode.
    assert out.stdout.splitlines() == ["hello machine640", "runcmd-ran", "boot-1"]
    log = ssh(ip, "cat /var/log/cloud-init-output.log", sb.client_key, host_public).stdout
    assert "NOT run in the sandbox: package_upgrade, packages" in log
    # The file exists on the server's disk only, not on the host.
    assert not Path("/etc/sandbox-test/hello").exists()
    # A different host key for the same address is refused.
    _, other_public = keypair(sb.dir, "otherkey")
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        ssh(ip, "true", sb.client_key, other_public)
    # A client key the server was not given is refused.
    stranger, _ = keypair(sb.dir, "stranger")
    with pytest.raises(asyncssh.PermissionDenied):
        ssh(ip, "true", stranger, host_public)


def test_compose_stack_from_local_images_answers_on_port_80(machines_sandbox):
    sb = machines_sandbox
    t0 = time.monotonic()
    sizes = build(sb.dir / "images", ["python", "redis"])
    print(f"images built in {time.monotonic() - t0:.2f}s: {sizes}")
    host_private, host_public = keypair(sb.dir, "hostkey")
    server = _create(sb, "compose-1", cloud_config(host_private))
    ip = server.public_net.ipv4.ip
    wait_boot_finished(ip, sb.client_key, host_public)
    assert ssh(ip, "mkdir -p /srv/stack && cat > /srv/app.py", sb.client_key, host_public, APP).exit_status == 0
    assert ssh(ip, "cat > /srv/stack/docker-compose.yml", sb.client_key, host_public, COMPOSE).exit_status == 0
    t1 = time.monotonic()
    up = ssh(ip, "cd /srv/stack && docker compose up -d", sb.client_key, host_public)
    print(f"compose up in {time.monotonic() - t1:.2f}s")
    assert up.exit_status == 0, up.stderr
    deadline = time.monotonic() + 20
    answer = b""
    while time.monotonic() < deadline and b"PONG" not in answer:
        try:
            answer = _http_get(ip)
        except OSError:
            time.sleep(0.1)
    assert answer.startswith(b"HTTP/1.0 200") and answer.endswith(b"app says redis +PONG"), answer
    down = ssh(ip, "cd /srv/stack && docker compose down", sb.client_key, host_public)
    assert down.exit_status == 0, down.stderr
    with pytest.raises(OSError):
        _http_get(ip, timeout=1)


def test_power_cycle_and_rescale_keep_the_volume(machines_sandbox):
    sb = machines_sandbox
    host_private, host_public = keypair(sb.dir, "hostkey")
    volume = sb.client.volumes.create(name="data", size=10, location=Location(name="nbg1"),
                                      format="ext4").volume
    extra = f"mounts:\n  - [/dev/disk/by-id/scsi-0HC_Volume_{volume.id}, /mnt/data, ext4, 'discard,nofail']\n"
    server = _create(sb, "vol-1", cloud_config(host_private, extra), volumes=[volume],
                     location=Location(name="nbg1"))
    ip = server.public_net.ipv4.ip
    wait_port(ip, 22)
    assert ssh(ip, "echo kept > /mnt/data/proof && echo disk > /root/disk-proof", sb.client_key,
               host_public).exit_status == 0
    sb.client.servers.power_off(server).wait_until_finished()
    # Off means off: the machine's address answers nothing (the `unreachable` route, no timeout).
    wait_closed(ip, 22)
    deadline, errors = time.monotonic() + 15, []
    while time.monotonic() < deadline and errno.EHOSTUNREACH not in errors:
        try:
            socket.create_connection((ip, 22), timeout=2).close()
        except OSError as exc:   # refused while the namespace is still being removed, then unreachable
            errors.append(exc.errno)
        time.sleep(0.05)
    assert errors[-1] == errno.EHOSTUNREACH, errors
    sb.client.servers.power_on(server).wait_until_finished()
    wait_port(ip, 22)
    out = ssh(ip, "cat /mnt/data/proof /root/disk-proof", sb.client_key, host_public)
    assert out.stdout.split() == ["kept", "disk"]
    sb.client.servers.power_off(server).wait_until_finished()
    sb.client.servers.change_type(server, ServerType(name="cpx22"), upgrade_disk=False).wait_until_finished()
    sb.client.servers.power_on(server).wait_until_finished()
    wait_port(ip, 22)
    out = ssh(ip, "cat /mnt/data/proof", sb.client_key, host_public)
    assert out.stdout.strip() == "kept"
    # A reboot restarts the machine (a new PID namespace: a fresh boot id) and keeps the data too.
    before = ssh(ip, BOOT_ID, sb.client_key, host_public).stdout.strip()
    sb.client.servers.reboot(server).wait_until_finished()
    wait_restarted(ip, sb.client_key, host_public, before)
    assert ssh(ip, "cat /mnt/data/proof", sb.client_key, host_public).stdout.strip() == "kept"


def test_firewall_closes_a_port_until_a_rule_opens_it(machines_sandbox):
    sb = machines_sandbox
    host_private, host_public = keypair(sb.dir, "hostkey")
    ssh_only = FirewallRule(direction="in", protocol="tcp", port="22", source_ips=["0.0.0.0/0", "::/0"])
    firewall = sb.client.firewalls.create(name="fw", rules=[ssh_only]).firewall
    server = _create(sb, "fw-1", cloud_config(host_private),
                     firewalls=[firewall])
    ip = server.public_net.ipv4.ip
    wait_port(ip, 22)
    listener = ("nohup python3 -c 'import socket; s=socket.socket(); s.bind((\"0.0.0.0\", 8080)); s.listen(5)\n"
                "while True: s.accept()[0].close()' >/dev/null 2>&1 &")
    assert ssh(ip, listener, sb.client_key, host_public).exit_status == 0
    # Inside the machine the port is open...
    assert ssh(ip, f"sleep 0.3; python3 -c 'import socket; socket.create_connection((\"{ip}\", 8080), 2)'",
               sb.client_key, host_public).exit_status == 0
    # ...from outside it is not.
    with pytest.raises(OSError):
        socket.create_connection((ip, 8080), timeout=1.5).close()
    open_8080 = FirewallRule(direction="in", protocol="tcp", port="8080", source_ips=["0.0.0.0/0"])
    sb.client.firewalls.set_rules(firewall, [ssh_only, open_8080])
    assert wait_port(ip, 8080, timeout=10) < 10
    # Removing the firewall from the server opens everything; applying it again closes 8080 again.
    sb.client.firewalls.set_rules(firewall, [ssh_only])
    deadline = time.monotonic() + 10
    closed = False
    while time.monotonic() < deadline and not closed:
        try:
            socket.create_connection((ip, 8080), timeout=0.5).close()
            time.sleep(0.1)
        except OSError:
            closed = True
    assert closed


def test_delete_removes_the_machine_and_its_disk(machines_sandbox):
    sb = machines_sandbox
    host_private, host_public = keypair(sb.dir, "hostkey")
    server = _create(sb, "gone-1", cloud_config(host_private))
    ip = server.public_net.ipv4.ip
    wait_port(ip, 22)
    disk = sb.dir / "machines" / "servers" / str(server.id)
    assert (disk / "upper").is_dir()
    sb.client.servers.delete(server).wait_until_finished()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and disk.exists():
        time.sleep(0.05)
    assert not disk.exists()
    left = sweep.leftovers(sb.dir / "machines")
    assert left["netns"] == [] and left["processes"] == [] and left["cgroups"] == []
    # Only the bridge and the range's `unreachable` route stay while the sandbox runs.
    assert left["routes"] == ["198.18.77.0/24"]
    with pytest.raises(OSError):
        socket.create_connection((ip, 22), timeout=2).close()


def test_a_volume_attached_to_a_running_server_appears_where_cloud_init_mounts_it(machines_sandbox):
    """Terraform attaches the volume after the server exists: the running
    machine gets it at the `mounts` point without a reboot, and loses it on detach."""
    sb = machines_sandbox
    host_private, host_public = keypair(sb.dir, "hostkey")
    volume = sb.client.volumes.create(name="late", size=10, location=Location(name="nbg1")).volume
    extra = f"mounts:\n  - [/dev/disk/by-id/scsi-0HC_Volume_{volume.id}, /mnt/data, ext4, 'discard,nofail']\n"
    server = _create(sb, "hot-1", cloud_config(host_private, extra), location=Location(name="nbg1"))
    ip = server.public_net.ipv4.ip
    wait_port(ip, 22)
    boot = ssh(ip, f"{BOOT_ID}; mountpoint -q /mnt/data; echo $?", sb.client_key,
               host_public).stdout.split()
    assert boot[1] != "0"   # not a mount point yet
    sb.client.volumes.attach(volume, server).wait_until_finished()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if ssh(ip, "mountpoint -q /mnt/data && echo hot > /mnt/data/f", sb.client_key, host_public).exit_status == 0:
            break
        time.sleep(0.1)
    assert (sb.dir / "machines" / "volumes" / str(volume.id) / "f").read_text() == "hot\n"
    same_boot = ssh(ip, BOOT_ID, sb.client_key, host_public).stdout.split()
    assert same_boot == boot[:1]
    sb.client.volumes.detach(volume).wait_until_finished()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if ssh(ip, "mountpoint -q /mnt/data", sb.client_key, host_public).exit_status != 0:
            break
        time.sleep(0.1)
    assert ssh(ip, "ls /mnt/data", sb.client_key, host_public).stdout == ""
    sb.client.volumes.delete(volume)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (sb.dir / "machines" / "volumes" / str(volume.id)).exists():
        time.sleep(0.1)
    assert not (sb.dir / "machines" / "volumes" / str(volume.id)).exists()


def test_rebuild_gives_a_fresh_disk_and_keeps_the_volume(machines_sandbox):
    sb = machines_sandbox
    host_private, host_public = keypair(sb.dir, "hostkey")
    volume = sb.client.volumes.create(name="keep", size=10, location=Location(name="nbg1")).volume
    extra = f"mounts:\n  - [/dev/disk/by-id/scsi-0HC_Volume_{volume.id}, /mnt/data, ext4, defaults]\n"
    server = _create(sb, "rebuild-1", cloud_config(host_private, extra), volumes=[volume],
                     location=Location(name="nbg1"))
    ip = server.public_net.ipv4.ip
    wait_boot_finished(ip, sb.client_key, host_public)
    assert ssh(ip, "echo old > /root/on-disk; echo vol > /mnt/data/on-volume", sb.client_key,
               host_public).exit_status == 0
    before = ssh(ip, BOOT_ID, sb.client_key, host_public).stdout.strip()
    sb.client.servers.rebuild(server, Image(name="ubuntu-24.04")).action.wait_until_finished()
    wait_restarted(ip, sb.client_key, host_public, before)
    wait_boot_finished(ip, sb.client_key, host_public)
    out = ssh(ip, "cat /mnt/data/on-volume; test -e /root/on-disk; echo $?", sb.client_key, host_public)
    assert out.stdout.split() == ["vol", "1"]


def test_the_projects_own_cloud_init_boots_with_its_volume(machines_sandbox):
    """cloud-init/user-data.yaml.j2 as Terraform would render it: the runcmd
    that waits for the volume's device goes on at once, and its directories
    land on the volume."""
    sb = machines_sandbox
    host_private, host_public = keypair(sb.dir, "hostkey")
    volume = sb.client.volumes.create(name="appdata", size=10, location=Location(name="nbg1")).volume
    from tests.sandbox.machines.test_cloudinit import project_user_data
    rendered = project_user_data("demo", f"/dev/disk/by-id/scsi-0HC_Volume_{volume.id}")
    key = "".join(f"    {line}\n" for line in host_private.strip().splitlines())
    user_data = rendered + f"ssh_keys:\n  ed25519_private: |\n{key}"
    server = _create(sb, "proj-1", user_data, volumes=[volume], location=Location(name="nbg1"))
    ip = server.public_net.ipv4.ip
    t0 = time.monotonic()
    wait_boot_finished(ip, sb.client_key, host_public, timeout=60)
    print(f"boot finished {time.monotonic() - t0:.2f}s after create")
    out = ssh(ip, "ls /mnt/data; test -d /opt/demo && echo opt-ok; cat /etc/ssh/sshd_config.d/50-hetzner-deploy.conf",
              sb.client_key, host_public).stdout.split("\n")
    assert out[:4] == ["backups", "postgres", "redis", "opt-ok"]
    assert "PermitRootLogin prohibit-password" in out
    assert sorted(p.name for p in (sb.dir / "machines" / "volumes" / str(volume.id)).iterdir()) == \
        ["backups", "postgres", "redis"]
    log = ssh(ip, "cat /var/log/cloud-init-output.log", sb.client_key, host_public).stdout
    assert "cloud-init modules NOT run in the sandbox: package_update, package_upgrade, packages" in log

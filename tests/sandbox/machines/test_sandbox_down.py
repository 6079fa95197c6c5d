"""`sandbox up --machines` / `sandbox down` through the CLI: down leaves no
namespace, route, mount, cgroup or process behind; an overlapping range is
refused before anything changes."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import hcloud
import pytest
from click.testing import CliRunner
from hcloud.images import Image
from hcloud.server_types import ServerType

from cli import cli
from sandbox.machines import sweep
from sandbox.machines.images import build
from sandbox.machines.net import tag_for
from tests.sandbox.machines.machinekit import REPO, cloud_config, keypair, ssh, wait_boot_finished

pytestmark = pytest.mark.e2e


def _host_state() -> dict:
    return {"netns": subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout,
            "routes": subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout,
            "mounts": Path("/proc/mounts").read_text(),
            "ip_forward": Path("/proc/sys/net/ipv4/ip_forward").read_text()}


def test_sandbox_down_leaves_nothing_behind(tmp_path, monkeypatch):
    # The default range, as a user gets it: a developer's own `sandbox up --machines` must not be running.
    monkeypatch.setenv("HETZNER_DEPLOY_SANDBOX_DIR", str(tmp_path / "sb"))
    build(tmp_path / "sb" / "images", ["busybox"])
    runner = CliRunner()
    before = _host_state()
    result = runner.invoke(cli, ["sandbox", "up", "--machines"])
    try:
        assert result.exit_code == 0, result.output
        env = dict(line.removeprefix("export ").split("=", 1)
                   for line in runner.invoke(cli, ["sandbox", "env"]).output.splitlines())
        client = hcloud.Client(token=env["HCLOUD_TOKEN"].strip("'"), api_endpoint=env["HCLOUD_ENDPOINT"].strip("'"),
                               poll_interval=0.05)
        private, public = keypair(tmp_path, "client")
        host_private, host_public = keypair(tmp_path, "host")
        key = client.ssh_keys.create(name="k", public_key=public)
        server = client.servers.create(name="down-1", server_type=ServerType(name="cpx12"),
                                       image=Image(name="ubuntu-24.04"), ssh_keys=[key],
                                       user_data=cloud_config(host_private)).server
        ip = server.public_net.ipv4.ip
        assert ip.startswith("198.51.100.")   # the machines' default range, not 203.0.113.0/24
        wait_boot_finished(ip, private, host_public)
        run = ssh(ip, "docker run -d --init sandbox/busybox sleep 600", private, host_public)
        assert run.exit_status == 0, run.stderr
        machines = tmp_path / "sb" / "machines"
        unshare_pid = int((machines / "servers" / str(server.id) / "pid").read_text())
        pid1 = int(Path(f"/proc/{unshare_pid}/task/{unshare_pid}/children").read_text().split()[0])
        during = sweep.leftovers(machines)
        group = f"hdm-{tag_for(machines)}-{server.id}"
        assert during["netns"] == [group] and during["processes"] == [str(unshare_pid)]
        assert f"/sys/fs/cgroup/memory/{group}" in during["cgroups"]
        assert "198.51.100.0/24" in during["routes"] and ip in during["routes"]
        # Docker turned forwarding on inside the machine's namespace only.
        assert ssh(ip, "cat /proc/sys/net/ipv4/ip_forward", private, host_public).stdout.strip() == "1"
        assert _host_state()["ip_forward"] == before["ip_forward"]
    finally:
        down = runner.invoke(cli, ["sandbox", "down"])
    assert down.exit_code == 0, down.output
    assert sweep.leftovers(tmp_path / "sb" / "machines") == {
        "netns": [], "links": [], "routes": [], "cgroups": [], "mounts": [], "processes": []}
    for pid in (unshare_pid, pid1):
        assert not Path(f"/proc/{pid}").exists()
    assert not list(Path("/sys/fs/cgroup").glob(f"*/{group}"))
    after = _host_state()
    assert after == before


def test_an_overlapping_range_is_refused_with_one_line(tmp_path):
    for taken in ("192.0.2.0/24", "192.0.2.128/25"):
        done = subprocess.run([sys.executable, "-m", "sandbox.emulator", "--state-dir", str(tmp_path / "s"),
                               "--token", "t", "--machines", str(tmp_path / "m"), "--machine-range", taken],
                              cwd=REPO, capture_output=True, text=True, timeout=30)
        assert done.returncode == 2
        assert done.stderr.count("\n") == 1 and done.stderr.startswith(
            f"error: refusing to start sandbox machines on {taken}: "), done.stderr
        assert "Traceback" not in done.stderr
    # Refused before anything was made: no bridge, no route.
    left = sweep.leftovers(tmp_path / "m")
    assert left["links"] == [] and left["netns"] == []
    assert f"hdbr-{tag_for(tmp_path / 'm')}" not in subprocess.run(["ip", "link"], capture_output=True,
                                                                    text=True).stdout

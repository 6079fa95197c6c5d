"""Conformance with the Debian `hcloud` CLI (Go client): it lists, describes
and manages SSH keys against the emulator through HCLOUD_ENDPOINT."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hcloud.firewalls import FirewallRule
from hcloud.images import Image
from hcloud.load_balancer_types import LoadBalancerType
from hcloud.load_balancers import LoadBalancerService, LoadBalancerTarget, LoadBalancerTargetLabelSelector
from hcloud.locations import Location
from hcloud.networks import NetworkSubnet
from hcloud.server_types import ServerType

from runner.process import run

PUBKEY_FILE = Path(__file__).resolve().parents[2] / "examples" / "example_ed25519.pub"
# Every test here starts the Go CLI as a separate program: end-to-end by the
# README's definition, outside the quick suite.
pytestmark = pytest.mark.e2e

LISTED = ["server", "volume", "firewall", "ssh-key", "network", "placement-group", "load-balancer",
          "floating-ip", "certificate", "primary-ip"]


@pytest.fixture
def hcloud_cli(emulator, tmp_path):
    binary = shutil.which("hcloud")
    if binary is None:
        pytest.fail("the hcloud CLI is not installed (Debian package hcloud-cli)")
    env = {"HCLOUD_ENDPOINT": emulator.url, "HCLOUD_TOKEN": emulator.token,
           "HCLOUD_CONFIG": str(tmp_path / "hcloud-cli.toml")}  # never the user's own contexts

    def cli(*args, check=True):
        return run([binary, *args], env=env, check=check, timeout=30)
    return cli


@pytest.fixture
def populated(hcloud_client):
    """One of everything, made through the API (not through the CLI)."""
    c = hcloud_client
    net = c.networks.create(name="net", ip_range="10.0.0.0/16", subnets=[
        NetworkSubnet(type="cloud", network_zone="eu-central", ip_range="10.0.1.0/24")])
    pg = c.placement_groups.create(name="pg", type="spread").placement_group
    fw = c.firewalls.create(name="fw", rules=[
        FirewallRule(direction="in", protocol="tcp", port="22", source_ips=["198.51.100.0/24"])]).firewall
    server = c.servers.create(name="web", server_type=ServerType(name="ccx33"), image=Image(name="ubuntu-22.04"),
                              location=Location(name="nbg1"), networks=[net], placement_group=pg, firewalls=[fw],
                              labels={"role": "web"}).server
    c.volumes.create(size=10, name="vol", server=server, automount=True, format="ext4")
    c.floating_ips.create(type="ipv4", home_location=Location(name="nbg1"), server=server, name="fip")
    c.load_balancers.create(name="lb", load_balancer_type=LoadBalancerType(name="lb11"), location=Location(name="nbg1"),
                            services=[LoadBalancerService(protocol="http", listen_port=80, destination_port=8080,
                                                          proxyprotocol=False)],
                            targets=[LoadBalancerTarget(type="server", server=server),
                                     LoadBalancerTarget(type="label_selector",
                                                        label_selector=LoadBalancerTargetLabelSelector("role=web"))])
    c.certificates.create_managed(name="cert", domain_names=["app.example.com"])
    c.ssh_keys.create(name="key", public_key=PUBKEY_FILE.read_text())
    return server


@pytest.mark.parametrize("resource", LISTED)
def test_list_empty_project(hcloud_cli, resource):
    assert hcloud_cli(resource, "list").stdout.startswith("ID")
    # hcloud-cli 1.30 (Debian's) prints `null` for an empty JSON list (a known quirk).
    assert json.loads(hcloud_cli(resource, "list", "-o", "json").stdout) is None


@pytest.mark.parametrize("resource", LISTED)
def test_list_with_resources(hcloud_cli, populated, resource):
    table = hcloud_cli(resource, "list").stdout
    assert len(table.strip().splitlines()) >= 2, table
    listed = json.loads(hcloud_cli(resource, "list", "-o", "json").stdout)
    assert isinstance(listed, list) and listed and all("id" in item for item in listed)


def test_server_describe_for_a_server_made_through_the_api(hcloud_cli, populated):
    text = hcloud_cli("server", "describe", "web").stdout
    assert f"ID:\t\t{populated.id}" in text and "ccx33" in text
    assert "10.0.1.1" in text and "role: web" in text
    described = json.loads(hcloud_cli("server", "describe", str(populated.id), "-o", "json").stdout)
    assert described["name"] == "web" and described["public_net"]["ipv4"]["ip"].startswith("203.0.113.")
    assert described["location"]["name"] == "nbg1" and "datacenter" not in described
    assert "Linux Device:\t/dev/disk/by-id/scsi-0HC_Volume_" in hcloud_cli("volume", "describe", "vol").stdout


def test_cli_1_30_shows_no_location_once_datacenter_is_gone(hcloud_cli, populated):
    """hcloud-cli 1.30 reads a server's place only from `datacenter`, which the
    API dropped on 2026-07-01: it still works, but prints an empty datacenter
    and no location (newer CLIs read `location`). A known client break."""
    text = hcloud_cli("server", "describe", "web").stdout
    assert "Datacenter:\n  ID:\t\t0\n  Name:\t\t\n" in text and "nbg1" not in text
    table = hcloud_cli("server", "list", "-o", "columns=name,location").stdout
    assert table.splitlines()[1].split() == ["web"]  # the location column is blank


def test_cli_datacenter_commands_get_the_410(hcloud_cli):
    done = hcloud_cli("datacenter", "list", check=False)
    assert done.returncode != 0 and "deprecated_api_endpoint" in done.stderr


def test_ssh_key_create_list_delete(hcloud_cli, hcloud_client):
    created = hcloud_cli("ssh-key", "create", "--name", "cli-key", "--public-key-from-file", str(PUBKEY_FILE))
    assert "created" in created.stdout
    key = hcloud_client.ssh_keys.get_by_name("cli-key")
    assert key is not None
    assert key.fingerprint in hcloud_cli("ssh-key", "list").stdout
    hcloud_cli("ssh-key", "delete", "cli-key")
    assert hcloud_client.ssh_keys.get_all() == []
    missing = hcloud_cli("ssh-key", "delete", "cli-key", check=False)
    assert missing.returncode != 0 and "not found" in missing.stderr


def test_wrong_token_is_reported(hcloud_cli, emulator, tmp_path):
    binary = shutil.which("hcloud")
    done = run([binary, "server", "list"], check=False, timeout=30,
               env={"HCLOUD_ENDPOINT": emulator.url, "HCLOUD_TOKEN": "x" * 64,
                    "HCLOUD_CONFIG": str(tmp_path / "other.toml")})
    assert done.returncode != 0 and "unauthorized" in done.stderr


@pytest.mark.parametrize("resource,name", [
    ("volume", "vol"), ("firewall", "fw"), ("ssh-key", "key"), ("network", "net"), ("placement-group", "pg"),
    ("load-balancer", "lb"), ("floating-ip", "fip"), ("certificate", "cert"), ("server-type", "ccx33"),
    ("image", "ubuntu-22.04"), ("location", "nbg1"), ("load-balancer-type", "lb11"),
])
def test_describe_every_family(hcloud_cli, populated, resource, name):
    text = hcloud_cli(resource, "describe", name).stdout
    assert "ID:" in text and name in text
    if resource == "placement-group":
        # hcloud-cli 1.30 answers "got invalid JSON response" to `-o json` here even
        # though the body ({"placement_group": ...}) validates against the OpenAPI file.
        return
    assert json.loads(hcloud_cli(resource, "describe", name, "-o", "json").stdout)["id"]


def test_load_balancer_describe_shows_services_and_label_targets(hcloud_cli, populated):
    text = hcloud_cli("load-balancer", "describe", "lb").stdout
    assert "Listen Port:\t\t80" in text and "Label Selector:\t\trole=web" in text and "Targets: (1)" in text


def test_server_lifecycle_through_the_cli_waits_on_actions(hcloud_cli, hcloud_client):
    hcloud_client.ssh_keys.create(name="key", public_key=PUBKEY_FILE.read_text())
    created = hcloud_cli("server", "create", "--name", "cli-made", "--type", "cpx12", "--image", "debian-12",
                         "--location", "fsn1", "--ssh-key", "key")
    assert "Server" in created.stdout and "203.0.113." in created.stdout
    hcloud_cli("server", "poweroff", "cli-made")
    hcloud_cli("server", "change-type", "cli-made", "cpx22", "--keep-disk")
    server = hcloud_client.servers.get_by_name("cli-made")
    assert server.status == "off" and server.server_type.name == "cpx22" and server.primary_disk_size == 40
    # The API wants a server's delete and rebuild protection equal.
    lone = hcloud_cli("server", "enable-protection", "cli-made", "delete", check=False)
    assert lone.returncode != 0 and "invalid_input" in lone.stderr
    hcloud_cli("server", "enable-protection", "cli-made", "delete", "rebuild")
    refused = hcloud_cli("server", "delete", "cli-made", check=False)
    assert refused.returncode != 0 and "protected" in refused.stderr
    hcloud_cli("server", "disable-protection", "cli-made", "delete", "rebuild")
    hcloud_cli("server", "delete", "cli-made")
    assert hcloud_client.servers.get_all() == []

"""Terraform 1.11 really runs offline: stand-in provider + emulator, end to end.

Every test works on a copy of a stack in tmp_path, never in the committed
directory, so no `.terraform.lock.hcl` with the stand-in's checksum can land
next to the real stack.
"""
from __future__ import annotations

import json
import re

import pytest

from tests.sandbox.tfharness import FIXTURES, STACK, Terraform, copy_stack, strip_prevent_destroy

pytestmark = pytest.mark.e2e


def _set_tfvar(stack, name: str, value: str, raw: bool = False) -> None:
    tfvars = stack / "terraform.tfvars"
    lines = tfvars.read_text().splitlines()
    hits = [i for i, line in enumerate(lines) if line.split("=")[0].strip() == name]
    assert hits, f"{name} not in terraform.tfvars"
    lines[hits[0]] = f"{name} = {value}" if raw else f'{name} = "{value}"'
    tfvars.write_text("\n".join(lines) + "\n")


def _lock_hashes(lock_file) -> set[str]:
    if not lock_file.exists():
        return set()
    return set(re.findall(r'"(h1:[^"]+|zh:[^"]+)"', lock_file.read_text()))


@pytest.fixture
def stack_tf(tmp_path, emulator):
    stack = copy_stack(tmp_path / "stack")
    tf = Terraform(stack, tmp_path, emulator)
    tf.init()
    return tf


def test_single_server_stack_round_trip(tmp_path, emulator):
    stack = copy_stack(tmp_path / "stack")
    strip_prevent_destroy(stack)
    tf = Terraform(stack, tmp_path, emulator)
    tf.init()
    tf.run("validate")
    actions = tf.planned_actions()
    assert set(actions) == {
        "hcloud_ssh_key.main", "hcloud_firewall.main", "hcloud_placement_group.main",
        "hcloud_volume.data", "hcloud_server.main", "hcloud_volume_attachment.data"}
    assert all(a == ["create"] for a in actions.values())
    tf.run("apply", "-input=false", "check.tfplan")

    out = tf.outputs()
    (host,) = out["hosts"]
    assert host["name"] == "autoscale-ai-production" and host["role"] == "all-in-one"
    assert host["ipv4"].count(".") == 3
    assert ":" in host["ipv6"]
    assert host["volume_device"].endswith(str(out["volume_id"]))

    second = tf.plan_exitcode()
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-2000:]

    # The official client sees what Terraform built.
    client = emulator.client()
    server = client.servers.get_by_id(int(host["id"]))
    assert server.server_type.name == "ccx33"
    assert server.status == "running"
    assert server.backup_window is not None  # backups = true in the tfvars
    assert server.placement_group.id == int(host["placement_group_id"])
    volume = client.volumes.get_by_id(int(out["volume_id"]))
    assert volume.server is not None and volume.server.id == server.id
    assert volume.protection["delete"] is True
    assert [f.firewall.id for f in server.public_net.firewalls] == [int(host["firewall_id"])]
    firewall = client.firewalls.get_by_id(int(host["firewall_id"]))
    assert {r.port for r in firewall.rules} == {"22", "80", "443"}
    assert server.id in {r.server.id for r in firewall.applied_to if r.type == "server"}

    # And so does the Debian hcloud CLI.
    listed = tf.hcloud_cli("server", "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert [s["name"] for s in json.loads(listed.stdout)] == ["autoscale-ai-production"]
    described = tf.hcloud_cli("server", "describe", "autoscale-ai-production")
    assert described.returncode == 0, described.stderr
    assert "ccx33" in described.stdout and host["ipv4"] in described.stdout

    # Destroy does not lift the volume's delete protection (nor does the real
    # provider): the server goes first, then Hetzner refuses the volume.
    refused = tf.run("destroy", "-auto-approve", "-input=false", check=False)
    assert refused.returncode == 1
    assert "Error: hcloud_volume: API error protected" in refused.stderr
    assert client.servers.get_all() == []
    assert client.volumes.get_all()[0].protection["delete"] is True
    # Lifting it is an apply first, as `hetzner-deploy destroy --destroy-volume` does.
    main = stack / "main.tf"
    main.write_text(main.read_text().replace("delete_protection = true",
                                             "delete_protection = false"))
    tf.apply()
    tf.run("destroy", "-auto-approve", "-input=false")
    assert client.servers.get_all() == []
    assert client.volumes.get_all() == []
    assert client.firewalls.get_all() == []
    assert client.ssh_keys.get_all() == []
    # The stand-in's checksum stays in the working copy, never the committed stack.
    assert not (STACK / ".terraform").exists()
    stand_in_hashes = _lock_hashes(stack / ".terraform.lock.hcl")
    assert stand_in_hashes
    assert not stand_in_hashes & _lock_hashes(STACK / ".terraform.lock.hcl")


def _host(stack_tf) -> dict:
    """The committed stack's one host, from its `hosts` output (ids as numbers)."""
    (host,) = stack_tf.outputs()["hosts"]
    return {**host, "id": int(host["id"]), "firewall_id": int(host["firewall_id"])}


def test_prevent_destroy_guards_the_data_volume(stack_tf):
    stack_tf.apply()
    refused = stack_tf.run("destroy", "-auto-approve", "-input=false", check=False)
    assert refused.returncode != 0
    assert "prevent_destroy" in refused.stderr


def test_server_type_change_rescales_in_place(stack_tf, emulator):
    stack_tf.apply()
    server_id = _host(stack_tf)["id"]
    # What `generate --profile ccx43` changes: the type, and the server's profile label.
    _set_tfvar(stack_tf.workdir, "server_type", "ccx43")
    _set_tfvar(stack_tf.workdir, "profile", "ccx43")

    actions = stack_tf.planned_actions()
    assert actions["hcloud_server.main"] == ["update"]
    assert all(a == ["no-op"] for address, a in actions.items() if address != "hcloud_server.main")

    stack_tf.run("apply", "-input=false", "check.tfplan")
    client = emulator.client()
    server = client.servers.get_by_id(server_id)
    assert server.server_type.name == "ccx43"
    assert server.status == "running"
    # Real API command names: power off, change type, power on again.
    commands = [a.command for a in sorted(client.servers.get_actions(server), key=lambda a: a.id)]
    at = commands.index("change_server_type")
    assert commands[at - 1: at + 2] == ["stop_server", "change_server_type", "start_server"]
    assert server.primary_disk_size == 240  # keep_disk = true: the ccx33 disk, kept
    assert server.labels["profile"] == "ccx43"
    assert "profile" not in client.volumes.get_all()[0].labels
    assert stack_tf.plan_exitcode().returncode == 0


def test_allow_list_and_backups_change_in_place(stack_tf, emulator):
    stack_tf.apply()
    firewall_id = _host(stack_tf)["firewall_id"]
    server_id = _host(stack_tf)["id"]
    _set_tfvar(stack_tf.workdir, "ssh_allow_cidrs", '["198.51.100.7/32"]', raw=True)
    _set_tfvar(stack_tf.workdir, "backups", "false", raw=True)
    actions = stack_tf.planned_actions()
    assert actions["hcloud_firewall.main"] == ["update"]
    assert actions["hcloud_server.main"] == ["update"]  # backups off, in place
    stack_tf.run("apply", "-input=false", "check.tfplan")
    client = emulator.client()
    rules = client.firewalls.get_by_id(firewall_id).rules
    assert [r.source_ips for r in rules if r.port == "22"] == [["198.51.100.7/32"]]
    assert client.servers.get_by_id(server_id).backup_window is None
    assert stack_tf.plan_exitcode().returncode == 0


def test_committed_stack_rescales_both_ways_in_place(stack_tf, emulator):
    """The stack renders keep_disk = true: ccx33 -> ccx43 -> ccx33 on one server."""
    stack_tf.apply()
    server_id = _host(stack_tf)["id"]
    client = emulator.client()
    disk = client.servers.get_by_id(server_id).primary_disk_size
    for server_type in ("ccx43", "ccx33"):
        _set_tfvar(stack_tf.workdir, "server_type", server_type)
        assert stack_tf.planned_actions()["hcloud_server.main"] == ["update"]
        stack_tf.run("apply", "-input=false", "check.tfplan")
        server = client.servers.get_by_id(server_id)
        assert server.server_type.name == server_type
        assert server.primary_disk_size == disk  # the ccx33 disk, kept


def test_keep_disk_allows_a_later_downgrade_in_place(tmp_path, emulator):
    stack = copy_stack(tmp_path / "stack", FIXTURES / "server")
    tf = Terraform(stack, tmp_path, emulator)
    tf.init()
    tf.apply("-var", "keep_disk=true")
    server_id = int(tf.outputs()["server_id"])
    client = emulator.client()
    for server_type in ("cpx22", "cpx12"):
        args = ("-var", "keep_disk=true", "-var", f"server_type={server_type}")
        assert tf.planned_actions(*args)["hcloud_server.web"] == ["update"]
        tf.run("apply", "-input=false", "check.tfplan")
        server = client.servers.get_by_id(server_id)
        assert server.server_type.name == server_type
        assert server.primary_disk_size == 40  # the cpx12 disk, kept
        assert tf.plan_exitcode(*args).returncode == 0


def test_user_data_and_image_changes_replace_the_server(tmp_path, emulator):
    stack = copy_stack(tmp_path / "stack", FIXTURES / "server")
    tf = Terraform(stack, tmp_path, emulator)
    tf.init()
    tf.apply()
    first_id = tf.outputs()["server_id"]
    for var, value in (("user_data", "#cloud-config\nruncmd: [echo two]\n"),
                       ("image", "debian-12"), ("location", "nbg1"),
                       ("ssh_keys", '["ops-key"]')):
        actions = tf.planned_actions("-var", f"{var}={value}")
        # No create_before_destroy in the fixture: Terraform deletes first.
        assert actions["hcloud_server.web"] == ["delete", "create"], var
    tf.apply("-var", "image=debian-12")
    assert tf.outputs()["server_id"] != first_id
    assert tf.plan_exitcode("-var", "image=debian-12").returncode == 0


def test_three_tier_shape_plans_applies_and_destroys(tmp_path, emulator):
    stack = copy_stack(tmp_path / "stack", FIXTURES / "three_tier")
    tf = Terraform(stack, tmp_path, emulator)
    tf.init()
    tf.run("validate")
    actions = tf.planned_actions()
    assert len(actions) == 12 and all(a == ["create"] for a in actions.values())
    tf.run("apply", "-input=false", "check.tfplan")
    assert tf.plan_exitcode().returncode == 0

    out = tf.outputs()
    assert out["app_private_ips"] == ["10.0.1.10", "10.0.1.11"]
    client = emulator.client()
    lb = client.load_balancers.get_all()[0]
    assert lb.public_net.ipv4.ip == out["lb_ipv4"]
    assert lb.algorithm.type == "least_connections"
    services = {s.listen_port: s for s in lb.services}
    assert set(services) == {443, 8081}
    plain, tls = services[8081], services[443]
    assert plain.destination_port == 8080
    assert plain.health_check.http.path == "/healthz"
    assert plain.health_check.http.status_codes == ["200"]
    assert plain.http.sticky_sessions is True and plain.http.cookie_name == "E2E"
    (cert,) = client.certificates.get_all()
    assert tls.protocol == "https" and tls.http.redirect_http is True
    assert [c.id for c in tls.http.certificates] == [cert.id]
    targets = {t.server.id for t in lb.targets}
    assert targets == {s.id for s in client.servers.get_all()}
    assert all(t.use_private_ip for t in lb.targets)
    assert [p.ip for p in lb.private_net] == ["10.0.1.5"]

    # A change inside a list block is an in-place update of the service.
    main = stack / "main.tf"
    main.write_text(main.read_text().replace('path         = "/healthz"',
                                             'path         = "/ready"'))
    assert tf.planned_actions()["hcloud_load_balancer_service.http"] == ["update"]
    tf.run("apply", "-input=false", "check.tfplan")
    lb = client.load_balancers.get_by_id(lb.id)
    ready = {s.listen_port: s for s in lb.services}[8081]
    assert ready.health_check.http.path == "/ready"
    assert tf.plan_exitcode().returncode == 0

    tf.run("destroy", "-auto-approve", "-input=false")
    assert client.load_balancers.get_all() == []
    assert client.servers.get_all() == []
    assert client.networks.get_all() == []


def test_every_other_resource_type_applies_and_destroys(tmp_path, emulator):
    stack = copy_stack(tmp_path / "stack", FIXTURES / "extras")
    tf = Terraform(stack, tmp_path, emulator)
    tf.init()
    tf.apply()
    assert tf.plan_exitcode().returncode == 0

    out = tf.outputs()
    client = emulator.client()
    server = client.servers.get_by_id(int(out["server_id"]))
    assert server.public_net.ipv4.ip == out["primary_ip"] == out["server_ipv4"]
    assert server.public_net.ipv6 is None
    assert server.public_net.ipv4.dns_ptr == "box.example.com"
    (private,) = server.private_net
    assert (private.ip, private.alias_ips) == ("10.1.1.20", ["10.1.1.21"])
    network = client.networks.get_by_id(private.network.id)
    assert [(r.destination, r.gateway) for r in network.routes] == [("10.100.1.0/24", "10.1.1.2")]
    assert network.protection["delete"] is True
    assert [f.firewall.name for f in server.public_net.firewalls] == ["extras-ssh"]
    (vip,) = client.floating_ips.get_all()
    assert vip.server.id == server.id and vip.ip == out["floating_ip"]
    assert vip.dns_ptr[0]["dns_ptr"] == "vip.example.com"
    (cert,) = client.certificates.get_all()
    assert sorted(cert.domain_names) == ["example.com", "www.example.com"]
    assert out["certificate_type"] == "managed"

    # Drift is seen: an alias IP changed behind Terraform's back is put back.
    client.servers.change_alias_ips(server, network, []).wait_until_finished()
    assert tf.planned_actions()["hcloud_server_network.box"] == ["update"]
    tf.run("apply", "-input=false", "check.tfplan")
    assert client.servers.get_by_id(server.id).private_net[0].alias_ips == ["10.1.1.21"]

    main = stack / "main.tf"
    main.write_text(main.read_text().replace("delete_protection = true",
                                             "delete_protection = false"))
    tf.apply()  # the network's protection first: destroy does not lift it
    tf.run("destroy", "-auto-approve", "-input=false")
    for family in ("servers", "networks", "primary_ips", "floating_ips", "firewalls",
                   "certificates"):
        assert getattr(client, family).get_all() == [], family


def test_whole_stack_imports_into_fresh_state(tmp_path, emulator):
    built = copy_stack(tmp_path / "built")
    tf = Terraform(built, tmp_path, emulator)
    tf.init()
    tf.apply()
    out = tf.outputs()
    (host,) = out["hosts"]

    fresh = copy_stack(tmp_path / "fresh")
    again = Terraform(fresh, tmp_path, emulator)
    again.init()
    for address, ident in (("hcloud_ssh_key.main", out["ssh_key_id"]),
                           ("hcloud_firewall.main", host["firewall_id"]),
                           ("hcloud_placement_group.main", host["placement_group_id"]),
                           ("hcloud_volume.data", out["volume_id"]),
                           ("hcloud_server.main", host["id"]),
                           ("hcloud_volume_attachment.data", out["volume_id"])):
        again.run("import", "-input=false", address, str(ident))
    actions = again.planned_actions()
    # The API does not report automount, so the attachment's is learnt on the
    # next apply (the real provider cannot know it either). The server, like
    # the real provider's after import, has no public_net block and none of
    # the arguments the read does not set (keep_disk and two others): the
    # plan adds them in place, nothing is replaced. All else matches.
    assert actions.pop("hcloud_volume_attachment.data") == ["update"]
    assert actions.pop("hcloud_server.main") == ["update"]
    assert actions.pop("hcloud_volume.data") == ["update"]  # format is not read back
    assert all(a == ["no-op"] for a in actions.values()), actions
    changes = {rc["address"]: rc["change"]
               for rc in again.show_plan("check.tfplan")["resource_changes"]}

    def changed(address):
        before, after = changes[address]["before"], changes[address]["after"]
        return sorted(k for k in after if before.get(k) != after[k])
    assert changed("hcloud_server.main") == ["ignore_remote_firewall_ids", "keep_disk",
                                             "public_net", "shutdown_before_deletion"]
    assert changes["hcloud_server.main"]["before"]["public_net"] == []
    assert changed("hcloud_volume.data") == ["format"]
    again.run("apply", "-input=false", "check.tfplan")
    assert again.plan_exitcode().returncode == 0


def test_import_by_id(tmp_path, emulator):
    client = emulator.client()
    key = client.ssh_keys.create(
        name="imported", public_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIImportMe000000000000000")
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "main.tf").write_text(
        'terraform {\n  required_providers {\n    hcloud = {\n'
        '      source  = "hetznercloud/hcloud"\n      version = "~> 1.68"\n    }\n  }\n}\n\n'
        'resource "hcloud_ssh_key" "old" {\n  name       = "imported"\n'
        f'  public_key = "{key.public_key}"\n}}\n')
    tf = Terraform(stack, tmp_path, emulator)
    tf.init()
    tf.run("import", "-input=false", "hcloud_ssh_key.old", str(key.id))
    assert tf.plan_exitcode().returncode == 0
    state = json.loads(tf.run("show", "-json").stdout)
    (resource,) = state["values"]["root_module"]["resources"]
    assert resource["values"]["fingerprint"] == key.fingerprint


def test_api_failure_is_a_terraform_error_and_a_retry_recovers(stack_tf, emulator):
    emulator.admin("POST", "/_sandbox/faults",
                   {"count": 1, "status": 503, "path_prefix": "/servers"})
    failed = stack_tf.run("apply", "-input=false", "-auto-approve", check=False)
    assert failed.returncode == 1
    errors = [line for line in failed.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, failed.stderr
    assert errors[0].startswith("Error: hcloud_server: API error unavailable: "), errors
    assert emulator.client().servers.get_all() == []
    # Everything else was created; the next apply adds the server and is then clean.
    assert stack_tf.planned_actions()["hcloud_server.main"] == ["create"]
    stack_tf.run("apply", "-input=false", "check.tfplan")
    assert stack_tf.plan_exitcode().returncode == 0


def test_state_from_another_provider_build_is_upgraded(stack_tf):
    stack_tf.apply()
    state_file = stack_tf.workdir / "terraform.tfstate"
    state = json.loads(state_file.read_text())
    (server,) = [r for r in state["resources"] if r["type"] == "hcloud_server"]
    attributes = server["instances"][0]["attributes"]
    del attributes["backup_window"]             # older build: attribute not there yet
    attributes["retired_argument"] = "x"         # newer build: attribute gone here
    state["serial"] += 1
    state_file.write_text(json.dumps(state))
    plan = stack_tf.plan_exitcode()
    assert plan.returncode == 0, plan.stdout[-2000:] + plan.stderr[-2000:]

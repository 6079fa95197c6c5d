"""The 3-tier stack against the emulator and the stand-in provider, with real
Terraform: apply, an empty second plan, scaling the app servers 2 -> 4 -> 2 in
place, and import. The `hcloud` CLI is the second client that reads back what
Terraform built."""
from __future__ import annotations

import json

import pytest

from tests.sandbox.tfharness import REPO, Terraform, copy_stack, strip_prevent_destroy

pytestmark = pytest.mark.e2e

EXAMPLE = REPO / "terraform" / "stacks" / "example-3-tier"
BASE = "autoscale-ai-example-3-tier"


def _set_app_servers(stack, count: int) -> None:
    tfvars = stack / "terraform.tfvars"
    names = ", ".join(f'"app-{i + 1}"' for i in range(count))
    lines = [f"app_servers = [{names}]" if line.split("=")[0].strip() == "app_servers" else line
             for line in tfvars.read_text().splitlines()]
    tfvars.write_text("\n".join(lines) + "\n")


def _cli_json(tf, *args):
    proc = tf.hcloud_cli(*args, "-o", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout) or []


@pytest.fixture
def applied(tmp_path, emulator):
    stack = copy_stack(tmp_path / "stack", EXAMPLE)
    strip_prevent_destroy(stack)
    tf = Terraform(stack, tmp_path, emulator)
    tf.init()
    tf.apply()
    return tf


def test_apply_then_an_empty_second_plan(applied):
    tf = applied
    assert tf.plan_exitcode().returncode == 0, tf.plan_exitcode().stdout[-3000:]
    out = tf.outputs()
    roles = sorted((h["role"], h["name"]) for h in out["hosts"])
    assert roles == [("app", f"{BASE}-app-1"), ("app", f"{BASE}-app-2"), ("db", f"{BASE}-db")]
    by_name = {h["name"]: h for h in out["hosts"]}
    assert by_name[f"{BASE}-db"]["private_ip"] == "10.0.1.3"
    assert by_name[f"{BASE}-db"]["volume_device"].endswith(str(out["volume_id"]))
    assert out["load_balancer_ipv4"].count(".") == 3 and ":" in out["load_balancer_ipv6"]

    # The second client: what the API holds is what Terraform says it built.
    (lb,) = _cli_json(tf, "load-balancer", "list")
    assert lb["name"] == f"{BASE}-lb" and lb["load_balancer_type"]["name"] == "lb11"
    assert lb["public_net"]["ipv4"]["ip"] == out["load_balancer_ipv4"]
    assert sorted(s["listen_port"] for s in lb["services"]) == [80, 443]
    for service in lb["services"]:
        assert service["protocol"] == "tcp"
        assert service["health_check"]["http"]["path"] == "/health"
    # `hcloud load-balancer list -o json` (CLI 1.30) prints private_net as null; describe has it.
    described = _cli_json(tf, "load-balancer", "describe", str(lb["id"]))
    assert [p["ip"] for p in described["private_net"]] == ["10.0.1.2"], described["private_net"]
    assert {t["server"]["id"] for t in lb["targets"]} == {int(h["id"]) for h in out["hosts"]
                                                          if h["role"] == "app"}
    assert all(t["use_private_ip"] for t in lb["targets"])
    servers = {s["name"]: s for s in _cli_json(tf, "server", "list")}
    assert sorted(servers) == sorted(by_name)
    for name, host in by_name.items():
        assert [n["ip"] for n in servers[name]["private_net"]] == [host["private_ip"]]
    (net,) = _cli_json(tf, "network", "list")
    assert [s["network_zone"] for s in net["subnets"]] == ["eu-central"]


def test_scaling_app_servers_up_and_down_in_place(applied):
    tf = applied
    ids = {h["name"]: h["id"] for h in tf.outputs()["hosts"]}
    _set_app_servers(tf.workdir, 4)
    actions = tf.planned_actions()
    changed = {a: act for a, act in actions.items() if act != ["no-op"]}
    assert changed == {
        'hcloud_server.app["app-3"]': ["create"], 'hcloud_server.app["app-4"]': ["create"],
        'hcloud_load_balancer_target.app["app-3"]': ["create"],
        'hcloud_load_balancer_target.app["app-4"]': ["create"]}
    tf.run("apply", "-input=false", "check.tfplan")
    after = {h["name"]: h["id"] for h in tf.outputs()["hosts"]}
    assert {n: after[n] for n in ids} == ids                # nobody renamed or replaced
    assert len(_cli_json(tf, "load-balancer", "list")[0]["targets"]) == 4
    assert tf.plan_exitcode().returncode == 0

    _set_app_servers(tf.workdir, 2)
    changed = {a: act for a, act in tf.planned_actions().items() if act != ["no-op"]}
    assert changed == {
        'hcloud_server.app["app-3"]': ["delete"], 'hcloud_server.app["app-4"]': ["delete"],
        'hcloud_load_balancer_target.app["app-3"]': ["delete"],
        'hcloud_load_balancer_target.app["app-4"]': ["delete"]}
    tf.run("apply", "-input=false", "check.tfplan")
    assert {h["name"]: h["id"] for h in tf.outputs()["hosts"]} == ids
    assert tf.plan_exitcode().returncode == 0


# Like the real provider, a server's read does not set public_net, keep_disk and
# two other config-only arguments (see test_terraform_e2e's whole-stack import):
# the plan after importing a server adds them in place; nothing else differs.
SERVER_CONFIG_ONLY = ["ignore_remote_firewall_ids", "keep_disk", "public_net",
                      "shutdown_before_deletion"]


@pytest.mark.parametrize("address, config_only", [
    ('hcloud_server.app["app-1"]', SERVER_CONFIG_ONLY),
    ("hcloud_server.db", SERVER_CONFIG_ONLY),
    ("hcloud_load_balancer.main", []),
    ('hcloud_load_balancer_service.web["443"]', []),
    ('hcloud_load_balancer_target.app["app-2"]', []),
    ("hcloud_load_balancer_network.main", []),
    ("hcloud_network.main", []),
    ("hcloud_network_subnet.main", []),
])
def test_import_converges(applied, address, config_only):
    tf = applied
    state = json.loads(tf.run("show", "-json").stdout)
    resources = {r["address"]: r for r in state["values"]["root_module"]["resources"]}
    rid = str(resources[address]["values"]["id"])
    tf.run("state", "rm", address)
    assert tf.plan_exitcode().returncode == 2                 # it would be created again
    tf.run("import", "-input=false", address, rid)
    actions = {a: act for a, act in tf.planned_actions().items() if act != ["no-op"]}
    if not config_only:
        assert actions == {}
        return
    assert actions == {address: ["update"]}
    change = next(rc["change"] for rc in tf.show_plan("check.tfplan")["resource_changes"]
                  if rc["address"] == address)
    assert sorted(k for k in change["after"]
                  if change["before"].get(k) != change["after"][k]) == config_only
    tf.run("apply", "-input=false", "check.tfplan")
    assert tf.plan_exitcode().returncode == 0

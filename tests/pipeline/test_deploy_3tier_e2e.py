"""`deploy --profile 3-tier` through the whole pipeline in the sandbox: apply,
a no-op second deploy, outputs by role, and the plan's cost delta with the
2026 price rules when the app servers are scaled out."""
import json
from decimal import Decimal

import pytest

from tests.conftest import BASE_TOML

pytestmark = pytest.mark.e2e


def _ok(done):
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def test_deploy_3tier_then_noop_then_scale_out_plan(sb):
    first = _ok(sb.cli("deploy", "--profile", "3-tier"))
    for phase in ("preflight", "generate", "infra", "outputs"):
        assert f"[{phase}] done" in first.stdout
    assert sb.token not in first.stdout + first.stderr

    outputs = json.loads(_ok(sb.cli("outputs", "--json")).stdout)
    roles = sorted(h["role"] for h in outputs["hosts"])
    assert roles == ["app", "app", "db"]
    db = next(h for h in outputs["hosts"] if h["role"] == "db")
    assert db["private_ip"] == "10.0.1.3" and db["volume_device"]
    assert outputs["load_balancer_ipv4"].count(".") == 3
    client = sb.client()
    (lb,) = client.load_balancers.get_all()
    assert lb.public_net.ipv4.ip == outputs["load_balancer_ipv4"]
    assert client.volumes.get_by_id(outputs["volume_id"]).server.id == db["id"]
    assert {t.server.id for t in lb.targets} == {h["id"] for h in outputs["hosts"]
                                                 if h["role"] == "app"}

    # verify --after walks every host of every role.
    checks = json.loads(_ok(sb.cli("verify", "--after", "--json")).stdout)["checks"]
    after = [c for c in checks if c["section"] == "after"]
    assert {c["status"] for c in after} <= {"ok", "not-checked"}
    for name in ("Server running", "Firewall applied to the server",
                 "Placement group holds the server"):
        assert sum(c["name"] == name and c["status"] == "ok" for c in after) == 3, name

    second = _ok(sb.cli("deploy", "--profile", "3-tier"))
    assert "[infra] skipped" in second.stdout
    assert json.loads(_ok(sb.cli("plan", "--json")).stdout)["has_changes"] is False

    # Scale out with [tier] app_servers = 4: two servers and two targets are
    # created, nothing else changes, and the cost delta prices only the new ones.
    sb.config.write_text(BASE_TOML + "\n[tier]\napp_servers = 4\n")
    _ok(sb.cli("generate", "--profile", "3-tier"))
    plan = json.loads(_ok(sb.cli("plan", "--json")).stdout)
    assert {(c["address"], c["action"]) for c in plan["changes"]} == {
        ('hcloud_server.app["app-3"]', "create"), ('hcloud_server.app["app-4"]', "create"),
        ('hcloud_load_balancer_target.app["app-3"]', "create"),
        ('hcloud_load_balancer_target.app["app-4"]', "create")}
    # Two new ccx23 at the 2026-06-15 new-order price, each with a primary IPv4 (0.50).
    assert Decimal(plan["cost"]["delta_eur"]) == Decimal("172.98")

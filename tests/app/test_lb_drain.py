"""Draining app servers a plan destroys (app/lb.py doomed_targets, drain; the infra phase).

The API side runs against the sandbox emulator in-process and is read back with the
official hcloud client; the plan side is a PlanSummary and a TfState as terraform
would hand them over.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from hcloud.images import Image
from hcloud.load_balancer_types import LoadBalancerType
from hcloud.load_balancers import LoadBalancerTarget
from hcloud.locations import Location
from hcloud.server_types import ServerType
from hcloud.servers import Server

from app import lb
from errors import ApiError
from runner.plan import PlanSummary, ResourceChange
from runner.tfstate import parse_state
from tests.sandbox.conftest import start_emulator


@pytest.fixture
def api(tmp_path):
    running = start_emulator(tmp_path / "emulator-state")
    try:
        yield running
    finally:
        running.server.close()


def _server(client, name):
    made = client.servers.create(name=name, server_type=ServerType(name="ccx13"),
                                 image=Image(name="ubuntu-22.04"), location=Location(name="nbg1"))
    made.action.wait_until_finished(max_retries=20)
    return made.server


def _stack(client, n=3):
    made = client.load_balancers.create(name="lb", load_balancer_type=LoadBalancerType(name="lb11"),
                                        location=Location(name="nbg1"))
    made.action.wait_until_finished(max_retries=20)
    servers = [_server(client, f"p-production-app-{i}") for i in range(1, n + 1)]
    for s in servers:
        client.load_balancers.add_target(made.load_balancer, LoadBalancerTarget(
            type="server", server=Server(id=s.id), use_private_ip=False)).wait_until_finished(20)
    return made.load_balancer, servers


def _state(lb_id, servers):
    """A terraform state with the servers and their targets (as the 3-tier stack has them)."""
    def instance(key, attrs):
        return {"index_key": key, "attributes": attrs}
    return parse_state({"version": 4, "lineage": "l", "serial": 3, "resources": [
        {"mode": "managed", "type": "hcloud_server", "name": "app",
         "provider": 'provider["registry.terraform.io/hetznercloud/hcloud"]',
         "instances": [instance(f"app-{i}", {"id": str(s.id), "name": s.name})
                       for i, s in enumerate(servers, 1)]},
        {"mode": "managed", "type": "hcloud_load_balancer_target", "name": "app",
         "provider": 'provider["registry.terraform.io/hetznercloud/hcloud"]',
         "instances": [instance(f"app-{i}", {"id": f"{lb_id}__server__{s.id}", "type": "server",
                                             "load_balancer_id": lb_id, "server_id": s.id,
                                             "use_private_ip": True})
                       for i, s in enumerate(servers, 1)]}]})


def _plan(*changes):
    return PlanSummary(tuple(ResourceChange(a, a.split(".")[0], act) for a, act in changes))


def test_doomed_targets_are_the_planned_target_deletes_with_ids_from_the_state(api):
    client = api.client()
    balancer, servers = _stack(client)
    state = _state(balancer.id, servers)
    plan = _plan(('hcloud_load_balancer_target.app["app-3"]', "delete"),
                 ('hcloud_server.app["app-3"]', "delete"),
                 ('hcloud_load_balancer_target.app["app-2"]', "replace"),
                 ('hcloud_load_balancer_target.app["app-1"]', "update"),
                 ('hcloud_load_balancer_target.app["app-9"]', "delete"))   # not in the state
    doomed = lb.doomed_targets(plan, state)
    assert [(d.lb_id, d.id, d.name) for d in doomed] == [
        (balancer.id, servers[2].id, "p-production-app-3"),
        (balancer.id, servers[1].id, "p-production-app-2")]
    assert lb.doomed_targets(_plan(('hcloud_server.app["app-3"]', "create")), state) == []


def test_drain_takes_the_doomed_out_through_the_api_then_waits_once(api):
    client = api.client()
    balancer, servers = _stack(client)
    slept = []
    doomed = lb.doomed_targets(_plan(('hcloud_load_balancer_target.app["app-2"]', "delete"),
                                     ('hcloud_load_balancer_target.app["app-3"]', "delete")),
                               _state(balancer.id, servers))
    took = lb.drain(client, doomed, api.url, sleep=slept.append)
    assert took == ["p-production-app-2", "p-production-app-3"]
    assert slept == [lb.DRAIN_S]
    # Read back: app-1 alone is still a target.
    after = client.load_balancers.get_by_id(balancer.id)
    assert [t.server.id for t in after.targets] == [servers[0].id]
    # A run resumed after the drain: nothing left to take out, no wait.
    slept.clear()
    assert lb.drain(client, doomed, api.url, sleep=slept.append) == [] and slept == []


def test_drain_failure_is_one_api_error_line(api):
    client = api.client()
    doomed = [lb.Doomed(424242, 1, "p-production-app-3")]    # no such load balancer
    with pytest.raises(ApiError) as err:
        lb.drain(client, doomed, api.url, sleep=lambda s: None)
    assert "taking servers out of the load balancer" in err.value.message


def test_infra_phase_drains_before_it_applies(monkeypatch):
    """The order inside the infra phase: review, drain, apply (the drain's words in its line)."""
    from pipeline.phases import infra
    calls = []
    summary = _plan(('hcloud_load_balancer_target.app["app-3"]', "delete"),
                    ('hcloud_server.app["app-3"]', "delete"))
    monkeypatch.setattr("pipeline.stack.make_plan", lambda s, c: SimpleNamespace(
        summary=summary, init=SimpleNamespace(ran=False, reason="")))
    monkeypatch.setattr(infra, "_review", lambda ctx, s: "auto-approved")
    monkeypatch.setattr(infra, "_drain", lambda ctx, s: calls.append("drain") or
                        "took p-app-3 out of the load balancer before the apply; ")

    def apply_saved(*a, **kw):
        calls.append("apply")
        return SimpleNamespace(interrupted=False, completed=[1, 2], log_path=SimpleNamespace(name="l"))
    monkeypatch.setattr("pipeline.stack.apply_saved", apply_saved)
    monkeypatch.setattr(infra, "key", lambda ctx: "k")
    ctx = SimpleNamespace(session=None, config=None, options=SimpleNamespace(
        allow_replace=False, accept_data_loss=False), progress=None, state_changed=lambda: None)
    result = infra.run(ctx)
    assert calls == ["drain", "apply"]
    assert "took p-app-3 out of the load balancer before the apply; applied 2" in result.detail

"""3-tier -> one server without a cloud: where DNS goes in the serving stage, when the
load balancer may go, and what `verify --after` says at each stage."""
from __future__ import annotations

import datetime as dt

from pipeline import tier_down
from pipeline import tier_switch as ts
from runner.outputs import Host, StackOutputs


def _outputs() -> StackOutputs:
    return StackOutputs(
        hosts=(Host("x-app-1", "app", "198.51.100.11", "2001:db8:1::/64", "10.0.1.11", id=2),
               Host("x-db", "db", "198.51.100.3", "2001:db8:3::/64", "10.0.1.3", "/dev/sdb", 1),
               Host("x-app-2", "app", "198.51.100.12", "2001:db8:2::/64", "10.0.1.12", id=3)),
        volume_id=7, ssh_key_id=8, load_balancer_ipv4="198.51.100.2",
        load_balancer_ipv6="2001:db8:9::1")


def test_dns_moves_to_the_db_server_not_the_load_balancer(make_config):
    from domains.target import dns_target
    from generator.config import load_config
    config = load_config(make_config())
    outputs = _outputs()
    assert {r.address for r in dns_target(config, outputs).records
            if r.type == "A"} == {"198.51.100.2"}
    view = tier_down.single_view(outputs)
    assert view.public_ipv4 == "198.51.100.3" and view.volume_host.id == 1
    records = dns_target(config, view).records
    assert {r.type: r.address for r in records} == {"A": "198.51.100.3", "AAAA": "2001:db8:3::1"}


def test_the_load_balancer_goes_only_a_ttl_after_the_names_moved():
    record = ts.Record("3-tier", "ccx33", "serving", "2026-11-29T01:00:00+00:00")
    assert tier_down.ready_at(record, 300) == dt.datetime(2026, 11, 29, 1, 5,
                                                         tzinfo=dt.timezone.utc)
    assert tier_down.ready_at(ts.Record("3-tier", "ccx33", "serving"), 300) is None


def test_verify_after_says_where_a_switch_down_is(tmp_path, make_config):
    from checks.preflight import _switch_checks
    from generator.config import load_config
    from pipeline.target import Target
    config = load_config(make_config())
    target = Target(kind="sandbox", endpoint="http://127.0.0.1:1/v1", token="t")
    said = []
    for stage, dns_at in (("serving", None), ("serving", "2026-11-29T01:00:00+00:00"),
                          ("detaching", "2026-11-29T01:00:00+00:00"),
                          ("single", "2026-11-29T01:00:00+00:00")):
        ts.save(tmp_path, ts.Record("3-tier", "ccx33", stage, dns_at))
        (row,) = _switch_checks(target, config, tmp_path, None)
        assert row.status == "warn" and row.detail.startswith("3-tier -> ccx33 under way: ")
        assert row.action == "hetzner-deploy switch --to ccx33"
        said.append(row.detail)
    assert "still point at the load balancer" in said[0]
    assert "point at the db server since 2026-11-29T01:00:00+00:00" in said[1]
    assert "leaving the private network" in said[2]
    assert "single-server stack is still to be applied" in said[3]
    assert len(set(said)) == 4


def test_another_switch_while_one_down_is_under_way_is_refused_in_one_line(tmp_path):
    import types

    import pytest

    from commands.switch import run_down_switch
    from errors import RefusedError
    record = ts.Record("3-tier", "ccx33", "serving", "2026-11-29T01:00:00+00:00")
    ts.save(tmp_path, record)
    for wanted, said in (("ccx43", "a switch 3-tier -> ccx33 is under way: finish it with "
                                   "`hetzner-deploy switch --to ccx33` first"),
                         ("3-tier", "going back to 3-tier halfway is not built")):
        ctx = types.SimpleNamespace(profile=types.SimpleNamespace(name=wanted), workdir=tmp_path)
        with pytest.raises(RefusedError) as refused:
            run_down_switch(ctx, None, record)
        assert said in str(refused.value) and "\n" not in str(refused.value)
    assert ts.load(tmp_path) == record              # nothing changed

"""hcloud_zone and hcloud_zone_rrset in the stand-in, driven by real Terraform
against the emulator; the official hcloud client checks what the "cloud" holds."""
from __future__ import annotations

import json

import pytest

from tests.sandbox.tfharness import FIXTURES, Terraform, copy_stack

pytestmark = pytest.mark.e2e


def _addresses(tf) -> dict[str, dict]:
    state = json.loads(tf.run("show", "-json").stdout)
    return {r["address"]: r["values"] for r in state["values"]["root_module"]["resources"]}


def test_zone_round_trip_apply_replan_ttl_change_and_import(tmp_path, emulator):
    tf = Terraform(copy_stack(tmp_path / "stack", FIXTURES / "zone"), tmp_path, emulator)
    tf.init()
    tf.apply()
    client = emulator.client()
    zone = client.zones.get("example.com")
    api = client.zones.get_rrset(zone, "api", "A")
    assert api.ttl == 300 and [(r.value, r.comment) for r in api.records] == [("203.0.113.10", "web")]
    values = _addresses(tf)
    assert values["hcloud_zone_rrset.api_a"]["id"] == "api/A"
    assert values["hcloud_zone.dns"]["authoritative_nameservers"]["assigned"][0] == "hydrogen.ns.hetzner.com."
    assert tf.plan_exitcode().returncode == 0, "second plan is not empty"
    # A TTL change is an in-place update, not a replacement.
    assert tf.planned_actions("-var", "ttl=600") == {
        "hcloud_zone.dns": ["no-op"], "hcloud_zone_rrset.api_a": ["update"],
        "hcloud_zone_rrset.apex_aaaa": ["update"], "hcloud_zone_rrset.soa": ["no-op"]}
    tf.apply("-var", "ttl=600")
    assert client.zones.get_rrset(zone, "api", "A").ttl == 600
    assert tf.plan_exitcode("-var", "ttl=600").returncode == 0
    # Out-of-band record change is seen and put back.
    from hcloud.zones import ZoneRecord
    client.zones.set_rrset_records(api, [ZoneRecord(value="203.0.113.99")]).wait_until_finished()
    assert tf.plan_exitcode("-var", "ttl=600").returncode == 2
    tf.apply("-var", "ttl=600")
    assert [r.value for r in client.zones.get_rrset(zone, "api", "A").records] == ["203.0.113.10"]
    # Import by the real provider's id format: <zone>/<name>/<type>.
    tf.run("state", "rm", "hcloud_zone_rrset.api_a", "hcloud_zone.dns")
    tf.run("import", "-var", "ttl=600", "hcloud_zone.dns", "example.com")
    tf.run("import", "-var", "ttl=600", "hcloud_zone_rrset.api_a", "example.com/api/A")
    assert tf.plan_exitcode("-var", "ttl=600").returncode == 0
    bad = tf.run("import", "-var", "ttl=600", "hcloud_zone_rrset.apex_aaaa", "api/A", check=False)
    assert bad.returncode == 1
    serial = client.zones.get_rrset(zone, "@", "SOA").records[0].value.split(" ")[2]
    assert int(serial) > 1   # moved on with every change, yet no plan ever showed the SOA
    tf.run("destroy", "-auto-approve", "-input=false", "-var", "ttl=600")
    assert client.zones.get_all() == []


def test_empty_records_are_refused_at_plan(tmp_path, emulator):
    stack = copy_stack(tmp_path / "stack", FIXTURES / "zone")
    main = stack / "main.tf"
    main.write_text(main.read_text().replace('records = [{ value = "2001:db8::1" }]', "records = []"))
    tf = Terraform(stack, tmp_path, emulator)
    tf.init()
    planned = tf.plan_exitcode()
    assert planned.returncode == 1 and "at least 1 element" in planned.stderr
    assert emulator.client().zones.get_all() == []

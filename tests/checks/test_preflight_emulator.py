"""run_preflight against the sandbox API emulator, including its fault injection."""
from __future__ import annotations

import pytest
from hcloud import Client
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.server_types import ServerType

from dataclasses import replace

from generator.config import load_config
from runner.outputs import Host, StackOutputs
from generator.profiles import get_profile
from checks.base import FAIL, NOT_CHECKED, OK
from checks.preflight import run_preflight
from pipeline.target import Target
from tests.checks.preflight_support import TOKEN, admin, api, emu  # noqa: F401

ENVIRON = {"HCLOUD_TOKEN_CREATED": "2026-11-01"}

# Each preflight also runs terraform (version, fmt) and git: not in-process.
pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def clock(fake_clock):
    return fake_clock


@pytest.fixture
def config(make_config, tmp_path):
    env = tmp_path / ".env"
    env.write_text("APP_SECRET=x\n")
    env.chmod(0o600)
    return load_config(make_config())


def preflight(config, emu, profile="ccx33", **kw):
    target = Target("hetzner", emu.url, TOKEN, {})
    kw.setdefault("environ", ENVIRON)
    kw.setdefault("workdir", config.source.parent / "no-workdir")
    return run_preflight(config, get_profile(profile), target, **kw)


def by_name(report, name):
    return next(c for c in report.checks if c.name == name)


def test_empty_project_is_ready(config, emu):
    report = preflight(config, emu)
    assert report.ready, report.next_actions
    assert report.api_error is None and report.api_latency_ms is not None
    assert report.inventory.total == 0
    assert [f.count for f in report.inventory.families] == [0] * 9
    assert report.conflicts == () and report.ownership == "labels"
    assert report.availability.ok
    assert report.cost.live and report.cost.estimate.source.startswith("Hetzner Cloud API")
    # The emulator's 2026 price list (new orders from 15 June 2026): ccx33 138.49
    # + 20% backups 27.698 + 50 GB x 0.0572 = 2.86 + IPv4 0.50 = 169.548.
    assert str(report.cost.estimate.total_monthly_eur.quantize(type(
        report.cost.estimate.total_monthly_eur)("0.01"))) == "169.55"
    assert by_name(report, "API reachable").status == OK
    later = [c for c in report.checks if c.status == FAIL]
    assert later == []


def test_conflicting_names_block_with_a_next_action(config, emu):
    # Made by hand in the console: no labels.
    api(emu, "POST", "/firewalls", {"name": "autoscale-ai-production-firewall"})
    # Ours, from an earlier deploy: labelled, so not a conflict.
    api(emu, "POST", "/placement_groups", {"name": "autoscale-ai-production-pg", "type": "spread",
        "labels": {"managed-by": "hetzner-deploy", "project": "autoscale-ai",
                   "environment": "production"}})
    api(emu, "POST", "/ssh_keys", {"name": "unrelated", "public_key":
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGSBTOuGpI4cwh0QLF7PGPP53H+ek31jwqP+zw+eJogx laptop"})
    report = preflight(config, emu)
    assert not report.ready
    assert [(c.family, c.name) for c in report.conflicts] == [
        ("firewalls", "autoscale-ai-production-firewall")]
    assert report.inventory.family("firewalls").names == ("autoscale-ai-production-firewall",)
    assert report.inventory.family("ssh_keys").count == 1
    assert any("autoscale-ai-production-firewall" in a for a in report.next_actions)
    assert report.next_actions[0].startswith("rename or delete the existing firewall")


def test_conflict_by_state_ids(config, emu):
    fw = api(emu, "POST", "/firewalls", {"name": "autoscale-ai-production-firewall"})["firewall"]
    state = {"version": 4, "resources": [{"type": "hcloud_firewall", "mode": "managed",
                                          "instances": [{"attributes": {"id": str(fw["id"])}}]}]}
    report = preflight(config, emu, state=state)
    assert report.ownership == "terraform state" and report.conflicts == ()


def test_server_type_unavailable_in_location_blocks(config, emu):
    admin(emu, "POST", "/_sandbox/availability",
          {"server_type": "ccx33", "location": "nbg1", "available": False})
    report = preflight(config, emu)
    assert not report.ready
    check = by_name(report, "server type ccx33 in nbg1")
    assert check.status == FAIL and "unavailable" in check.detail
    assert "choose another location or profile" in check.action
    # Another profile's type is still fine there.
    assert preflight(config, emu, profile="ccx43").ready


def test_three_tier_checks_every_type(config, emu):
    report = preflight(config, emu, profile="3-tier")
    names = [t.name for t in report.availability.types]
    assert names == ["ccx23", "ccx33", "lb11"]
    assert report.availability.ok


def test_unknown_image_blocks(make_config, tmp_path, emu):
    from tests.conftest import BASE_TOML
    cfg = load_config(make_config(BASE_TOML.replace('"ubuntu-22.04"', '"ubuntu-99.04"')))
    report = preflight(cfg, emu)
    assert by_name(report, "image ubuntu-99.04").status == FAIL and not report.ready


def test_429_then_success(config, emu, clock):
    admin(emu, "POST", "/_sandbox/faults", {"count": 1, "status": 429, "retry_after": 1})
    report = preflight(config, emu)
    assert report.ready and report.api_error is None
    assert clock.sleeps == [1.0]      # waited the Retry-After second
    assert admin(emu, "GET", "/_sandbox/faults")["faults"]["count"] == 0


def test_5xx_then_success(config, emu, clock):
    admin(emu, "POST", "/_sandbox/faults", {"count": 2, "status": 503})
    assert preflight(config, emu).ready
    assert clock.sleeps == [1.0]      # the first retry at once, the second after 1 s


def test_rate_limit_beyond_the_time_limit_is_one_api_error(config, emu):
    admin(emu, "POST", "/_sandbox/faults", {"count": 50, "status": 429, "retry_after": 120})
    report = preflight(config, emu, deadline_s=5)
    assert not report.ready
    assert "time limit" in report.api_error and "\n" not in report.api_error
    # Local checks are still reported.
    assert by_name(report, "Terraform >= 1.5").status == OK


def test_wrong_token(config, emu):
    target = Target("hetzner", emu.url, "wrong-token-value", {})
    report = run_preflight(config, get_profile("ccx33"), target, environ=ENVIRON,
                           workdir=config.source.parent / "none")
    assert "401 unauthorized" in report.api_error and not report.ready
    assert report.inventory is None


def test_unavailable_live_prices_fall_back_to_the_dated_table(config, emu):
    admin(emu, "POST", "/_sandbox/faults",
          {"count": 50, "status": 429, "retry_after": 120, "path_prefix": "/pricing"})
    report = preflight(config, emu, deadline_s=5)
    assert report.ready
    # Today the newest "all" row is 2026-04-01; new servers pay the 2026-06-15 row.
    assert not report.cost.live and report.cost.label == ("offline table dated 2026-04-01; "
                                                           "new servers and rescales: 2026-06-15")
    assert "live prices" in report.cost.problem


# -- after a deploy ----------------------------------------------------------------

def _deploy_by_hand(emu, *, backups=True, protect=True, attach=True):
    """What the stack builds, made through the API as terraform would."""
    client = Client(token=TOKEN, api_endpoint=emu.url)
    key = client.ssh_keys.create("autoscale-ai-production-key", public_key=
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILgabWgyYOwl5ML0xE+kLrdPGyD8UKpBGnsuY5uCPVi5 x")
    fw = client.firewalls.create("autoscale-ai-production-firewall").firewall
    pg = client.placement_groups.create("autoscale-ai-production-pg", "spread").placement_group
    server = client.servers.create(
        "autoscale-ai-production", server_type=ServerType(name="ccx33"),
        image=Image(name="ubuntu-22.04"), ssh_keys=[key], location=None,
        placement_group=pg, firewalls=[fw]).server
    where = {"server": server} if attach else {"location": Location(name="nbg1")}
    volume = client.volumes.create(50, "autoscale-ai-production-data", automount=attach,
                                   format="ext4", **where).volume
    if protect:
        client.volumes.change_protection(volume, delete=True)
    if backups:
        client.servers.enable_backup(server)
    return StackOutputs(hosts=(Host(name=server.name, role="all-in-one", ipv4="203.0.113.2",
                                    id=server.id, firewall_id=fw.id,
                                    placement_group_id=pg.id,
                                    volume_device=volume.linux_device or "/dev/sdb"),),
                        volume_id=volume.id, ssh_key_id=key.id)


def test_after_a_good_deploy_everything_passes_and_later_phases_are_not_claimed(config, emu):
    outputs = _deploy_by_hand(emu)
    state = {"resources": [{"type": "hcloud_volume_attachment", "mode": "managed",
                            "instances": [{"attributes": {"automount": True}}]}]}
    report = preflight(config, emu, after=True, outputs=outputs, state=state)
    assert report.ready, report.next_actions
    statuses = {c.name: c.status for c in report.checks}
    for name in ("Server running", "Backups enabled", "Volume attached to the server",
                 "Volume delete-protected", "Volume automount", "Firewall applied to the server",
                 "Placement group holds the server"):
        assert statuses[name] == OK, name
    for name in ("Containers healthy", "DNS points at the server", "HTTPS certificate valid"):
        assert statuses[name] == NOT_CHECKED


def test_after_a_bad_deploy_each_gap_fails(config, emu):
    outputs = _deploy_by_hand(emu, backups=False, protect=False, attach=False)
    report = preflight(config, emu, after=True, outputs=outputs)
    statuses = {c.name: c.status for c in report.checks}
    assert statuses["Backups enabled"] == FAIL
    assert statuses["Volume delete-protected"] == FAIL
    assert statuses["Volume attached to the server"] == FAIL
    assert statuses["Volume automount"] == NOT_CHECKED     # no state given: never guessed
    assert statuses["Server running"] == OK
    assert not report.ready and len(report.next_actions) >= 3


def test_after_with_missing_outputs_and_vanished_resources(config, emu):
    outputs = _deploy_by_hand(emu)
    # State says firewall 987654321, Hetzner no longer has it; the group id is missing.
    host = replace(outputs.hosts[0], firewall_id=987654321, placement_group_id=None)
    report = preflight(config, emu, after=True, outputs=replace(outputs, hosts=(host,)))
    statuses = {c.name: c.status for c in report.checks}
    assert statuses["output hosts[].placement_group_id"] == FAIL
    assert statuses["Firewall exists"] == FAIL
    assert not report.ready


def test_api_failing_after_the_probe_is_named_as_such(config, emu):
    admin(emu, "POST", "/_sandbox/faults",
          {"count": 50, "status": 503, "path_prefix": "/servers"})
    report = preflight(config, emu, deadline_s=3)
    assert by_name(report, "API reachable").status == OK
    failed = by_name(report, "API answered every request")
    assert failed.status == FAIL and "503" in failed.detail and not report.ready

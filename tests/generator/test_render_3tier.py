"""The 3-tier stack: golden file, sizing, stable addresses, and the issue's
network, firewall and load balancer rules read back from the rendered HCL.
The real provider schema in ../shared is the oracle for every resource."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import hcl2
import pytest

from errors import ConfigError
from generator import render, validate
from generator.config import load_config, with_environment
from generator.config_tier import TierConfig
from generator.profiles import get_profile
from generator.render import generate, render_stack
from tests.conftest import BASE_TOML

ROOT = Path(render.__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
EXAMPLE = ROOT / "terraform" / "stacks" / "example-3-tier"


def _main(files: dict[str, bytes]) -> dict:
    return hcl2.loads(files["main.tf"].decode())


def _resources(doc: dict, rtype: str) -> dict[str, dict]:
    return {name: body for entry in doc["resource"] for t, named in entry.items() if t == rtype
            for name, body in named.items()}


def _tfvars(files: dict[str, bytes]) -> dict:
    return hcl2.loads(files["terraform.tfvars"].decode())


@pytest.fixture
def config(make_config):
    return load_config(make_config())


def test_committed_example_is_the_golden_file():
    """terraform/stacks/example-3-tier is what `generate --profile 3-tier --env
    example-3-tier` writes for deploy.example.toml, byte for byte."""
    example = with_environment(load_config(ROOT / "deploy.example.toml"), "example-3-tier")
    files = render_stack(example, get_profile("3-tier"))
    committed = sorted(p.name for p in EXAMPLE.iterdir()
                       if p.suffix in (".tf", ".tfvars", ".yaml") or p.name == "manifest.json")
    assert sorted(files) == committed
    for name, data in files.items():
        assert data == (EXAMPLE / name).read_bytes(), f"example-3-tier/{name} differs"
    assert json.loads(files["manifest.json"])["profile"] == "3-tier"


def _real_schema() -> dict:
    doc = json.loads((SHARED / "hcloud_provider_schema.json").read_text())
    return next(iter(doc["provider_schemas"].values()))["resource_schemas"]


def test_every_resource_validates_against_the_real_provider_schema(config):
    real = _real_schema()
    doc = _main(render_stack(config, get_profile("3-tier")))
    seen, problems = set(), []
    for entry in doc["resource"]:
        for rtype, named in entry.items():
            for name, body in named.items():
                seen.add(rtype)
                problems += validate._check_body(f"{rtype}.{name}", body, real[rtype]["block"])
    assert problems == []
    assert {"hcloud_load_balancer", "hcloud_load_balancer_service", "hcloud_load_balancer_network",
            "hcloud_load_balancer_target", "hcloud_network", "hcloud_network_subnet"} <= seen
    # The list-nested blocks the issue names are really rendered as blocks.
    assert real["hcloud_load_balancer_service"]["block"]["block_types"]["health_check"][
        "nesting_mode"] == "list"


def test_the_checks_pass_on_the_committed_stacks():
    results = validate.check_all(load_config(ROOT / "deploy.example.toml"))
    assert [(r.name, r.problems) for r in results if not r.ok] == []


def test_load_balancer_network_and_health_check(config):
    doc = _main(render_stack(config, get_profile("3-tier")))
    lb = _resources(doc, "hcloud_load_balancer")["main"]
    assert lb["load_balancer_type"] == "${var.load_balancer_type}"
    attach = _resources(doc, "hcloud_load_balancer_network")["main"]
    assert attach["network_id"] == "${hcloud_network.main.id}"
    assert attach["depends_on"] == ["${hcloud_network_subnet.main}"]
    assert attach["enable_public_interface"] is True
    web = _resources(doc, "hcloud_load_balancer_service")["web"]
    assert web["for_each"].replace('"', "") == "${toset([80, 443])}"   # python-hcl2 drops quotes
    check = web["health_check"][0]
    assert check["protocol"] == "http" and check["http"][0]["path"] == "${var.health_path}"
    target = _resources(doc, "hcloud_load_balancer_target")["app"]
    assert target["use_private_ip"] is True and target["for_each"] == "${hcloud_server.app}"
    subnet = _resources(doc, "hcloud_network_subnet")["main"]
    assert subnet["network_zone"] == "${var.network_zone}"
    for name, server in _resources(doc, "hcloud_server").items():
        assert server["depends_on"] == ["${hcloud_network_subnet.main}"], name
        # The db server's attachment is dynamic: off only while a switch back to one server
        # detaches it before the subnet goes (var.db_private_network, true unless TF_VAR says).
        network = (server["network"][0] if name == "app" else
                   server["dynamic"][0]["network"]["content"][0])
        assert network["network_id"] == "${hcloud_network.main.id}"
    db_net = _resources(doc, "hcloud_server")["db"]["dynamic"][0]["network"]
    assert db_net["for_each"].startswith("${var.db_private_network ? ")
    pgs = _resources(doc, "hcloud_placement_group")
    assert sorted(pgs) == ["app", "db"] and all(p["type"] == "spread" for p in pgs.values())
    attachment = _resources(doc, "hcloud_volume_attachment")["data"]
    assert attachment["server_id"] == "${hcloud_server.db.id}"


def _rules(doc, name):
    return {r["port"]: r["source_ips"] for r in _resources(doc, "hcloud_firewall")[name]["rule"]}


def test_firewalls_open_nothing_to_the_world_but_through_the_load_balancer(config):
    doc = _main(render_stack(config, get_profile("3-tier")))
    app, db = _rules(doc, "app"), _rules(doc, "db")
    assert sorted(app) == ["22", "443", "80"] and sorted(db) == ["22", "5432", "6379"]
    assert app["22"] == db["22"] == "${var.ssh_allow_cidrs}"
    assert app["80"] == app["443"] == "${local.web_from_lb}"
    assert db["5432"] == db["6379"] == ["${var.subnet_ip_range}"]
    # The world reaches port 80/443 only through db_web, which exists only while a switch
    # from one server runs (count on var.db_serves_web, false unless TF_VAR sets it).
    text = render_stack(config, get_profile("3-tier"))["main.tf"].decode()
    outside = text.split('resource "hcloud_firewall" "db_web"')
    assert len(outside) == 2 and "0.0.0.0/0" not in outside[0]
    assert "0.0.0.0/0" not in outside[1].split("\nresource ", 1)[1]
    web = _resources(doc, "hcloud_firewall")["db_web"]
    assert web["count"] == "${var.db_serves_web ? 1 : 0}"
    assert sorted(_rules(doc, "db_web")) == ["443", "80"]
    variables = hcl2.loads(render_stack(config, get_profile("3-tier"))["variables.tf"].decode())
    (var,) = [v["db_serves_web"] for v in variables["variable"] if "db_serves_web" in v]
    assert var["default"] is False


def test_app_count_follows_the_sizing_and_can_be_pinned(config):
    def names(cfg):
        return _tfvars(render_stack(cfg, render.sized(get_profile("3-tier"), cfg.tier,
                                                      cfg.calls_per_month)))["app_servers"]
    assert names(config) == ["app-1", "app-2"]                       # 3,000 calls: the minimum
    busy = dataclasses.replace(config, calls_per_month=35_000)
    assert names(busy) == ["app-1", "app-2", "app-3", "app-4"]       # 10,000 calls per server
    assert names(dataclasses.replace(busy, tier=TierConfig(calls_per_app_server=20_000))) == [
        "app-1", "app-2"]
    assert names(dataclasses.replace(busy, tier=TierConfig(app_servers=3))) == [
        "app-1", "app-2", "app-3"]


def test_adding_app_servers_changes_only_the_list_of_names(config):
    two = render_stack(config, get_profile("3-tier"))
    four = render_stack(dataclasses.replace(config, tier=TierConfig(app_servers=4)),
                        render.sized(get_profile("3-tier"), TierConfig(app_servers=4), 0))
    assert [n for n in two if two[n] != four[n]] == ["terraform.tfvars", "manifest.json"]
    changed = [a for a, b in zip(two["terraform.tfvars"].splitlines(),
                                 four["terraform.tfvars"].splitlines()) if a != b]
    assert changed == [b'app_servers        = ["app-1", "app-2"]']


def test_generate_writes_a_3tier_stack_in_the_location_network_zone(make_config, tmp_path):
    cfg = load_config(make_config(BASE_TOML.replace('location = "nbg1"', 'location = "ash"')
                                  + '\n[tier]\nhealth_path = "/api/healthz"\n'))
    result = generate(cfg, "3-tier", stacks_dir=tmp_path / "stacks")
    tfvars = hcl2.loads((result.stack_dir / "terraform.tfvars").read_text())
    assert tfvars["network_zone"] == "us-east" and tfvars["health_path"] == "/api/healthz"
    again = generate(cfg, "3-tier", stacks_dir=tmp_path / "stacks")
    assert not again.changed                                            # deterministic


@pytest.mark.parametrize("section, needle", [
    ('health_path = "health"', "tier.health_path"),
    ('health_path = "/a b"', "tier.health_path"),
    ("app_servers = 0", "tier.app_servers: must be between 1 and 50"),
    ("calls_per_app_server = 5", "tier.calls_per_app_server"),
    ("spare = 1", "spare"),
])
def test_bad_tier_section_is_one_config_error(make_config, section, needle):
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        load_config(make_config(BASE_TOML + f"\n[tier]\n{section}\n"))


def test_naming_gives_the_names_the_stack_creates(config):
    """generator/naming.py (used by verify for name clashes) agrees with the rendered stack."""
    from generator.naming import resource_names
    busy = dataclasses.replace(config, tier=TierConfig(app_servers=3))
    names = resource_names(busy, get_profile("3-tier"))
    base = "autoscale-ai-production"
    assert names["servers"] == [f"{base}-app-1", f"{base}-app-2", f"{base}-app-3", f"{base}-db"]
    assert names["load_balancers"] == [f"{base}-lb"] and names["networks"] == [f"{base}-net"]
    assert names["firewalls"] == [f"{base}-app-firewall", f"{base}-db-firewall"]
    assert names["placement_groups"] == [f"{base}-app-pg-1", f"{base}-db-pg"]
    many = resource_names(dataclasses.replace(config, tier=TierConfig(app_servers=11)),
                          get_profile("3-tier"))
    assert many["placement_groups"] == [f"{base}-app-pg-1", f"{base}-app-pg-2", f"{base}-db-pg"]
    text = render_stack(busy, render.sized(get_profile("3-tier"), busy.tier, 0))["main.tf"].decode()
    assert '"${local.name}-app-pg-${each.key}"' in text
    for suffix in ("-lb", "-net", "-app-firewall", "-db-firewall", "-db-pg", "-db",
                   "-data", "-key"):
        assert f'"${{local.name}}{suffix}"' in text, suffix


def test_every_location_has_the_network_zone_the_emulator_serves():
    """The generator's zone for each location is the one the sandbox API
    reports for that location (GET /locations), and the OpenAPI example agrees for nbg1."""
    from generator.config import LOCATIONS
    from generator.config_tier import NETWORK_ZONES
    from sandbox.emulator import catalog
    assert set(NETWORK_ZONES) == set(LOCATIONS)
    assert {name: catalog.LOCATIONS[name][6] for name in LOCATIONS} == NETWORK_ZONES
    assert '"network_zone": "eu-central"' in (SHARED / "hetzner_cloud_openapi.json").read_text()

"""[dns] provider = "hetzner" renders dns.tf: parsed with python-hcl2, checked
against the real provider schema (../shared), deterministic and fmt-clean."""
from __future__ import annotations

import io
import json
from pathlib import Path

import hcl2
import pytest

from generator import render
from generator.config import load_config
from generator.manifest import MANIFEST_NAME
from generator.profiles import get_profile
from tests.conftest import BASE_TOML

SCHEMA = Path(__file__).resolve().parents[2] / ".." / "shared" / "hcloud_provider_schema.json"
HETZNER = BASE_TOML + '\n[dns]\nprovider = "hetzner"\nttl = 600\n'


def _real_schema(rtype: str) -> dict:
    doc = json.loads(SCHEMA.read_text())
    return doc["provider_schemas"]["registry.terraform.io/hetznercloud/hcloud"]["resource_schemas"][rtype]["block"]


def _resources(files: dict[str, bytes]) -> dict[tuple[str, str], dict]:
    parsed = hcl2.load(io.StringIO(files["dns.tf"].decode()))
    return {(rtype, name): body for block in parsed["resource"]
            for rtype, inst in block.items() for name, body in inst.items()}


def test_namecheap_renders_no_dns_tf(make_config):
    files = render.render_stack(load_config(make_config()), get_profile("ccx33"))
    assert "dns.tf" not in files


def test_hetzner_dns_tf_content(make_config):
    files = render.render_stack(load_config(make_config(HETZNER)), get_profile("ccx33"))
    res = _resources(files)
    zone = res[("hcloud_zone", "dns")]
    assert zone["name"] == "example.com" and zone["mode"] == "primary" and zone["ttl"] == 600
    assert zone["delete_protection"] is True
    assert zone["lifecycle"][0]["prevent_destroy"] is True
    rrsets = {k[1]: v for k, v in res.items() if k[0] == "hcloud_zone_rrset"}
    # domain app.example.com in zone example.com: "@" -> "app", "api" -> "api.app".
    assert {(v["name"], v["type"]) for v in rrsets.values()} == {
        ("app", "A"), ("app", "AAAA"), ("api.app", "A"), ("api.app", "AAAA")}
    for body in rrsets.values():
        assert body["ttl"] == 600 and body["zone"] == "${hcloud_zone.dns.name}"
        want = "${local.dns_ipv4}" if body["type"] == "A" else "${local.dns_ipv6}"
        assert body["records"] == [{"value": want}]
    manifest = json.loads(files[MANIFEST_NAME])
    assert "dns.tf" in json.dumps(manifest["files"]) and "hcloud_zone.dns" in json.dumps(manifest)


def test_dns_tf_arguments_are_in_the_real_schema(make_config):
    files = render.render_stack(load_config(make_config(HETZNER)), get_profile("ccx33"))
    for (rtype, name), body in _resources(files).items():
        block = _real_schema(rtype)
        attrs = block["attributes"]
        for key in body:
            if key == "lifecycle":
                continue
            assert key in attrs, f"{rtype}.{name}: {key} is not an argument of the real provider"
            assert attrs[key].get("optional") or attrs[key].get("required"), f"{rtype}.{name}.{key} is read-only"
        for key, spec in attrs.items():
            assert not spec.get("required") or key in body, f"{rtype}.{name}: {key} missing"
        if "records" in body:
            inner = attrs["records"]["nested_type"]["attributes"]
            for record in body["records"]:
                assert set(record) <= set(inner) and "value" in record


def test_ipv6_off_renders_a_records_only_and_render_is_deterministic(make_config):
    config = load_config(make_config(HETZNER.replace("ttl = 600", "ttl = 600\nipv6 = false")))
    first = render.render_stack(config, get_profile("ccx33"))
    assert first == render.render_stack(config, get_profile("ccx33"))
    assert {v["type"] for (t, _), v in _resources(first).items() if t == "hcloud_zone_rrset"} == {"A"}


def test_generate_writes_dns_tf_and_check_accepts_it(make_config, tmp_path):
    from generator import validate
    config = load_config(make_config(HETZNER))
    result = render.generate(config, "ccx33", stacks_dir=tmp_path / "stacks")
    assert {f.name for f in result.files} >= {"dns.tf", "main.tf"}
    assert (tmp_path / "stacks" / "production" / "dns.tf").is_file()
    problems = [r for r in validate.check_all(config, tmp_path / "stacks") if not r.ok]
    assert problems == [], problems
    # Back to namecheap: dns.tf is deleted by the next generate.
    plain = load_config(make_config())
    again = render.generate(plain, "ccx33", stacks_dir=tmp_path / "stacks")
    assert ("dns.tf", "delete") in {(f.name, f.status) for f in again.files}
    assert not (tmp_path / "stacks" / "production" / "dns.tf").exists()


def test_check_catches_a_bad_record_in_a_nested_attribute():
    from generator.validate import schema_problems
    parsed = hcl2.load(io.StringIO(
        'resource "hcloud_zone_rrset" "x" {\n  zone = "example.com"\n  name = "api"\n  type = "A"\n'
        '  records = [{ valeu = "203.0.113.1" }]\n}\n'))
    problems = schema_problems({"dns.tf": parsed}, "s")
    assert any("records: unknown argument 'valeu'" in p for p in problems), problems
    assert any("records: required argument 'value' is missing" in p for p in problems), problems




def test_names_that_collide_as_resource_names_are_one_line_errors(make_config):
    from errors import ConfigError
    config = load_config(make_config(HETZNER + 'names = ["www-2", "www_2"]\n'))
    with pytest.raises(ConfigError, match="same Terraform resource name") as caught:
        render.render_stack(config, get_profile("ccx33"))
    assert "\n" not in str(caught.value)

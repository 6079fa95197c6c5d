"""drift on the sandbox: each kind of hand-made change is made through the
Debian `hcloud` CLI (a client independent of ours and of the provider), then
ops.drift must find it through a real refresh-only terraform plan, without
touching the state."""
from __future__ import annotations

import hashlib
import json

import pytest

from checks.inventory import read_inventory
from ops.drift import detect
from runner.terraform import Terraform as Runner
from tests.sandbox.conftest import emulator, hcloud_client  # noqa: F401  (fixtures)
from tests.sandbox.tfharness import Terraform, copy_stack, strip_prevent_destroy

pytestmark = pytest.mark.e2e


@pytest.fixture
def deployed(tmp_path, emulator):  # noqa: F811
    stack = copy_stack(tmp_path / "stack")
    strip_prevent_destroy(stack)
    tf = Terraform(stack, tmp_path, emulator)
    tf.init()
    tf.apply()
    return tf


def _drift(tf, client):
    state = tf.workdir / "terraform.tfstate"
    before = hashlib.sha256(state.read_bytes()).hexdigest()
    report = detect(Runner(tf.workdir, tf.env), tf.workdir / "drift.tfplan", read_inventory(client),
                    project="autoscale-ai", environment="production")
    # never changes anything: the state file is byte for byte the same and the
    # refresh-only plan file is gone (it can never be applied).
    assert hashlib.sha256(state.read_bytes()).hexdigest() == before
    assert not (tf.workdir / "drift.tfplan").exists()
    return report


def _cli(tf, *args):
    done = tf.hcloud_cli(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _id(tf, family, name):
    # `list -o json`, not `describe -o json`: Debian's hcloud 1.30 answers
    # "got invalid JSON response" to `placement-group describe -o json` even
    # though the plain describe and the list of the same object work.
    (found,) = [item for item in json.loads(_cli(tf, family, "list", "-o", "json"))
                if item["name"] == name]
    return str(found["id"])


def test_no_drift_right_after_apply(deployed, hcloud_client):  # noqa: F811
    serial = json.loads((deployed.workdir / "terraform.tfstate").read_text())["serial"]
    report = _drift(deployed, hcloud_client)
    assert report.findings == ()
    assert json.loads((deployed.workdir / "terraform.tfstate").read_text())["serial"] == serial


def test_label_edited_by_hand(deployed, hcloud_client):  # noqa: F811
    _cli(deployed, "volume", "add-label", "--overwrite", "autoscale-ai-production-data",
         "environment=staging")
    _cli(deployed, "volume", "add-label", "autoscale-ai-production-data", "owner=alice")
    (finding,) = _drift(deployed, hcloud_client).findings
    assert finding.address == "hcloud_volume.data" and finding.kind == "labels"
    assert "environment: production -> staging" in finding.detail
    assert "+owner=alice" in finding.detail


def test_server_rebuilt_with_another_image(deployed, hcloud_client):  # noqa: F811
    server = deployed.outputs()["hosts"][0]["name"]
    _cli(deployed, "server", "rebuild", "--image", "debian-12", server)
    kinds = {(f.address, f.kind): f.detail for f in _drift(deployed, hcloud_client).findings}
    assert "debian-12" in kinds[("hcloud_server.main", "image")]


def test_firewall_rule_added(deployed, hcloud_client):  # noqa: F811
    _cli(deployed, "firewall", "add-rule", "autoscale-ai-production-firewall", "--direction", "in",
         "--protocol", "tcp", "--port", "5432", "--source-ips", "0.0.0.0/0")
    findings = [f for f in _drift(deployed, hcloud_client).findings if f.kind == "firewall_rules"]
    assert [f.address for f in findings] == ["hcloud_firewall.main"]
    assert "+ in tcp/5432 0.0.0.0/0" in findings[0].detail


def test_resource_deleted(deployed, hcloud_client):  # noqa: F811
    _cli(deployed, "ssh-key", "delete", _id(deployed, "ssh-key", "autoscale-ai-production-key"))
    findings = _drift(deployed, hcloud_client).findings
    assert ("hcloud_ssh_key.main", "deleted") in {(f.address, f.kind) for f in findings}


def test_orphan_with_our_labels(deployed, hcloud_client):  # noqa: F811
    _cli(deployed, "placement-group", "create", "--name", "by-hand", "--type", "spread",
         "--label", "managed-by=hetzner-deploy", "--label", "project=autoscale-ai",
         "--label", "environment=production")
    _cli(deployed, "placement-group", "create", "--name", "someone-else", "--type", "spread",
         "--label", "managed-by=hetzner-deploy", "--label", "project=other",
         "--label", "environment=production")
    (finding,) = _drift(deployed, hcloud_client).findings
    assert finding.kind == "orphan" and "'by-hand'" in finding.detail
    assert finding.address == f"placement_groups/{_id(deployed, 'placement-group', 'by-hand')}"

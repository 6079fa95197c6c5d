"""Recovery hints work as printed: an orphan with a planned name is adopted, then deploy converges."""
import json
import re

import pytest

pytestmark = pytest.mark.e2e


def _flags(sb):
    return ("--stacks-dir", str(sb.stacks), "--config", str(sb.config))


def test_orphan_blocks_deploy_then_adopt_by_hint_and_converge(sb):
    client = sb.client()
    orphan = client.firewalls.create(name="autoscale-ai-production-firewall").firewall
    blocked = sb.cli("deploy", "--profile", "ccx33")
    assert blocked.returncode == 7, blocked.stdout + blocked.stderr
    text = blocked.stdout + blocked.stderr
    assert "autoscale-ai-production-firewall" in text
    hint = re.search(r"hetzner-deploy (adopt --env production hcloud_firewall\.main (\d+))", text)
    assert hint and int(hint.group(2)) == orphan.id, text
    assert "terraform import" not in text
    assert not (sb.workdir() / "terraform.tfstate").exists() or \
        "hcloud_firewall" not in (sb.workdir() / "terraform.tfstate").read_text()

    # Run the hint exactly as printed (it works from the sandbox's own work copy).
    adopted = sb.cli(*hint.group(1).split(), *_flags(sb))
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    assert f"adopted hcloud_firewall.main (id {orphan.id})" in adopted.stdout
    assert "hcloud_firewall" in (sb.workdir() / "terraform.tfstate").read_text()
    again = sb.cli(*hint.group(1).split(), *_flags(sb))
    assert again.returncode == 7 and "already in the state" in again.stderr

    done = sb.cli("deploy", "--profile", "ccx33")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 to create" in done.stdout   # the firewall is updated in place, not created
    assert json.loads(sb.cli("outputs", "--json").stdout)["hosts"][0]["firewall_id"] == orphan.id
    assert [f.id for f in client.firewalls.get_all(name="autoscale-ai-production-firewall")] \
        == [orphan.id]
    assert json.loads(sb.cli("plan", "--json").stdout)["has_changes"] is False


def test_adopt_without_arguments_finds_the_orphan(sb):
    client = sb.client()
    key = client.placement_groups.create(name="autoscale-ai-production-pg",
                                         type="spread").placement_group
    found = sb.cli("adopt", "--env", "production", *_flags(sb))
    assert found.returncode == 0, found.stdout + found.stderr
    assert f"as hcloud_placement_group.main (id {key.id})" in found.stdout
    none = sb.cli("adopt", "--env", "production", *_flags(sb))
    assert none.returncode == 0 and "no orphans" in none.stdout


@pytest.mark.parametrize("args,needle", [
    (("hcloud_firewall.nope", "5"), "is not in the production stack"),
    (("hcloud_firewall.main", "abc"), "a Hetzner resource id is a number"),
    (("hcloud_firewall.main",), "give both ADDRESS and ID"),
])
def test_adopt_bad_input_is_one_line(sb, args, needle):
    done = sb.cli("adopt", "--env", "production", *args, *_flags(sb))
    assert done.returncode in (2, 7) and needle in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 2


def test_uniqueness_error_at_apply_names_adopt_and_adopt_fixes_it(sb):
    # plan/apply run no preflight: the conflict surfaces as Hetzner's uniqueness_error.
    client = sb.client()
    key = client.ssh_keys.create(name="autoscale-ai-production-key",
                                 public_key=_test_key())
    assert sb.cli("plan").returncode == 0
    failed = sb.cli("apply", "--auto-approve")
    assert failed.returncode == 4, failed.stdout + failed.stderr
    error = [l for l in failed.stderr.splitlines() if l.startswith("error:")]
    assert len(error) == 1 and "uniqueness" in error[0]
    assert "hetzner-deploy adopt --env production" in error[0]
    assert not (sb.workdir() / ".work" / "plan.tfplan").exists()   # failed: not kept
    adopted = sb.cli("adopt", "--env", "production", *_flags(sb))
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    assert f"(id {key.id})" in adopted.stdout
    done = sb.cli("deploy", "--profile", "ccx33")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(sb.cli("outputs", "--json").stdout)["ssh_key_id"] == key.id   # kept


def _test_key() -> str:
    from tests.conftest import TEST_PUBLIC_KEY
    return " ".join(TEST_PUBLIC_KEY.split()[:2])   # as the stack embeds it: no comment

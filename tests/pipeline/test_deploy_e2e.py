"""The whole path in the sandbox: deploy, no-op, rescale in place, verify, destroy."""
import json

import pytest


pytestmark = pytest.mark.e2e


def _ok(done):
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def test_deploy_noop_rescale_verify_destroy(sb):
    first = _ok(sb.cli("deploy", "--profile", "ccx33"))
    assert "local sandbox" in first.stderr
    for phase in ("preflight", "generate", "infra", "outputs"):
        assert f"[{phase}] done" in first.stdout
    assert "profile ccx33 (--profile)" in first.stderr
    assert "6 to create" in first.stdout and "applied 6 resource(s)" in first.stdout
    assert sb.token not in first.stdout + first.stderr

    outputs = json.loads(_ok(sb.cli("outputs", "--json")).stdout)
    (host,) = outputs["hosts"]
    assert host["role"] == "all-in-one" and host["name"] == "autoscale-ai-production"
    assert f"all-in-one   autoscale-ai-production  {host['ipv4']}" in first.stdout
    client = sb.client()
    server = client.servers.get_by_id(host["id"])
    assert server.server_type.name == "ccx33"
    assert server.public_net.ipv4.ip == host["ipv4"]
    assert client.volumes.get_by_id(outputs["volume_id"]).server.id == host["id"]
    state = json.loads((sb.workdir() / "terraform.tfstate").read_text())

    # Second deploy with nothing changed: nothing planned, nothing applied, same state.
    second = _ok(sb.cli("deploy", "--profile", "ccx33"))
    assert "[infra] skipped" in second.stdout and "[outputs] skipped" in second.stdout
    assert "[generate] skipped" in second.stdout and "[preflight] skipped" in second.stdout
    assert json.loads((sb.workdir() / "terraform.tfstate").read_text())["serial"] == state["serial"]
    # ...and a real plan agrees there is nothing to do.
    assert json.loads(_ok(sb.cli("plan", "--json")).stdout)["has_changes"] is False

    # Rescale: regenerate as ccx43, the plan is an in-place update of the server only.
    _ok(sb.cli("generate", "--profile", "ccx43"))
    plan = json.loads(_ok(sb.cli("plan", "--json")).stdout)
    by = {c["address"]: c for c in plan["changes"]}
    assert {c["action"] for c in plan["changes"]} == {"update"}   # nothing replaced or deleted
    attrs = {a["name"]: (a["before"], a["after"]) for a in by["hcloud_server.main"]["attributes"]}
    assert attrs["server_type"] == ('"ccx33"', '"ccx43"')
    assert not any(a["forces_replacement"] for a in by["hcloud_server.main"]["attributes"])
    # Only the server carries the profile label: the volume and the rest are untouched.
    assert set(by) == {"hcloud_server.main"}
    assert plan["counts"]["replace"] == 0 and plan["counts"]["delete"] == 0
    assert float(plan["cost"]["delta_eur"]) > 0
    markdown = _ok(sb.cli("plan", "--markdown")).stdout
    assert "| update in place | `hcloud_server.main` |" in markdown and sb.token not in markdown
    # Text into a pipe: actions and counts from the plan's -json stream, no `show -json`.
    piped = _ok(sb.cli("plan"))
    assert "~ hcloud_server.main: update in place" in piped.stdout
    assert "server_type" not in piped.stdout and "Plan: 0 to create, 1 to update in place" in piped.stdout
    assert "attributes and cost are shown on a terminal" in piped.stderr

    applied = _ok(sb.cli("apply", "--auto-approve"))
    assert "hcloud_server.main" in applied.stdout
    server = client.servers.get_by_id(host["id"])
    assert server.server_type.name == "ccx43"          # same server, rescaled
    assert json.loads(_ok(sb.cli("outputs", "--json")).stdout)["volume_id"] == outputs["volume_id"]

    after = sb.cli("verify", "--after", "--profile", "ccx43", "--config", str(sb.config),
                   "--workdir", str(sb.workdir()))
    assert after.returncode == 0, after.stdout + after.stderr

    # Destroy: refused while the volume is protected, with the exact way out.
    refused = sb.cli("destroy", "--confirm", "production")
    assert refused.returncode == 7
    assert ("To destroy it too, on purpose, run: hetzner-deploy destroy --env production "
            "--confirm production --destroy-volume") in refused.stderr
    assert len(client.servers.get_all()) == 1          # nothing was destroyed
    _ok(sb.cli("destroy", "--confirm", "production", "--destroy-volume"))
    assert client.servers.get_all() == []
    assert client.volumes.get_all() == []
    assert client.firewalls.get_all() == []
    assert client.ssh_keys.get_all() == []
    logs = list((sb.workdir() / ".work" / "logs").glob("*.log"))
    assert logs and all(sb.token not in p.read_text() for p in logs)


def test_apply_refuses_stale_plan_and_replacement(sb):
    _ok(sb.cli("deploy", "--profile", "ccx33"))
    _ok(sb.cli("generate", "--profile", "ccx43"))
    _ok(sb.cli("plan"))
    _ok(sb.cli("generate", "--profile", "ccx33"))   # stack changes after the plan
    stale = sb.cli("apply", "--auto-approve")
    assert stale.returncode == 7 and "stale" in stale.stderr
    assert len(stale.stderr.strip().splitlines()) <= 3  # banner, note, one error line

    # A change that replaces the server (image) is refused, naming the attribute.
    main_tf = sb.stacks / "production" / "terraform.tfvars"
    main_tf.write_text(main_tf.read_text().replace('"ubuntu-22.04"', '"ubuntu-24.04"'))
    _ok(sb.cli("plan"))
    refused = sb.cli("apply", "--auto-approve")
    assert refused.returncode == 7
    assert "hcloud_server.main would be replaced because image changed" in refused.stderr
    assert "--allow-replace" in refused.stderr
    no_tty = sb.cli("apply")
    assert no_tty.returncode == 7


def test_preflight_blocker_stops_the_pipeline_before_terraform(sb):
    client = sb.client()
    from hcloud.images import Image
    from hcloud.server_types import ServerType
    # Someone already created a server with the name the stack wants.
    client.servers.create(name="autoscale-ai-production", server_type=ServerType(name="cpx12"),
                          image=Image(name="ubuntu-22.04"))
    stack = sb.stacks / "production"
    before = {p.name: p.read_bytes() for p in stack.iterdir()}
    done = sb.cli("deploy", "--profile", "ccx33")
    assert done.returncode == 7, done.stdout + done.stderr
    assert "[preflight] refused" in done.stdout
    # Preflight runs first: the (stale, for this config) stack is not even rewritten.
    assert "[generate]" not in done.stdout
    assert {p.name: p.read_bytes() for p in stack.iterdir()} == before
    assert "error: preflight found blockers" in done.stderr
    assert "[infra]" not in done.stdout
    assert client.volumes.get_all() == []                 # terraform never ran

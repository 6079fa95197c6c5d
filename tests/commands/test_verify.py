"""`hetzner-deploy verify` end to end through the CLI, against the API emulator."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import cli
from tests.checks.preflight_support import TOKEN, admin, api, closed_port, emu  # noqa: F401

# Each preflight also runs terraform (version, fmt) and git: not in-process.
pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def clock(fake_clock):
    return fake_clock


@pytest.fixture
def run(make_config, tmp_path, emu):
    config = make_config()
    env_file = tmp_path / ".env"
    env_file.write_text("APP_SECRET=x\n")
    env_file.chmod(0o600)

    def invoke(*args: str, token: str = TOKEN, endpoint: str | None = None):
        env = {"TARGET": "hetzner", "HCLOUD_TOKEN": token,
               "HCLOUD_ENDPOINT": endpoint or emu.url, "HCLOUD_TOKEN_CREATED": "2026-11-01"}
        result = CliRunner().invoke(cli, ["verify", "--config", str(config),
                                          "--workdir", str(tmp_path / "work"), *args], env=env)
        seen = result.stdout + result.stderr
        assert TOKEN not in seen and TOKEN[:12] not in seen   # never, not even partially
        # A clean exit is None or SystemExit; anything else escaped as a traceback.
        assert not isinstance(result.exception, Exception), repr(result.exception)
        return result
    return invoke


def test_empty_project_ready_exit_0(run):
    result = run()
    assert result.exit_code == 0, result.stdout + result.stderr
    out = result.stdout
    for title in ("Servers", "Volumes", "Firewalls", "SSH keys", "Networks", "Placement groups",
                  "Load balancers", "Floating IPs", "Certificates"):
        assert title in out
    assert out.count("empty") >= 9
    assert "Verdict: ready" in out
    assert "live prices from the API" in out
    assert "HCLOUD_TOKEN is set" in out


def test_json_has_the_same_data(run, emu):
    api(emu, "POST", "/ssh_keys", {"name": "laptop", "public_key":
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGSBTOuGpI4cwh0QLF7PGPP53H+ek31jwqP+zw+eJogx laptop"})
    result = run("--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["ready"] is True and doc["target"] == "hetzner"
    assert set(doc["inventory"]) == {"servers", "volumes", "firewalls", "ssh_keys", "networks",
                                     "placement_groups", "load_balancers", "floating_ips",
                                     "certificates"}
    assert doc["inventory"]["ssh_keys"] == {"count": 1, "names": ["laptop"], "status": "present"}
    assert doc["inventory"]["servers"]["status"] == "empty"
    assert doc["cost"]["live"] is True
    # The emulator's 2026 prices: ccx33 138.49 + 20% backups + 50 GB x 0.0572 + IPv4 0.50.
    assert doc["cost"]["estimate"]["total_monthly_eur"] == "169.55"
    assert isinstance(doc["api_latency_ms"], float)


def test_conflict_exit_1_with_numbered_actions(run, emu):
    api(emu, "POST", "/volumes", {"name": "autoscale-ai-production-data", "size": 10,
                                  "location": "nbg1"})
    result = run()
    assert result.exit_code == 1
    assert "Verdict: not ready" in result.stdout
    lines = result.stdout.splitlines()
    first = lines.index("Next actions:") + 1
    assert lines[first].startswith("  1. rename or delete the existing volume "
                                   "'autoscale-ai-production-data'")


def test_unavailable_type_exit_1(run, emu):
    admin(emu, "POST", "/_sandbox/availability",
          {"server_type": "ccx43", "location": "nbg1", "available": False})
    assert run("--profile", "ccx43").exit_code == 1
    assert run("--profile", "ccx33").exit_code == 0


def test_429_then_success_exit_0(run, emu, clock):
    admin(emu, "POST", "/_sandbox/faults", {"count": 2, "status": 429, "retry_after": 1})
    result = run("--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["ready"] is True
    assert clock.sleeps == [1.0, 1.0]     # each Retry-After honoured


def test_wrong_token_exit_5_one_line(run):
    result = run(token="not-the-token-7c1d")
    assert result.exit_code == 5
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert line.startswith("error: API check: API at 127.0.0.1:")
    assert line.endswith("rejected the token (401 unauthorized): check HCLOUD_TOKEN")
    assert "not-the-token-7c1d" not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_refused_connection_exit_5(run):
    result = run(endpoint=f"http://127.0.0.1:{closed_port()}/v1")
    assert result.exit_code == 5
    assert "connection refused" in result.stderr and "Traceback" not in result.stderr


def test_rate_limited_past_the_timeout_exit_5(run, emu):
    admin(emu, "POST", "/_sandbox/faults", {"count": 100, "status": 429, "retry_after": 300})
    result = run("--timeout", "3", "--json")
    assert result.exit_code == 5
    doc = json.loads(result.stdout)           # the report is still printed
    assert doc["ready"] is False and "time limit" in doc["api_error"]


def _hand_deploy(emu):
    key = api(emu, "POST", "/ssh_keys", {"name": "autoscale-ai-production-key", "public_key":
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILgabWgyYOwl5ML0xE+kLrdPGyD8UKpBGnsuY5uCPVi5 x"})
    fw = api(emu, "POST", "/firewalls", {"name": "autoscale-ai-production-firewall"})["firewall"]
    pg = api(emu, "POST", "/placement_groups", {"name": "autoscale-ai-production-pg",
                                                "type": "spread"})["placement_group"]
    server = api(emu, "POST", "/servers", {
        "name": "autoscale-ai-production", "server_type": "ccx33", "image": "ubuntu-22.04",
        "location": "nbg1", "ssh_keys": [key["ssh_key"]["id"]], "placement_group": pg["id"],
        "firewalls": [{"firewall": fw["id"]}]})["server"]
    vol = api(emu, "POST", "/volumes", {"name": "autoscale-ai-production-data", "size": 50,
                                        "server": server["id"], "automount": True,
                                        "format": "ext4"})["volume"]
    api(emu, "POST", f"/volumes/{vol['id']}/actions/change_protection", {"delete": True})
    api(emu, "POST", f"/servers/{server['id']}/actions/enable_backup", {})
    # The shape of `terraform output -json`.
    host = {"name": server["name"], "role": "all-in-one", "id": str(server["id"]),
            "ipv4": server["public_net"]["ipv4"]["ip"], "ipv6": "", "private_ip": "",
            "volume_device": vol["linux_device"], "firewall_id": str(fw["id"]),
            "placement_group_id": str(pg["id"])}
    values = {"hosts": [host], "volume_id": vol["id"], "ssh_key_id": key["ssh_key"]["id"]}
    return {k: {"value": v, "type": "string", "sensitive": False} for k, v in values.items()}


def test_after_with_outputs_file(run, emu, tmp_path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(_hand_deploy(emu)))
    result = run("--after", "--outputs", str(outputs), "--json")
    assert result.exit_code == 0, result.stdout
    doc = json.loads(result.stdout)
    status = {c["name"]: c["status"] for c in doc["checks"]}
    assert status["Server running"] == "ok" and status["Backups enabled"] == "ok"
    assert status["Containers healthy"] == "not-checked"
    assert status["HTTPS certificate valid"] == "not-checked"
    assert doc["inventory"] is None and doc["mode"] == "after"
    human = run("--after", "--outputs", str(outputs))
    assert "not checked" in human.stdout and "After deploy" in human.stdout


def test_after_without_any_outputs_is_a_config_error(run):
    result = run("--after")
    assert result.exit_code == 2
    assert "deploy this environment first" in result.stderr


def test_bad_outputs_file_is_a_config_error(run, tmp_path):
    bad = tmp_path / "o.json"
    bad.write_text("{nope")
    result = run("--after", "--outputs", str(bad))
    assert result.exit_code == 2 and "not JSON" in result.stderr
    assert run("--after", "--outputs", str(tmp_path / "missing.json")).exit_code == 2


def test_token_never_appears_in_any_output(run, emu, tmp_path):
    """Every path that prints: human, --json, --after, an API error, a blocked verdict."""
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(_hand_deploy(emu)))
    results = [run(), run("--json"), run("--after", "--outputs", str(outputs)),
               run("--after", "--outputs", str(outputs), "--json")]
    admin(emu, "POST", "/_sandbox/faults", {"count": 100, "status": 503})
    results.append(run("--timeout", "2"))
    results.append(run("--timeout", "2", "--json"))
    assert [r.exit_code for r in results] == [1, 1, 0, 0, 5, 5]   # hand-made names conflict
    for r in results:
        for text in (r.stdout, r.stderr, r.output):
            assert TOKEN not in text and TOKEN[:8] not in text and TOKEN[-8:] not in text


def test_check_details_print_as_written_not_as_rich_markup():
    # "[backup]" in a detail is a deploy.toml section, not a style tag to swallow.
    import io

    from rich.console import Console

    from checks.base import NOT_CHECKED, Check
    from checks.preflight import VerifyReport
    from commands.verify import render
    report = VerifyReport("after", "sandbox", "127.0.0.1", "ccx33", "production", "nbg1",
                          (Check("after", "Backups [x]", NOT_CHECKED, "no [backup] in deploy.toml"),))
    out = io.StringIO()
    render(report, Console(file=out, width=200))
    assert "no [backup] in deploy.toml" in out.getvalue()
    assert "Backups [x]" in out.getvalue()

"""Which cloud a run talks to: sandbox without a token, Hetzner with one."""
import pytest

from errors import ConfigError
from pipeline.target import HETZNER_ENDPOINT, resolve_target


def test_token_means_hetzner_and_the_token_goes_to_terraform_only_as_a_variable(tmp_path):
    rc = tmp_path / "terraform.rc"
    rc.write_text("")
    target = resolve_target({"HCLOUD_TOKEN": "tok-123", "TF_CLI_CONFIG_FILE": str(rc)})
    assert target.kind == "hetzner" and target.endpoint == HETZNER_ENDPOINT
    assert target.terraform_env["TF_VAR_hcloud_token"] == "tok-123"
    assert target.terraform_env["TF_CLI_CONFIG_FILE"] == str(rc)
    assert "tok-123" not in repr(target)


def test_missing_cli_config_is_replaced_by_dev_null():
    target = resolve_target({"HCLOUD_TOKEN": "t", "TF_CLI_CONFIG_FILE": "/nonexistent/rc"})
    assert target.terraform_env["TF_CLI_CONFIG_FILE"] == "/dev/null"


@pytest.mark.parametrize("environ,needle", [
    ({"TARGET": "hetzner"}, "TARGET=hetzner needs HCLOUD_TOKEN"),
    ({"TARGET": "aws"}, "TARGET must be 'sandbox' or 'hetzner'"),
])
def test_bad_target_is_one_line(environ, needle):
    with pytest.raises(ConfigError, match=needle):
        resolve_target(environ)


@pytest.mark.parametrize("token", ["", " ", "\t\n", "   "])
def test_blank_token_is_an_error_not_a_real_target(token):
    with pytest.raises(ConfigError, match="HCLOUD_TOKEN is set but blank"):
        resolve_target({"HCLOUD_TOKEN": token})


def test_token_with_a_line_break_is_an_error():
    with pytest.raises(ConfigError, match="contains whitespace"):
        resolve_target({"HCLOUD_TOKEN": "abc\n"})


@pytest.mark.parametrize("endpoint,local", [
    ("http://127.0.0.1:8080/v1", True), ("http://127.5.6.7/v1", True),
    ("http://localhost:1/v1", True), ("http://[::1]:9/v1", True),
    ("https://api.hetzner.cloud/v1", False), ("http://10.0.0.1/v1", False),
    ("http://127.0.0.1.example.com/v1", False), ("not a url", False),
])
def test_loopback_detection(endpoint, local):
    from pipeline.target import is_loopback
    assert is_loopback(endpoint) is local


class _Info:
    def __init__(self, tmp_path, endpoint="http://127.0.0.1:4567/v1"):
        self.endpoint, self.token = endpoint, "sandbox-token-1234"
        self.cli_config_file = tmp_path / "terraform.rc"
        self.namecheap_endpoint, self.dns_server = "http://127.0.0.1:4568/xml.response", "127.0.0.1:4569"


@pytest.fixture
def fake_sandbox(tmp_path, monkeypatch):
    from sandbox import manager
    info = _Info(tmp_path)
    monkeypatch.setattr(manager, "up", lambda *a, **k: info)
    monkeypatch.setattr(manager, "status", lambda *a, **k: info)
    return info


def test_sandbox_env_output_is_the_sandbox_not_a_real_target(fake_sandbox):
    # What `eval "$(hetzner-deploy sandbox env)"` leaves in a shell.
    environ = {"HCLOUD_TOKEN": fake_sandbox.token, "HCLOUD_ENDPOINT": fake_sandbox.endpoint,
               "HETZNER_DEPLOY_SANDBOX": "/x/.sandbox",
               "TF_CLI_CONFIG_FILE": str(fake_sandbox.cli_config_file)}
    target = resolve_target(environ)
    assert target.kind == "sandbox" and target.endpoint == fake_sandbox.endpoint
    # A loopback endpoint alone (an old shell without the marker) is the sandbox too.
    del environ["HETZNER_DEPLOY_SANDBOX"]
    assert resolve_target(environ).kind == "sandbox"


def test_marker_with_target_hetzner_is_a_contradiction(fake_sandbox):
    with pytest.raises(ConfigError, match="HETZNER_DEPLOY_SANDBOX says this shell"):
        resolve_target({"TARGET": "hetzner", "HCLOUD_TOKEN": "t",
                        "HETZNER_DEPLOY_SANDBOX": "1", "HCLOUD_ENDPOINT": fake_sandbox.endpoint})


def test_local_endpoint_that_is_not_the_running_sandbox_is_refused(fake_sandbox):
    with pytest.raises(ConfigError, match="the sandbox runs at"):
        resolve_target({"HCLOUD_TOKEN": "t", "HCLOUD_ENDPOINT": "http://127.0.0.1:1/v1"})


def test_fingerprint_differs_per_token_and_never_holds_it():
    a = resolve_target({"HCLOUD_TOKEN": "project-a-token"})
    b = resolve_target({"HCLOUD_TOKEN": "project-b-token"})
    assert a.endpoint == b.endpoint and a.fingerprint != b.fingerprint
    assert a.fingerprint == resolve_target({"HCLOUD_TOKEN": "project-a-token"}).fingerprint
    assert "project-a-token" not in a.fingerprint


def test_sandbox_work_dir_inside_the_stacks_folder_is_refused(tmp_path):
    from runner.workspace import workspace_for
    stacks = tmp_path / "stacks"
    (stacks / "production").mkdir(parents=True)
    (stacks / "production" / "main.tf").write_text("")
    with pytest.raises(ConfigError, match="inside the stack folder"):
        workspace_for("sandbox", "production", stacks_dir=stacks, sandbox_dir=stacks)
    with pytest.raises(ConfigError, match="inside the stack folder"):
        workspace_for("sandbox", "production", stacks_dir=stacks,
                      sandbox_dir=stacks / "production")
    ws = workspace_for("sandbox", "production", stacks_dir=stacks, sandbox_dir=tmp_path / "sb")
    assert ws.is_copy


def test_target_hetzner_on_a_local_endpoint_never_works_in_the_committed_stack():
    from runner.workspace import STACKS, refuse_committed_for_local_endpoint, workspace_for
    ws = workspace_for("hetzner", "production")
    assert ws.workdir == STACKS / "production"
    with pytest.raises(ConfigError, match="committed"):
        refuse_committed_for_local_endpoint(ws, "http://127.0.0.1:9/v1")
    refuse_committed_for_local_endpoint(ws, "https://api.hetzner.cloud/v1")   # the real API: fine


@pytest.mark.parametrize("command", ["plan", "deploy", "adopt"])
def test_blank_token_through_the_cli_is_one_line_exit_2(command, monkeypatch, make_config):
    from click.testing import CliRunner
    from cli import cli
    monkeypatch.setenv("HCLOUD_TOKEN", "  ")
    monkeypatch.delenv("TARGET", raising=False)
    result = CliRunner().invoke(cli, [command, "--config", str(make_config())])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith("error: HCLOUD_TOKEN is set but blank")
    assert "Traceback" not in result.output


def test_real_target_with_the_sandboxs_cli_config_is_refused(tmp_path):
    sandbox = tmp_path / ".sandbox"
    (sandbox / "mirror").mkdir(parents=True)
    rc = sandbox / "terraform.rc"
    rc.write_text(f'provider_installation {{\n  filesystem_mirror {{\n'
                  f'    path = "{sandbox / "mirror"}"\n  }}\n}}\n')
    environ = {"HCLOUD_TOKEN": "real-token", "TF_CLI_CONFIG_FILE": str(rc),
               "HETZNER_DEPLOY_SANDBOX_DIR": str(sandbox)}
    with pytest.raises(ConfigError, match="is the sandbox's"):
        resolve_target(environ)
    elsewhere = tmp_path / "copy.rc"                       # a copy outside still names the mirror
    elsewhere.write_text(rc.read_text())
    with pytest.raises(ConfigError, match="is the sandbox's"):
        resolve_target({**environ, "TF_CLI_CONFIG_FILE": str(elsewhere)})

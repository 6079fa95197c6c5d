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

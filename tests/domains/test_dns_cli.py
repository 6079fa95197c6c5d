"""`dns restore` through the CLI against the emulator; credentials only from the environment."""
from __future__ import annotations

from click.testing import CliRunner

from cli import cli
from domains.zone_ops import apply_zone, desired_records
from tests.conftest import BASE_TOML
from tests.domains.conftest import DOMAIN


def _env(nc):
    s = nc.state
    return {"NAMECHEAP_API_USER": s.api_user, "NAMECHEAP_API_KEY": s.api_key,
            "NAMECHEAP_USERNAME": s.username, "NAMECHEAP_CLIENT_IP": "127.0.0.1"}


def test_restore_through_the_cli(nc, client, make_config, tmp_path):
    before = client.get_hosts(DOMAIN)
    done = apply_zone(client, DOMAIN, desired_records(DOMAIN, ("@",), "198.51.100.9", None, 300),
                      tmp_path / "backups")
    config = make_config(BASE_TOML + f'\n[dns]\nendpoint = "{nc.url}"\n')
    args = ["dns", "restore", "--from", str(done.backup), "--config", str(config)]
    refused = CliRunner().invoke(cli, args, env=_env(nc))
    assert refused.exit_code == 7 and "--auto-approve" in refused.stderr
    result = CliRunner().invoke(cli, [*args, "--auto-approve"], env=_env(nc))
    assert result.exit_code == 0, result.output
    assert sorted(h.identity() for h in client.get_hosts(DOMAIN).hosts) == sorted(
        h.identity() for h in before.hosts)
    assert nc.state.api_key not in result.output


def test_missing_credentials_and_bad_backup_are_one_line(nc, make_config, tmp_path):
    config = make_config(BASE_TOML + f'\n[dns]\nendpoint = "{nc.url}"\n')
    bad = tmp_path / "zone.json"
    bad.write_text("{not json")
    result = CliRunner().invoke(cli, ["dns", "restore", "--from", str(bad), "--config",
                                      str(config), "--auto-approve"], env=_env(nc))
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "not a zone backup" in result.stderr
    good = tmp_path / "good.json"
    good.write_text('{"domain": "%s", "email_type": "MX", "hosts": []}' % DOMAIN)
    nocreds = CliRunner().invoke(cli, ["dns", "restore", "--from", str(good), "--config",
                                       str(config), "--auto-approve"],
                                 # no sandbox either: a user's running one would be the target
                                 env={**{k: "" for k in _env(nc)},
                                      "HETZNER_DEPLOY_SANDBOX_DIR": str(tmp_path / "no-sandbox")})
    assert nocreds.exit_code == 2 and "NAMECHEAP_API_USER" in nocreds.stderr


def test_dns_apply_is_refused_when_hetzner_holds_the_records(nc, client, make_config):
    config = make_config(BASE_TOML + f'\n[dns]\nprovider = "hetzner"\nendpoint = "{nc.url}"\n')
    before = sorted(h.identity() for h in client.get_hosts(DOMAIN).hosts)
    result = CliRunner().invoke(cli, ["dns", "apply", "--config", str(config), "--auto-approve"],
                                env=_env(nc))
    assert result.exit_code == 7 and result.stderr.count("\n") == 1
    assert "dns.tf" in result.stderr
    assert sorted(h.identity() for h in client.get_hosts(DOMAIN).hosts) == before

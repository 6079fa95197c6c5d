"""[app] in deploy.toml: shapes checked at load, the .env checked (0600) only when read."""
from __future__ import annotations

import os

import pytest

from errors import ConfigError
from generator.config import load_config
from tests.conftest import BASE_TOML

APP = """
[app]
compose = "app/compose.yaml"
env_file = "app/.env"
"""


def write_app(tmp_path, env_mode=0o600):
    (tmp_path / "app").mkdir(exist_ok=True)
    (tmp_path / "app" / "compose.yaml").write_text("services: {}\n")
    env = tmp_path / "app" / ".env"
    env.write_text("SECRET=hunter2\n")
    os.chmod(env, env_mode)
    return env


def test_defaults(make_config, tmp_path):
    config = load_config(make_config(BASE_TOML + APP))
    app = config.app
    assert app.compose == tmp_path / "app" / "compose.yaml"
    assert app.env_file == tmp_path / "app" / ".env"
    assert (app.health_path, app.health_port, app.health_timeout_s, app.keep) == ("/health", 80, 120, 5)
    assert app.smoke == () and app.image_source == "pull"


def test_no_section_means_no_app(make_config):
    assert load_config(make_config()).app is None


def test_loading_never_needs_the_env_file(make_config):
    # `cost` or `plan` in CI must work without the app's secrets on the machine.
    assert load_config(make_config(BASE_TOML + APP)).app is not None


def test_env_must_be_owner_only(make_config, tmp_path):
    config = load_config(make_config(BASE_TOML + APP))
    write_app(tmp_path, 0o644)
    with pytest.raises(ConfigError) as info:
        config.app.env_bytes()
    assert "app.env_file:" in str(info.value) and "mode 0644" in str(info.value)
    assert "hunter2" not in str(info.value)
    os.chmod(tmp_path / "app" / ".env", 0o600)
    assert config.app.env_bytes() == b"SECRET=hunter2\n"
    assert config.app.compose_bytes() == b"services: {}\n"


def test_missing_files_name_their_key(make_config):
    config = load_config(make_config(BASE_TOML + APP))
    with pytest.raises(ConfigError, match=r"^app.env_file: file not found: .*\(create it with mode 0600\)"):
        config.app.env_bytes()
    with pytest.raises(ConfigError, match=r"^app.compose: file not found"):
        config.app.compose_bytes()


def test_smoke_commands_are_argv_lists(make_config):
    config = load_config(make_config(BASE_TOML + APP + 'smoke = [["curl", "-fsS", "http://127.0.0.1/health"]]\n'))
    assert config.app.smoke == (("curl", "-fsS", "http://127.0.0.1/health"),)


@pytest.mark.parametrize("extra, says", [
    ('smoke = ["curl -fsS http://x/ | sh"]\n', "app.smoke: command 1 must be a non-empty argv list"),
    ('smoke = [[]]\n', "app.smoke: command 1 must be a non-empty argv list"),
    ('keep = 0\n', "app.keep: must be between 1 and 50 releases (got 0)"),
    ('health_path = "health"\n', "app.health_path: must be a URL path like /health"),
    ('health_timeout_s = "60"\n', "app.health_timeout_s"),
    ('image_source = "build"\n', 'image_source = "build" needs repo, deploy_key and repo_host_key'),
    ('image_source = "build"\nrepo = "git@github.com:t/a.git"\ndeploy_key = "k"\n',
     "needs repo, deploy_key and repo_host_key"),
    ('ref = "--upload-pack=x"\n', "app.ref"),
    ('repo_host_key = "github.com ssh-ed25519 AAAA\\nevil"\n', "app.repo_host_key"),
    ('repo_host_key = "github.com ssh-dss AAAAC3NzaC1lZDI1NTE5AAAAIOMq"\n', "app.repo_host_key"),
    ('image_source = "docker"\n', "app.image_source"),
    ('colour = "blue"\n', "unknown key app.colour"),
])
def test_bad_values_are_one_line(make_config, extra, says):
    with pytest.raises(ConfigError) as info:
        load_config(make_config(BASE_TOML + APP + extra))
    assert says in str(info.value)
    assert "\n" not in str(info.value)


def test_a_missing_required_key(make_config):
    with pytest.raises(ConfigError, match="missing required key app.env_file"):
        load_config(make_config(BASE_TOML + '[app]\ncompose = "c.yaml"\n'))


def test_build_from_git(make_config, tmp_path):
    config = load_config(make_config(BASE_TOML + APP + 'image_source = "build"\n'
                                     'repo = "git@github.com:team/app.git"\nref = "v1.2"\n'
                                     'deploy_key = "keys/deploy"\n'
                                     'repo_host_key = "github.com ssh-ed25519 '
                                     'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"\n'))
    assert config.app.repo == "git@github.com:team/app.git" and config.app.ref == "v1.2"
    assert config.app.deploy_key == tmp_path / "keys" / "deploy"


def test_a_committed_env_is_refused(make_config, tmp_path):
    import subprocess
    config = load_config(make_config(BASE_TOML + APP))
    write_app(tmp_path)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert config.app.env_bytes() == b"SECRET=hunter2\n"      # untracked: fine
    subprocess.run(["git", "-C", str(tmp_path), "add", "-f", "app/.env"], check=True)
    with pytest.raises(ConfigError, match=r"app.env_file: .* is tracked by git; remove it"):
        config.app.env_bytes()


def test_app_files_are_plain_relative_paths_read_beside_the_compose_file(make_config, tmp_path):
    write_app(tmp_path)
    (tmp_path / "app" / "backend").mkdir()
    (tmp_path / "app" / "backend" / "app.py").write_text("print('hi')\n")
    config = load_config(make_config(BASE_TOML + APP + 'files = ["backend/app.py"]\n'))
    assert config.app.files == ("backend/app.py",)
    assert config.app.files_bytes() == (("backend/app.py", b"print('hi')\n"),)
    for bad in ('["../secret"]', '["/etc/passwd"]', '[".env"]', '["a//b"]', '["a", "a"]',
                '"backend/app.py"', '["a b"]'):
        with pytest.raises(ConfigError, match="app.files"):
            load_config(make_config(BASE_TOML + APP + f"files = {bad}\n"))
    config = load_config(make_config(BASE_TOML + APP + 'files = ["backend/gone.py"]\n'))
    with pytest.raises(ConfigError, match="app.files: file not found"):
        config.app.files_bytes()

"""The exact argv of every remote command (Kamal-style): a change here is a reviewed change."""
from __future__ import annotations

import pytest

from errors import ConfigError
from remote import commands as c

P, R = "autoscale-ai", "3f2a9c1b7d4e"
DIR = f"/opt/{P}/releases/{R}"
COMPOSE = ["docker", "compose", "--project-name", P, "--project-directory", DIR,
           "--file", f"{DIR}/compose.yaml", "--env-file", f"{DIR}/.env"]


def test_paths():
    assert str(c.app_root(P)) == "/opt/autoscale-ai"
    assert str(c.release_dir(P, R)) == DIR
    assert str(c.current_link(P)) == "/opt/autoscale-ai/current"


def test_release_folder_and_lock():
    assert c.make_release_dir(P, R) == ["mkdir", "-p", "-m", "0700", DIR]
    assert c.take_lock(P) == ["mkdir", "-m", "0700", "/opt/autoscale-ai/.deploy-lock"]
    assert c.read_lock(P) == ["cat", "--", "/opt/autoscale-ai/.deploy-lock/owner"]
    assert c.release_lock(P) == ["rm", "-rf", "--", "/opt/autoscale-ai/.deploy-lock"]


def test_compose_commands():
    assert c.compose_up(P, R) == [*COMPOSE, "up", "--detach", "--remove-orphans"]
    assert c.compose_container_ids(P, R) == [*COMPOSE, "ps", "--quiet"]
    assert c.compose_logs(P, R, 20) == [*COMPOSE, "logs", "--no-color", "--tail", "20"]


def test_inspect():
    assert c.inspect_state(["abc", "def"]) == [
        "docker", "inspect", "--format",
        "{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}}",
        "--", "abc", "def"]


def test_inspect_services_for_the_db_gate():
    assert c.inspect_services(["abc"]) == [
        "docker", "inspect", "--format",
        '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} '
        '{{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}}', "--", "abc"]


def test_switch_current_is_a_rename():
    assert c.switch_current(P, R) == [
        ["ln", "-sfn", f"releases/{R}", "/opt/autoscale-ai/.current.tmp"],
        ["mv", "-T", "--", "/opt/autoscale-ai/.current.tmp", "/opt/autoscale-ai/current"]]
    assert c.read_current(P) == ["readlink", "--", "/opt/autoscale-ai/current"]


def test_probe_is_one_constant_script_with_every_path_as_a_parameter():
    assert c.probe(P) == [
        "sh", "-c", c.PROBE_SCRIPT, "probe", "/var/lib/cloud/instance/boot-finished",
        "/opt/autoscale-ai/.deploy-lock", "/opt/autoscale-ai/current",
        "/opt/autoscale-ai/current/compose.yaml", "/opt/autoscale-ai/current/.env",
        "docker", "ps", "--quiet", "--filter", "status=running",
        "--filter", "label=com.docker.compose.project=autoscale-ai"]
    # The script names no path and no project: those reach it only as $1..$5 and "$@".
    assert "/" not in c.PROBE_SCRIPT.replace("/dev/null", "") and P not in c.PROBE_SCRIPT


def test_listing_pruning_and_env_mode():
    assert c.list_releases(P) == ["find", "/opt/autoscale-ai/releases", "-mindepth", "2",
                                  "-maxdepth", "2", "-name", ".hetzner-deploy-release",
                                  "-printf", "%h\\n"]
    assert c.remove_release(P, R) == ["rm", "-rf", "--", DIR]
    assert c.env_mode(P) == ["stat", "-L", "-c", "%a %U", "--", "/opt/autoscale-ai/current/.env"]


@pytest.mark.parametrize("bad", ["..", "../x", "a/b", "", "A", "x y", "-rf"])
def test_names_cannot_leave_their_folder(bad):
    with pytest.raises(ConfigError):
        c.release_dir(P, bad)
    with pytest.raises(ConfigError):
        c.app_root(bad)


def test_boot_finished():
    assert c.boot_finished() == ["test", "-e", "/var/lib/cloud/instance/boot-finished"]


def test_running_containers():
    assert c.running_containers(P) == ["docker", "ps", "--quiet", "--filter", "status=running",
                                       "--filter", "label=com.docker.compose.project=autoscale-ai"]


def test_app_root_and_marker():
    assert c.make_app_root(P) == ["mkdir", "-p", "-m", "0700", "/opt/autoscale-ai"]
    assert c.read_marker(P, R) == ["cat", "--", f"{DIR}/.hetzner-deploy-release"]


def test_app_files_go_below_the_release_as_plain_paths():
    assert str(c.release_file(P, R, "backend/app.py")) == f"{DIR}/backend/app.py"
    assert c.make_release_subdir(P, R, "backend/app.py") == ["mkdir", "-p", "-m", "0755",
                                                             f"{DIR}/backend"]
    for bad in ("../etc/passwd", "/etc/passwd", "a//b", "a/../b", ".env", "a/.ssh/x", "", "a b",
                "a/b\n"):
        with pytest.raises(ValueError):
            c.release_file(P, R, bad)


def test_a_trailing_newline_is_not_a_safe_name():
    with pytest.raises(ConfigError):
        c.release_dir(P, R + "\n")
    assert not c.is_release_name(R + "\n") and c.is_release_name(R)


# --- building from git -------------------------------------------------------------------
GSC = ("GIT_SSH_COMMAND=ssh -i /opt/shop/git/deploy_key -o IdentitiesOnly=yes -o BatchMode=yes "
       "-o StrictHostKeyChecking=yes -o UserKnownHostsFile=/opt/shop/git/known_hosts")


def test_git_commands_are_exact_argv_lists():
    from remote import commands as c
    repo, sha = "git@github.com:team/app.git", "0123456789abcdef0123456789abcdef01234567"
    assert c.make_git_dir("shop") == ["mkdir", "-p", "-m", "0700", "/opt/shop/git"]
    assert c.git_ls_remote("shop", repo, "main") == [
        "env", GSC, "GIT_TERMINAL_PROMPT=0", "git", "ls-remote", "--exit-code", repo, "main"]
    assert c.git_fetch("shop", "abc123", repo, "v1.2") == [
        ["git", "init", "--quiet", "/opt/shop/releases/abc123/src"],
        ["env", GSC, "GIT_TERMINAL_PROMPT=0", "git", "-C", "/opt/shop/releases/abc123/src",
         "fetch", "--quiet", "--depth", "1", repo, "v1.2"]]
    assert c.git_checkout("shop", "abc123", sha) == [
        "git", "-C", "/opt/shop/releases/abc123/src", "-c", "advice.detachedHead=false",
        "checkout", "--quiet", "--detach", sha]
    assert c.has_source("shop", "abc123") == ["test", "-d", "/opt/shop/releases/abc123/src"]
    assert c.compose_build("shop", "abc123")[-1] == "build"


@pytest.mark.parametrize("repo, ref", [
    ("--upload-pack=touch /tmp/x", "main"), ("git@github.com:t/a.git", "-x"),
    ("git@github.com:t/a.git", "main\n"), ("git@github.com:t/a.git", "a/../b"),
    ("file:///etc", "main"), ("git@github.com:t/a.git; rm -rf /", "main")])
def test_git_commands_refuse_values_that_could_be_options_or_shell(repo, ref):
    from errors import ConfigError
    from remote import commands as c
    with pytest.raises(ConfigError):
        c.git_ls_remote("shop", repo, ref)
    with pytest.raises(ConfigError):
        c.git_fetch("shop", "abc123", repo, ref)


def test_a_checkout_names_a_full_commit_only():
    from remote import commands as c
    with pytest.raises(ValueError):
        c.git_checkout("shop", "abc123", "main")

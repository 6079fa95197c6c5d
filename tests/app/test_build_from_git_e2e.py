"""[app] image_source = "build" on a sandbox machine: the server clones with the deploy key and builds.

The git host is a real OpenSSH sshd on the sandbox bridge's host address (only the
machines reach it), serving a bare repository through git-shell to one key: the
deploy key. Its host key is pinned in [app] repo_host_key. The Dockerfile builds
FROM the sandbox's local python image (no registry). A new commit on the branch
is a new release; nothing new is a no-op; a rollback rebuilds the previous
release from its own source, so the old code answers again.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request

import asyncssh
import pytest

from tests.pipeline import sandbox_env

pytestmark = pytest.mark.e2e

RANGE = os.environ.get("HD_TEST_MACHINE_RANGE", "198.18.77.0/24")
HOST_IP = RANGE.rsplit(".", 1)[0] + ".1"
SERVER_IP = RANGE.rsplit(".", 1)[0] + ".2"
APP = """import http.server, json
VERSION = {version!r}
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({{"version": VERSION}}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8000), H).serve_forever()
"""
DOCKERFILE = 'FROM sandbox/python\nCOPY app.py /app.py\nCMD ["python3", "/app.py"]\n'
COMPOSE = """version: "2.4"
services:
  web:
    build: ./src
    image: hd-build-test-web
    init: true
    ports: ["80:8000"]
"""


def _git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})


def _commit(work, version):
    (work / "app.py").write_text(APP.format(version=version))
    _git("add", "-A", cwd=work)
    _git("commit", "-q", "-m", version, cwd=work)
    _git("push", "-q", "origin", "HEAD:main", cwd=work)


def _version() -> str:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://{SERVER_IP}/health", timeout=3) as r:
                return json.loads(r.read())["version"]
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _private_key(path):
    """An ed25519 key, its private half at `path` (0600); returns the public "type base64"."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    path.write_bytes(key.export_private_key())
    os.chmod(path, 0o600)
    return " ".join(key.export_public_key().decode().split()[:2])


@pytest.fixture
def git_sb(tmp_path, make_config, monkeypatch):
    public = sandbox_env.login_key(tmp_path)
    (tmp_path / "keys").mkdir(mode=0o700)
    deploy_public = _private_key(tmp_path / "keys" / "deploy")
    git_host_public = _private_key(tmp_path / "git_host_key")

    repo, work = tmp_path / "repo.git", tmp_path / "work"
    _git("init", "-q", "--bare", "-b", "main", str(repo), cwd=tmp_path)
    _git("clone", "-q", str(repo), str(work), cwd=tmp_path)
    (work / "Dockerfile").write_text(DOCKERFILE)
    _commit(work, "v1")

    app = tmp_path / "app"
    app.mkdir()
    (app / "compose.yaml").write_text(COMPOSE)
    (app / ".env").write_text("PROJECT=build\n")
    os.chmod(app / ".env", 0o600)
    url = f"ssh://root@{HOST_IP}:2222{repo}"
    config = make_config(sandbox_env.machines_toml(
        RANGE, '\n[app]\ncompose = "app/compose.yaml"\nenv_file = "app/.env"\n'
        f'image_source = "build"\nrepo = "{url}"\nref = "main"\ndeploy_key = "keys/deploy"\n'
        f'repo_host_key = "[{HOST_IP}]:2222 {git_host_public}"\n'), key=public)
    with sandbox_env.machines_sandbox(tmp_path, config, monkeypatch, RANGE, ["python"]) as (box, _):
        # The git host: only the deploy key may log in, and only to git-shell.
        (tmp_path / "authorized_keys").write_text(
            'command="git-shell -c \\"$SSH_ORIGINAL_COMMAND\\"",no-port-forwarding,'
            f'no-agent-forwarding,no-pty {deploy_public}\n')
        (tmp_path / "sshd_config").write_text(
            f"ListenAddress {HOST_IP}:2222\nHostKey {tmp_path / 'git_host_key'}\n"
            f"PidFile {tmp_path / 'sshd.pid'}\nAuthorizedKeysFile {tmp_path / 'authorized_keys'}\n"
            "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n")
        os.makedirs("/run/sshd", exist_ok=True)
        with open(tmp_path / "sshd.log", "wb") as log:
            sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f",
                                     str(tmp_path / "sshd_config")],
                                    stdout=subprocess.DEVNULL, stderr=log)
        try:
            yield box, work, tmp_path
        finally:
            sshd.terminate()
            sshd.wait(10)


_ok = sandbox_env.ok


def test_the_server_builds_each_commit_and_a_rollback_rebuilds_the_old_one(git_sb):
    sb, work, tmp_path = git_sb
    where = ["--config", str(sb.config), "--stacks-dir", str(sb.stacks)]
    _ok(sb.cli("generate", "--profile", "ccx33"))
    first = _ok(sb.cli("deploy", "--profile", "ccx33", timeout=600))
    assert "[app] done: autoscale-ai-production deployed" in first.stdout, first.stdout
    assert _version() == "v1"

    same = _ok(sb.cli("deploy", "--profile", "ccx33", timeout=600))
    assert "unchanged" in same.stdout, same.stdout

    _commit(work, "v2")
    second = _ok(sb.cli("app", "deploy", *where, timeout=600))
    assert "live at" in second.stdout, second.stdout
    assert _version() == "v2"

    back = _ok(sb.cli("app", "rollback", *where, timeout=600))
    assert "rolled back" in back.stdout, back.stdout
    assert _version() == "v1"

    # The deploy key went to the server it is for, 0600, and nowhere else in our output.
    secret = (tmp_path / "keys" / "deploy").read_text()
    body = secret.splitlines()[1]
    for done in (first, same, second, back):
        assert body not in done.stdout + done.stderr

import os
from pathlib import Path

import pytest

from errors import ConfigError
from runner.workspace import (LOCK_FILE, backend_kind, stack_hash, sync_copy, workspace_for)


def _stack(root: Path, env: str = "production") -> Path:
    d = root / "stacks" / env
    d.mkdir(parents=True)
    (d / "main.tf").write_text('resource "terraform_data" "a" {}\n')
    (d / "terraform.tfvars").write_text('x = "1"\n')
    (d / "user-data.yaml").write_text("#cloud-config\n")
    (d / LOCK_FILE).write_text("# the real provider's hashes\n")
    return root / "stacks"


def test_sandbox_and_real_target_never_share_a_directory(tmp_path):
    stacks = _stack(tmp_path)
    sandbox = workspace_for("sandbox", "production", stacks_dir=stacks, sandbox_dir=tmp_path / "sb")
    real = workspace_for("hetzner", "production", stacks_dir=stacks)
    assert sandbox.workdir == tmp_path / "sb" / "work" / "production" and sandbox.is_copy
    assert real.workdir == stacks / "production" and not real.is_copy
    assert sandbox.data_dir != real.data_dir and sandbox.planfile != real.planfile


def test_sandbox_dir_from_environment(tmp_path, monkeypatch):
    stacks = _stack(tmp_path)
    monkeypatch.setenv("HETZNER_DEPLOY_SANDBOX_DIR", str(tmp_path / "elsewhere"))
    ws = workspace_for("sandbox", "production", stacks_dir=stacks)
    assert ws.workdir == tmp_path / "elsewhere" / "work" / "production"


@pytest.mark.parametrize("env", ["Prod", "../x", "", "a b"])
def test_bad_env_names(tmp_path, env):
    with pytest.raises(ConfigError):
        workspace_for("hetzner", env, stacks_dir=_stack(tmp_path))


def test_missing_stack_says_how_to_make_it(tmp_path):
    with pytest.raises(ConfigError, match="hetzner-deploy generate --env staging"):
        workspace_for("hetzner", "staging", stacks_dir=tmp_path)


def test_sync_copies_stack_files_but_never_the_lock_file(tmp_path):
    stacks = _stack(tmp_path)
    ws = workspace_for("sandbox", "production", stacks_dir=stacks, sandbox_dir=tmp_path / "sb")
    assert sync_copy(ws) == ["main.tf", "terraform.tfvars", "user-data.yaml"]
    assert not (ws.workdir / LOCK_FILE).exists()
    assert sync_copy(ws) == []
    assert stack_hash(ws.workdir) == stack_hash(ws.stack_dir)
    (ws.stack_dir / "user-data.yaml").unlink()
    (ws.stack_dir / "main.tf").write_text('resource "terraform_data" "b" {}\n')
    assert sync_copy(ws) == ["main.tf", "user-data.yaml"]
    assert not (ws.workdir / "user-data.yaml").exists()
    assert sync_copy(workspace_for("hetzner", "production", stacks_dir=stacks)) == []


def test_backend_kind(tmp_path):
    (tmp_path / "versions.tf").write_text('terraform {\n  backend "pg" {}\n}\n')
    assert backend_kind(tmp_path) == "pg"
    assert backend_kind(tmp_path / "nothing") == "local"


def test_init_reasons(tmp_path, monkeypatch):
    from runner.workspace import init_reason, record_init
    monkeypatch.delenv("PG_CONN_STR", raising=False)
    stacks = _stack(tmp_path)
    ws = workspace_for("hetzner", "production", stacks_dir=stacks)
    env = {"TF_CLI_CONFIG_FILE": "/dev/null"}
    assert init_reason(ws, env) == "first run in this directory"
    (ws.workdir / ".terraform").mkdir()
    record_init(ws, env)
    assert init_reason(ws, env) is None
    assert init_reason(ws, {**env, "PG_CONN_STR": "postgres://x"}) == \
        "backend or provider requirements changed"
    assert init_reason(ws, {"TF_CLI_CONFIG_FILE": "/sandbox/terraform.rc"}) == \
        "provider source (CLI config) changed"
    (ws.workdir / LOCK_FILE).write_text("# upgraded\n")
    assert init_reason(ws, env) == f"{LOCK_FILE} changed"
    record_init(ws, env)
    (ws.workdir / ".terraform").rmdir()
    assert init_reason(ws, env) == ".terraform/ is missing"
    record_init(ws, {**env, "PG_CONN_STR": "postgres://tf:pw-123@127.0.0.1/x"})
    assert "pw-123" not in (ws.data_dir / "init.json").read_text()   # hashed, never stored


def test_private_dir_and_write_private_modes(tmp_path):
    import os
    import stat
    from runner.workspace import private_dir, private_umask, write_private
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    assert stat.S_IMODE(private_dir(loose).stat().st_mode) == 0o700    # tightened
    record = tmp_path / "new" / ".work" / "init.json"
    write_private(record, "{}\n")
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert stat.S_IMODE(record.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in record.parent.iterdir()) == ["init.json"]   # no tmp left
    with private_umask():
        (tmp_path / "by-a-child").write_text("x")   # what terraform inherits
    assert stat.S_IMODE((tmp_path / "by-a-child").stat().st_mode) == 0o600


def test_sync_copy_workdir_is_private(tmp_path):
    import stat
    stacks = _stack(tmp_path)
    ws = workspace_for("sandbox", "production", stacks_dir=stacks, sandbox_dir=tmp_path / "sb")
    sync_copy(ws)
    assert stat.S_IMODE(ws.workdir.stat().st_mode) == 0o700


def test_overlapping_private_umasks_restore_the_umask_they_found():
    # Two deploys at once (threads, as the lock tests run them): A enters, B enters, A leaves,
    # B leaves. Saving per use made B restore A's 077 and leak it into the rest of the process.
    import threading

    from runner.workspace import private_umask
    before = os.umask(0o022)
    try:
        a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

        def first():
            with private_umask():
                a_in.set()
                b_in.wait(5)
            a_out.set()

        def second():
            a_in.wait(5)
            with private_umask():
                b_in.set()
                a_out.wait(5)
                inside = os.umask(0o077)
                os.umask(inside)
                assert inside == 0o077      # still private while B runs
        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        now = os.umask(0o022)
        assert now == 0o022
    finally:
        os.umask(before)

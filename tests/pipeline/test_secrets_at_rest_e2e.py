"""Seeded secrets never rest where others can read them, zipped plan files included."""
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
PG_PASSWORD = "PgSeedPassw0rd-7c1e"
AWS_KEY_ID = "AKIASEEDEDKEY7C1E0001"
AWS_SECRET = "seededSecretAccessKey/7c1e+XYZ123"


def _contents(path: Path):
    """(name, bytes) for a file and, when it is a zip (a saved plan), for each member."""
    data = path.read_bytes()
    yield str(path), data
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                yield f"{path}!{member}", archive.read(member)


def _run(sb, env, *args):
    argv = [sys.executable, "-m", "cli", *args, "--stacks-dir", str(sb.stacks),
            "--config", str(sb.config)]
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _check_at_rest(sb, secrets: dict[str, str], *, plan_kept: bool) -> None:
    workdir = sb.workdir()
    planfile = workdir / ".work" / "plan.tfplan"
    assert planfile.is_file() is plan_kept
    written = [p for root in (workdir, sb.stacks) for p in root.rglob("*")
               if p.is_file() and not p.is_symlink()]
    written += [sb.directory / "emulator.log"]
    holding = {}
    for path in written:
        for where, data in _contents(path):
            for label, value in secrets.items():
                if value.encode() in data:
                    holding.setdefault(label, set()).add(where.split("!")[0])
    # terraform stores input variables (the token) in the plan file; nothing else holds any.
    assert set(holding) <= {"token"}, holding
    assert holding.get("token", set()) <= {str(planfile)}, holding
    if plan_kept:
        assert holding["token"] == {str(planfile)}         # the grep does see inside zips
        assert stat.S_IMODE(planfile.stat().st_mode) == 0o600
    for folder in (workdir, workdir / ".work", workdir / ".work" / "logs"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for path in written:
        # Stack text and the lock file (provider hashes, committed for a real stack) are public.
        if path.is_relative_to(workdir) and path.suffix not in (".tf", ".tfvars", ".yaml") \
                and path.name != ".terraform.lock.hcl" \
                and ".terraform" not in path.relative_to(workdir).parts:
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    # The committed side receives nothing from a sandbox run.
    for name in (".work", "terraform.tfstate", ".terraform.lock.hcl", ".terraform"):
        assert not (sb.stacks / "production" / name).exists(), name


def test_seeded_secrets_only_in_private_plan_files(sb):
    # The shell a user gets from `eval "$(hetzner-deploy sandbox env)"`, plus backend secrets.
    env = sb.env() | {"HCLOUD_TOKEN": sb.token, "HCLOUD_ENDPOINT": sb.endpoint,
                      "HETZNER_DEPLOY_SANDBOX": str(sb.directory),
                      "PG_CONN_STR": f"postgres://deployer:{PG_PASSWORD}@127.0.0.1:1/tf",
                      "AWS_ACCESS_KEY_ID": AWS_KEY_ID, "AWS_SECRET_ACCESS_KEY": AWS_SECRET}
    secrets = {"token": sb.token, "pg": PG_PASSWORD, "aws id": AWS_KEY_ID, "aws": AWS_SECRET}
    first = _run(sb, env, "deploy", "--profile", "ccx33")
    assert "local sandbox" in first.stderr                 # the sandbox, not "Hetzner Cloud"
    _run(sb, env, "generate", "--profile", "ccx43")
    planned = _run(sb, env, "plan")                        # a saved plan, kept to be applied
    for text in (first.stdout, first.stderr, planned.stdout, planned.stderr):
        assert not any(v in text for v in secrets.values())
    _check_at_rest(sb, secrets, plan_kept=True)

    _run(sb, env, "deploy", "--profile", "ccx43")          # second apply: a state backup
    names = {p.name for p in sb.workdir().rglob("*")}
    assert {"checkpoint.json", "init.json", "terraform.tfstate"} <= names
    assert any(n.startswith("apply-") for n in names)
    assert any(n.startswith("terraform.tfstate.") for n in names)
    backups = sb.workdir() / ".work" / "state-backups"
    assert stat.S_IMODE(backups.stat().st_mode) == 0o700
    _check_at_rest(sb, secrets, plan_kept=False)           # applied: the plan file is gone

    _run(sb, env, "plan")                                  # no changes: nothing kept
    _check_at_rest(sb, secrets, plan_kept=False)

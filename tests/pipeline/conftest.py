"""A terraform_data stack laid out like a generated one, and a fake sandbox target."""
from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from pipeline.target import Target
from tests.pipeline import sandbox_env
from tests.runner.conftest import SECRET, write_stack

ENV = "test"


@pytest.fixture
def stacks_dir(tmp_path: Path) -> Path:
    write_stack(tmp_path / "stacks" / ENV)
    return tmp_path / "stacks"


@pytest.fixture
def sandbox_dir(tmp_path: Path) -> Path:
    return tmp_path / "sandbox"


@pytest.fixture
def target() -> Target:
    return Target("sandbox", "http://127.0.0.1:9", SECRET, {"TF_VAR_hcloud_token": SECRET})


@pytest.fixture
def session(target, stacks_dir, sandbox_dir):
    from pipeline.stack import open_session
    return open_session(target, ENV, stacks_dir=stacks_dir, sandbox_dir=sandbox_dir)


@pytest.fixture
def sb(tmp_path, make_config):
    """A running sandbox (emulator + mirror) and a copy of the stacks, stopped afterwards."""
    box = sandbox_env.start(tmp_path, make_config)
    yield box
    sandbox_env.stop(box)


DATA_ENV = "production"


@pytest.fixture
def data_pipeline(tmp_path, make_config):
    """The pipeline on a terraform_data stack (real terraform, no provider): config,
    options and the stacks folder; the sandbox work dir is tmp_path/sb/work/<env>."""
    from generator.config import load_config
    from pipeline.deploy import DeployOptions
    from tests.runner.conftest import write_full_stack
    stacks = tmp_path / "stacks"
    write_full_stack(stacks / DATA_ENV)
    options = DeployOptions(env=DATA_ENV, profile="ccx33", stacks_dir=stacks,
                            sandbox_dir=tmp_path / "sb", run_preflight=False)
    return load_config(make_config()), options, stacks


def run_pipeline(config, options, kind: str = "sandbox", token: str = SECRET, **kw):
    """deploy() without generate; returns the result, {phase: status} and the progress."""
    from pipeline.deploy import deploy
    from pipeline.progress import RecordingProgress
    progress = RecordingProgress()
    with sandbox_registrar(options, token, kind == "sandbox") as where:
        target = Target(kind, "http://127.0.0.1:9", token, {"TF_VAR_hcloud_token": token}, where)
        result = deploy(config, options, target, progress=progress, generate_stack=False, **kw)
    return result, {line.phase: line.status for line in result.lines}, progress


@contextlib.contextmanager
def sandbox_registrar(options, token: str = SECRET, wanted: bool = True):
    """The sandbox's registrar (Namecheap emulator + DNS) for one run, its zones kept
    beside the work dir; yields Target.registrar (None when not wanted)."""
    from sandbox import registrar
    if not wanted:
        yield None
        return
    (options.sandbox_dir / "registrar").mkdir(parents=True, exist_ok=True)
    reg = registrar.start(options.sandbox_dir / "registrar", token)
    try:
        yield reg.api.url, reg.summary()["dns"]
    finally:
        reg.close()

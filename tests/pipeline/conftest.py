"""A terraform_data stack laid out like a generated one, and a fake sandbox target."""
from __future__ import annotations

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

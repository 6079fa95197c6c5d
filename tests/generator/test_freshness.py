"""freshness.stale_files: the same answer as rendering (render.stale_files, the oracle),
without rendering while its inputs are unchanged."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from generator import freshness
from generator.config import load_config
from generator.render import generate, stale_files as rendered_stale

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def stack(make_config, tmp_path):
    config = load_config(make_config())
    stacks = tmp_path / "stacks"
    generate(config, "ccx33", stacks_dir=stacks)
    return config, stacks


def test_fresh_is_recorded_and_then_answered_without_rendering(stack):
    config, stacks = stack
    assert freshness.stale_files(config, stacks_dir=stacks) == [] == rendered_stale(
        config, stacks_dir=stacks)
    code = ("import sys; from generator.config import load_config; "
            "from generator.freshness import stale_files; "
            f"c = load_config({str(config.source)!r}); "
            f"print(stale_files(c, stacks_dir=__import__('pathlib').Path({str(stacks)!r})), "
            "'jinja2' in sys.modules, 'yaml' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["[]", "False", "False"]


def test_an_edited_stack_file_is_stale_every_time(stack):
    config, stacks = stack
    assert freshness.stale_files(config, stacks_dir=stacks) == []
    main = stacks / "production" / "main.tf"
    main.write_text(main.read_text() + "\n# edited by hand\n")
    for _ in range(2):   # stale is never recorded
        assert freshness.stale_files(config, stacks_dir=stacks) == ["main.tf"] == \
            rendered_stale(config, stacks_dir=stacks)


def test_a_changed_config_value_or_key_file_is_compared_again(stack, tmp_path):
    config, stacks = stack
    assert freshness.stale_files(config, stacks_dir=stacks) == []
    other = dataclasses.replace(config, image="debian-12")
    assert freshness.stale_files(other, stacks_dir=stacks) == rendered_stale(
        other, stacks_dir=stacks) != []
    key = Path(config.ssh_public_key)
    key.write_text(key.read_text().replace("AAAAC3", "AAAAC3", 1).strip() + " new-comment\n")
    # a comment is dropped from the stack: still fresh, but it was compared, not assumed
    assert freshness.inputs_digest(config, "ccx33", "production", stacks) != \
        freshness._record(config, stacks, "production").read_text()
    assert freshness.stale_files(config, stacks_dir=stacks) == []


def test_an_unknown_profile_is_never_recorded(make_config, tmp_path):
    config = load_config(make_config())
    stacks = tmp_path / "stacks"
    (stacks / "production").mkdir(parents=True)
    assert freshness.stale_files(config, stacks_dir=stacks) == rendered_stale(
        config, stacks_dir=stacks)
    assert not freshness._record(config, stacks, "production").exists()

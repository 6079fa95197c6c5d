"""One resolver decides the profile for every command, in a fixed order, and says why."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli import cli
from generator.config import load_config
from generator.profile_choice import resolve_profile
from tests.conftest import BASE_TOML

PINNED = BASE_TOML.replace('image = "ubuntu-22.04"', 'image = "ubuntu-22.04"\nprofile = "ccx43"')
BUSY = BASE_TOML.replace("calls_per_month = 3000", "calls_per_month = 30000")


def _stack(stacks, make_config, profile):
    """A stack generated for `profile` (by the real generator)."""
    result = CliRunner().invoke(cli, ["generate", "--profile", profile, "--config",
                                      str(make_config()), "--stacks-dir", str(stacks)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("option, toml, stack, expected, source", [
    ("ccx33", PINNED, "ccx43", "ccx33", "option"),     # --profile beats everything
    (None, PINNED, "ccx33", "ccx43", "config"),        # then the pin in deploy.toml
    (None, BUSY, "ccx43", "ccx43", "stack"),           # then what the stack was made for
    (None, BUSY, None, "3-tier", "sizing"),            # then calls per month
    (None, BASE_TOML, None, "ccx33", "sizing"),
])
def test_precedence(make_config, tmp_path, option, toml, stack, expected, source):
    stacks = tmp_path / "stacks"
    if stack:
        _stack(stacks, make_config, stack)
    config = load_config(make_config(toml))
    choice = resolve_profile(config, option, stacks_dir=stacks)
    assert (choice.name, choice.source) == (expected, source)


def test_lines_name_the_deciding_rule(make_config, tmp_path):
    stacks = tmp_path / "stacks"
    _stack(stacks, make_config, "ccx43")
    config = load_config(make_config(BUSY))
    assert resolve_profile(config, stacks_dir=stacks).line() == (
        "profile ccx43 (the profile stack production was last generated for)")
    assert resolve_profile(config, stacks_dir=tmp_path / "none").line() == (
        "profile 3-tier (recommended for 30000 calls/month)")
    assert resolve_profile(config, "ccx33", stacks_dir=stacks).line() == "profile ccx33 (--profile)"


def test_bare_generate_after_ccx43_keeps_ccx43(make_config, tmp_path):
    """The bug: a bare `generate` went back to the recommendation (ccx33 at 3000 calls)."""
    stacks, config = tmp_path / "stacks", str(make_config())
    _stack(stacks, make_config, "ccx43")
    again = CliRunner().invoke(cli, ["generate", "--config", config, "--stacks-dir", str(stacks)])
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[0] == (
        "stack production: profile ccx43 (the profile stack production was last generated for)")
    assert "identical production/terraform.tfvars" in again.stdout
    assert 'server_type     = "ccx43"' in (stacks / "production" / "terraform.tfvars").read_text()
    verify = CliRunner().invoke(cli, ["cost", "--config", config, "--stacks-dir", str(stacks)])
    assert verify.stdout.splitlines()[0].startswith("profile ccx43 (the profile stack")

"""The validated-config cache: reused only while every input is unchanged, never trusted blindly.

The oracle for "same result" is a fresh validation (config_file.parse), not the cache."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from errors import ConfigError
from generator import config_cache
from generator.config import load_config
from generator.config_file import parse
from tests.conftest import BASE_TOML

REPO = Path(__file__).resolve().parents[2]


def entry(path: Path) -> Path:
    return config_cache._entry_path(path, False)


def test_a_second_load_is_the_validated_config_and_imports_no_pydantic(make_config):
    path = make_config()
    first = load_config(path)
    assert entry(path).is_file()
    code = ("import sys; from generator.config import load_config; "
            f"c = load_config({str(path)!r}); "
            "print('pydantic' in sys.modules, 'cryptography' in sys.modules, c.project, c.ssh_allow)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False", "autoscale-ai", "('203.0.113.7/32',)"]
    assert load_config(path) == first == parse(path, False)


def test_cache_is_private(make_config):
    path = make_config()
    load_config(path)
    assert entry(path).stat().st_mode & 0o777 == 0o600
    assert entry(path).parent.stat().st_mode & 0o777 == 0o700


def test_an_edited_config_is_validated_again(make_config):
    path = make_config()
    load_config(path)
    path.write_text(BASE_TOML.replace("volume_size_gb = 50", "volume_size_gb = 5"))
    with pytest.raises(ConfigError, match="storage.volume_size_gb"):
        load_config(path)
    path.write_text(BASE_TOML.replace("volume_size_gb = 50", "volume_size_gb = 60"))
    assert load_config(path).volume_size_gb == 60


def test_a_changed_key_file_is_validated_again(make_config, tmp_path):
    path = make_config()
    load_config(path)
    (tmp_path / "id_test.pub").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nxx\n")
    with pytest.raises(ConfigError, match="ssh.public_key"):
        load_config(path)
    (tmp_path / "id_test.pub").unlink()
    with pytest.raises(ConfigError, match="ssh.public_key"):
        load_config(path)


def test_a_changed_mode_of_a_named_file_is_a_miss(make_config, tmp_path):
    path = make_config()
    config = load_config(path)
    assert config_cache.load(path, False) == config
    os.chmod(tmp_path / "id_test.pub", 0o640)
    assert config_cache.load(path, False) is None


def test_a_planted_pickle_cannot_run_code(make_config, tmp_path):
    path = make_config()
    load_config(path)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))
    entry(path).write_bytes(pickle.dumps((1, "x", [], Evil())))
    assert config_cache.load(path, False) is None
    assert not marker.exists()
    assert load_config(path).project == "autoscale-ai"   # validated again, and re-cached
    assert config_cache.load(path, False) is not None


@pytest.mark.parametrize("damage", ["truncated", "group-writable", "symlink"])
def test_a_damaged_or_unsafe_cache_is_ignored(make_config, tmp_path, damage):
    path = make_config()
    load_config(path)
    target = entry(path)
    if damage == "truncated":
        target.write_bytes(target.read_bytes()[:20])
    elif damage == "group-writable":
        os.chmod(target, 0o620)
    else:
        copy = tmp_path / "elsewhere.pickle"
        copy.write_bytes(target.read_bytes())
        os.chmod(copy, 0o600)
        target.unlink()
        target.symlink_to(copy)
    assert config_cache.load(path, False) is None
    assert load_config(path).project == "autoscale-ai"


def test_an_unwritable_folder_still_loads(make_config, tmp_path):
    path = make_config()
    (tmp_path / ".work").write_text("a file where the cache folder would go")
    assert load_config(path) == parse(path, False)
    assert config_cache.load(path, False) is None


def test_the_example_and_a_config_file_do_not_share_an_entry(make_config):
    path = make_config()
    assert config_cache._entry_path(path, True) != config_cache._entry_path(path, False)

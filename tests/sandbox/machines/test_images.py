"""Registry-free images: root filesystems from host files, checked by
running them (chroot into the unpacked tree) rather than by listing names."""
from __future__ import annotations

import subprocess
import tarfile

import pytest

from sandbox.machines import images


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("images")
    sizes = images.build(out, ["busybox", "python", "redis"])
    return out, sizes


def _unpack(tar_path, into):
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="tar")
    return into


def test_each_image_runs_its_program_with_only_its_own_files(built, tmp_path):
    out, sizes = built
    assert set(sizes) == {"busybox", "python", "redis"}
    cases = {"busybox": ["/bin/sh", "-c", "echo $((6 * 7))"],
             "python": ["/usr/bin/python3", "-c", "import json, ssl, sqlite3, hashlib; print(json.dumps([42]))"],
             "redis": ["/usr/bin/redis-server", "--version"]}
    expected = {"busybox": "42", "python": "[42]", "redis": "Redis server v="}
    for name, argv in cases.items():
        root = _unpack(out / f"{name}.tar", tmp_path / name)
        done = subprocess.run(["/usr/sbin/chroot", str(root), *argv], capture_output=True, text=True, timeout=30,
                              env={"PATH": "/bin:/usr/bin"})
        assert done.returncode == 0, (name, done.stderr)
        assert done.stdout.startswith(expected[name]), (name, done.stdout)


def test_unknown_image_names_are_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        images.main(["--out", "/nonexistent-never-written", "nginx"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == \
        "sandbox-images: error: unknown image 'nginx': choose from busybox, python, redis"

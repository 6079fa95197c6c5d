"""`sandbox up --machines` refuses early, in one line, when it cannot work."""
from __future__ import annotations

import shutil

import pytest

from errors import SandboxError
from sandbox import manager
from sandbox.machines import preflight


def test_not_root_is_refused(monkeypatch):
    monkeypatch.setattr(preflight.os, "geteuid", lambda: 1000)
    with pytest.raises(SandboxError, match=r"^sandbox machines need root "):
        preflight.check()


def test_missing_programs_name_their_debian_packages(monkeypatch):
    real = shutil.which
    monkeypatch.setattr(preflight.os, "geteuid", lambda: 0)
    monkeypatch.setattr(preflight.shutil, "which",
                        lambda prog, path=None: None if prog in ("dockerd", "docker-compose", "nft") else real(prog, path=path))
    with pytest.raises(SandboxError) as err:
        preflight.check()
    assert str(err.value) == ("sandbox machines need docker-compose, dockerd, nft: "
                              "apt-get install docker-compose docker.io nftables")


def test_machines_are_not_added_to_a_sandbox_already_running_without_them(tmp_path):
    manager.up(tmp_path)
    try:
        with pytest.raises(SandboxError, match=r"already runs without machines; run `hetzner-deploy sandbox down`"):
            manager.up(tmp_path, machines=True)
        assert manager.status(tmp_path).running
    finally:
        manager.down(tmp_path)
    assert not (tmp_path / "machines").exists()

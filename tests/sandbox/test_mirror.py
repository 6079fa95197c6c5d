"""sandbox.mirror: the filesystem mirror and CLI config for the stand-in."""
from __future__ import annotations

import os
import subprocess

from sandbox.mirror import build_mirror, platform_dir


def test_layout_and_cli_config(tmp_path):
    info = build_mirror(tmp_path / "sb")
    expected = (tmp_path / "sb" / "mirror" / "registry.terraform.io" / "hetznercloud" / "hcloud"
                / "1.68.0" / platform_dir() / "terraform-provider-hcloud_v1.68.0")
    assert info.provider_binary == expected
    assert os.access(expected, os.X_OK)
    config = info.cli_config_file.read_text()
    assert f'path    = "{info.mirror_dir}"' in config
    assert config.count('"registry.terraform.io/hetznercloud/hcloud"') == 2
    assert "direct" in config and "dev_overrides" not in config


def test_idempotent(tmp_path):
    first = build_mirror(tmp_path)
    written = {p: (p.stat().st_mtime_ns, p.stat().st_ino)
               for p in (first.provider_binary, first.cli_config_file)}
    second = build_mirror(tmp_path)
    assert second == first
    # Neither file is rewritten (same inode, same mtime): a second `sandbox up` costs no writes.
    assert {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in written} == written


def test_launcher_refuses_to_run_outside_terraform(tmp_path):
    info = build_mirror(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "TF_PLUGIN_MAGIC_COOKIE"}
    proc = subprocess.run([str(info.provider_binary)], env=env, capture_output=True, text=True,
                          timeout=30, cwd=tmp_path)
    assert proc.returncode == 1
    assert "Terraform starts it" in proc.stderr

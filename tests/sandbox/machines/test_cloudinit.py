"""User data -> boot plan, as cloud-init would read it."""
from __future__ import annotations

import base64
import gzip

from sandbox.machines import cloudinit


def test_write_files_runcmd_keys_mounts_and_what_is_not_run():
    data = base64.b64encode(b"\x00binary").decode()
    packed = base64.b64encode(gzip.compress(b"zipped")).decode()
    plan = cloudinit.parse(f"""#cloud-config
hostname: web-1
ssh_pwauth: false
package_update: true
packages: [curl]
ssh_keys:
  ed25519_private: PRIVATE
  ed25519_public: ssh-ed25519 AAAA host
ssh_authorized_keys: ["ssh-ed25519 BBBB user"]
mounts:
  - ["/dev/disk/by-id/scsi-0HC_Volume_4242", /mnt/data, ext4, "discard,nofail", "0", "2"]
  - [/dev/sdb, /srv, ext4]
write_files:
  - path: /etc/a.conf
    permissions: "0600"
    owner: www-data:www-data
    content: |
      line
  - path: /opt/bin.dat
    encoding: b64
    content: {data}
  - path: /opt/z
    encoding: gz+b64
    content: {packed}
    append: true
  - path: ../escape
    content: x
runcmd:
  - [echo, "two words", "$HOME"]
  - echo plain | tee /tmp/x
bootcmd:
  - [mkdir, -p, /run/app]
""")
    assert [(f.path, f.content, f.mode, f.owner, f.append) for f in plan.files] == [
        ("/etc/a.conf", b"line\n", 0o600, "www-data:www-data", False),
        ("/opt/bin.dat", b"\x00binary", 0o644, "root:root", False),
        ("/opt/z", b"zipped", 0o644, "root:root", True)]
    assert plan.runcmd == ["echo 'two words' '$HOME'", "echo plain | tee /tmp/x"]
    assert plan.bootcmd == ["mkdir -p /run/app"]
    assert plan.host_keys == {"ed25519": {"private": "PRIVATE", "public": "ssh-ed25519 AAAA host"}}
    assert plan.authorized_keys == ["ssh-ed25519 BBBB user"]
    assert plan.volume_mounts == {4242: "/mnt/data"}
    assert plan.hostname == "web-1"
    assert plan.notes == ["write_files: skipped '../escape' (needs an absolute path without '..')",
                          "mounts: /dev/sdb -> /srv not mounted (only Hetzner volumes exist here)",
                          "cloud-init modules NOT run in the sandbox: package_update, packages"]


def test_a_shell_script_user_data_runs_once_as_a_script():
    plan = cloudinit.parse("#!/bin/sh\necho hi\n")
    assert plan.runcmd == ["/var/lib/cloud/instance/scripts/part-001"]
    assert plan.files[0].content == b"#!/bin/sh\necho hi\n" and plan.files[0].mode == 0o755


def test_broken_or_foreign_user_data_runs_nothing_and_says_so():
    assert cloudinit.parse("#cloud-config\nwrite_files: [\n").notes[0].startswith("user data is not valid YAML")
    assert cloudinit.parse("#cloud-config\n- a list\n").notes == ["user data is not a YAML mapping: nothing of it runs"]
    assert cloudinit.parse("Content-Type: multipart/mixed\n").notes == [
        "user data is neither #cloud-config nor a script: not run"]
    assert cloudinit.parse(None).notes == ["no user data"]


def test_the_projects_own_template_is_understood():
    """The generator's cloud-init: its volume mount, files and commands are
    honoured, and the package modules are named as not run."""
    text = project_user_data("demo", "/dev/disk/by-id/scsi-0HC_Volume_77")
    plan = cloudinit.parse(text)
    assert plan.volume_mounts == {77: "/mnt/data"}
    assert "/etc/ssh/sshd_config.d/50-hetzner-deploy.conf" in [f.path for f in plan.files]
    assert plan.runcmd[-1] == "mkdir -p /opt/demo /mnt/data/postgres /mnt/data/redis /mnt/data/backups"
    assert plan.notes[-1] == "cloud-init modules NOT run in the sandbox: package_update, package_upgrade, packages"


def project_user_data(project: str, device: str) -> str:
    """The generator's user-data.yaml as Terraform's templatefile() hands it to the server."""
    import dataclasses
    from pathlib import Path
    from generator.config import load_config
    from generator.profiles import get_profile
    from generator.render import render_stack
    root = Path(__file__).resolve().parents[3]
    config = dataclasses.replace(load_config(root / "deploy.example.toml"), project=project)
    text = render_stack(config, get_profile("ccx33"))["user-data.yaml"].decode()
    return text.replace("${volume_device}", device).replace("$${", "${").replace("%%{", "%{")

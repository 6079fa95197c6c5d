"""The server's disk: what cloud-init would have written, put into the
overlay's upper directory before the machine starts, plus the two scripts
that start it (init.sh on the host side, boot.sh inside)."""
from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from runner.process import run

from .cloudinit import BootPlan

SHIM = """#!/bin/sh
# Debian 12 ships Compose v1 only: this CLI plugin lets `docker compose ...` run it.
if [ "$1" = "docker-cli-plugin-metadata" ]; then
  echo '{"SchemaVersion":"0.1.0","Vendor":"hetzner-deploy sandbox","Version":"1.29.2",\
"ShortDescription":"Docker Compose v1 behind the v2 command"}'
  exit 0
fi
shift
exec /usr/bin/docker-compose "$@"
"""


@dataclass
class Layout:
    """Where one server's files live on the host."""
    base: Path

    @property
    def upper(self) -> Path: return self.base / "upper"
    @property
    def work(self) -> Path: return self.base / "work"
    @property
    def root(self) -> Path: return self.base / "root"
    @property
    def docker(self) -> Path: return self.base / "docker"
    @property
    def log(self) -> Path: return self.upper / "var/log/cloud-init-output.log"
    @property
    def init(self) -> Path: return self.base / "init.sh"
    @property
    def devlayer(self) -> Path: return self.base / "dev"


def mkdirs(upper: Path, path: str) -> Path:
    """mkdir -p inside the upper dir, each new directory with the mode and
    owner of the host directory it shadows (an upper dir's attributes win)."""
    target = upper
    host = Path("/")
    for part in Path(path).relative_to("/").parts:
        target, host = target / part, host / part
        if not target.is_dir():
            target.mkdir()
            if host.is_dir():
                st = host.stat()
                os.chmod(target, st.st_mode & 0o7777)
                os.chown(target, st.st_uid, st.st_gid)
    return target


def _resolved(path: str) -> str:
    """The path as the machine sees it: its lower layer is the host's /, so
    symlinked parents (/var/run -> /run) resolve the same way."""
    parent = os.path.realpath(os.path.dirname(path))
    return os.path.join(parent, os.path.basename(path))


def put(upper: Path, path: str, data: bytes, mode: int, append: bool = False) -> Path:
    path = _resolved(path)
    target = mkdirs(upper, os.path.dirname(path)) / os.path.basename(path)
    if append and not target.exists() and Path(path).is_file():
        data = Path(path).read_bytes() + data   # copy-up by hand: append to the host's content
    elif append and target.exists():
        data = target.read_bytes() + data
    if target.is_symlink():
        target.unlink()
    target.write_bytes(data)
    os.chmod(target, mode)
    return target


def sshd_config(ip: str, key_types: list[str]) -> str:
    keys = "".join(f"HostKey /etc/ssh/ssh_host_{t}_key\n" for t in key_types)
    # The user's drop-ins come first: for sshd the first value wins, as on Debian/Ubuntu.
    return ("Include /etc/ssh/sshd_config.d/*.conf\n" + keys +
            f"ListenAddress {ip}:22\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nUseDNS no\nPidFile /run/sshd.pid\n"
            "AuthorizedKeysFile .ssh/authorized_keys\nSubsystem sftp internal-sftp\n")


def host_keys(upper: Path, plan: BootPlan) -> list[str]:
    """Write the host keys cloud-init was given; without any, make an ed25519
    one on first boot (as cloud-init does) and keep it on the disk."""
    ssh = mkdirs(upper, "/etc/ssh")
    types = []
    for kind, halves in sorted(plan.host_keys.items()):
        if "private" not in halves:
            continue
        private = halves["private"].strip() + "\n"
        put(upper, f"/etc/ssh/ssh_host_{kind}_key", private.encode(), 0o600)
        public = halves.get("public") or run(["ssh-keygen", "-y", "-f", ssh / f"ssh_host_{kind}_key"]).stdout
        put(upper, f"/etc/ssh/ssh_host_{kind}_key.pub", public.strip().encode() + b"\n", 0o644)
        types.append(kind)
    if not types:
        key = ssh / "ssh_host_ed25519_key"
        if not key.exists():
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sandbox-machine", "-f", key])
        types.append("ed25519")
    return types


def prepare(layout: Layout, *, ip: str, hostname: str, plan: BootPlan, keys: list[str],
            first_boot: bool) -> None:
    for d in (layout.upper, layout.work, layout.root, layout.docker, layout.devlayer):
        d.mkdir(parents=True, exist_ok=True)
    upper = layout.upper
    if first_boot:
        # A fresh server's root has a stock shell setup, not the host's: the host's
        # ~/.bashrc (pyenv init, a rehash per command) ran on every SSH command and
        # made each one take seconds. write_files below may still replace it.
        mkdirs(upper, "/root")
        put(upper, "/root/.bashrc", b"# sandbox machine: a server's own root shell setup\n", 0o644)
    if first_boot:   # cloud-init's write_files run once per instance
        for f in plan.files:
            put(upper, f.path, f.content, f.mode, f.append)
    types = host_keys(upper, plan)
    put(upper, "/etc/ssh/sshd_config", sshd_config(ip, types).encode(), 0o644)
    authorized = "".join(k.strip() + "\n" for k in [*keys, *plan.authorized_keys] if k.strip())
    mkdirs(upper, "/root")
    put(upper, "/root/.ssh/authorized_keys", authorized.encode(), 0o600)
    os.chmod(upper / "root/.ssh", 0o700)
    put(upper, "/etc/hostname", f"{hostname}\n".encode(), 0o644)
    put(upper, "/usr/local/lib/docker/cli-plugins/docker-compose", SHIM.encode(), 0o755)
    scripts = "/var/lib/cloud/instance/scripts"
    put(upper, f"{scripts}/bootcmd", ("".join(c + "\n" for c in plan.bootcmd)).encode(), 0o755)
    put(upper, f"{scripts}/runcmd", ("#!/bin/sh\n" + "".join(c + "\n" for c in plan.runcmd)).encode(), 0o755)
    owners = "".join(f"chown {shlex.quote(f.owner)} {shlex.quote(_resolved(f.path))} || true\n"
                     for f in plan.files if f.owner not in ("root", "root:root"))
    put(upper, "/etc/sandbox-machine/owners.sh", owners.encode(), 0o755)
    for d in ("/var/lib/docker", "/opt/sandbox-images", "/run", "/tmp", "/var/log",
              *plan.volume_mounts.values()):
        mkdirs(upper, d)


def init_script(layout: Layout, *, hostname: str, images: Path | None, cgroup: str,
                volumes: dict[str, Path], devices: list[str] = ()) -> str:
    """Host side of PID 1, run in the new mount/UTS/PID namespaces: build the
    root, then become tini inside it. Mounts made here live and die with
    the mount namespace: nothing reaches the host's mount table."""
    q = shlex.quote
    root = str(layout.root)
    lines = ["set -eu", "mount --make-rprivate /",
             f"mount -t overlay overlay -o lowerdir=/,upperdir={q(str(layout.upper))},"
             f"workdir={q(str(layout.work))} {q(root)}",
             f"mount -t proc proc {q(root + '/proc')}",
             f"mount -t sysfs sysfs {q(root + '/sys')}",
             f"mount --rbind /sys/fs/cgroup {q(root + '/sys/fs/cgroup')}",
             # /dev: the host's device nodes under a private writable layer, so the
             # machine can get /dev/disk/by-id/... links the host never sees.
             f"mount -t tmpfs -o mode=0755 tmpfs {q(str(layout.devlayer))}",
             f"mkdir {q(str(layout.devlayer / 'upper'))} {q(str(layout.devlayer / 'work'))}",
             f"mount -t overlay overlay -o lowerdir=/dev,upperdir={q(str(layout.devlayer / 'upper'))},"
             f"workdir={q(str(layout.devlayer / 'work'))} {q(root + '/dev')}",
             f"mount --rbind /dev/pts {q(root + '/dev/pts')}",
             f"mount -t tmpfs -o mode=1777 tmpfs {q(root + '/dev/shm')}",
             f"mount -t tmpfs -o mode=0755 tmpfs {q(root + '/run')}",
             f"mount -t tmpfs -o mode=1777 tmpfs {q(root + '/tmp')}",
             f"mount --bind {q(str(layout.docker))} {q(root + '/var/lib/docker')}"]
    if images is not None and images.is_dir():
        lines.append(f"mount -o bind,ro {q(str(images))} {q(root + '/opt/sandbox-images')}")
    for mountpoint, source in volumes.items():
        lines.append(f"mount --bind {q(str(source))} {q(root + mountpoint)}")
    for device in devices:
        lines += [f"mkdir -p {q(root + os.path.dirname(device))}", f"ln -sfn /dev/null {q(root + device)}"]
    lines += [f"hostname {q(hostname)}",
              f"exec chroot {q(root)} /usr/bin/tini-static -- /bin/sh /etc/sandbox-machine/boot.sh "
              f"{q(cgroup)}"]
    return "\n".join(lines) + "\n"


BOOT = r"""#!/bin/sh
# Inside the machine, child of tini (PID 1). What cloud-init and systemd would do, in order.
CGROUP="$1"
exec >>/var/log/cloud-init-output.log 2>&1
log() { echo "$(date -u +%H:%M:%S.%N | cut -c1-12) sandbox-machine: $*"; }
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
log "boot (pid $$)"
mkdir -p /run/sshd /var/lib/cloud/instance/sem
sh /var/lib/cloud/instance/scripts/bootcmd && log "bootcmd done"
/usr/sbin/sshd -E /var/log/sshd.log && log "sshd started"
dockerd --data-root /var/lib/docker --exec-root /run/docker --pidfile /run/docker.pid \
  --cgroup-parent "$CGROUP" --exec-opt native.cgroupdriver=cgroupfs --storage-driver overlay2 \
  >>/var/log/dockerd.log 2>&1 &
i=0
until docker info >/dev/null 2>&1; do
  i=$((i + 1)); [ "$i" -gt 300 ] && break; sleep 0.1
done
if docker info >/dev/null 2>&1; then log "dockerd ready"; else log "dockerd NOT ready (see /var/log/dockerd.log)"; fi
mkdir -p /var/lib/docker/.sandbox-images
for f in /opt/sandbox-images/*.tar; do
  [ -e "$f" ] || continue
  name=$(basename "$f" .tar); stamp=/var/lib/docker/.sandbox-images/$name
  if [ ! -e "$stamp" ] || [ "$f" -nt "$stamp" ]; then
    docker import "$f" "sandbox/$name:latest" >/dev/null && touch "$stamp" && log "image sandbox/$name imported"
  fi
done
sh /etc/sandbox-machine/owners.sh
if [ ! -e /var/lib/cloud/instance/sem/runcmd ]; then
  touch /var/lib/cloud/instance/sem/runcmd
  log "runcmd start"; /bin/sh /var/lib/cloud/instance/scripts/runcmd; log "runcmd exit $?"
fi
date -u > /var/lib/cloud/instance/boot-finished
log "boot finished"
exec sleep infinity
"""


def install_boot(upper: Path) -> None:
    put(upper, "/etc/sandbox-machine/boot.sh", BOOT.encode(), 0o755)


def volume_device(vid: int) -> str:
    """Where Hetzner's udev rule puts a volume. In the sandbox it is a link to
    /dev/null: it exists (so a boot script that waits for it goes on), while the
    sandbox has already bound the volume's directory where `mounts` says."""
    return f"/dev/disk/by-id/scsi-0HC_Volume_{vid}"

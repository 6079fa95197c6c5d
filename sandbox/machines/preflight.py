"""Before any namespace is made: root, and the programs a machine runs."""
from __future__ import annotations

import os
import shutil

from errors import SandboxError

# program -> Debian package that ships it
NEEDED = {"ip": "iproute2", "nsenter": "util-linux", "unshare": "util-linux", "nft": "nftables",
          "iptables": "iptables", "sshd": "openssh-server", "ssh-keygen": "openssh-client",
          "dockerd": "docker.io", "docker": "docker.io", "tini-static": "tini",
          "docker-compose": "docker-compose", "haproxy": "haproxy"}   # haproxy: the load balancers
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def missing() -> dict[str, str]:
    return {prog: pkg for prog, pkg in NEEDED.items() if shutil.which(prog, path=PATH) is None}


def check() -> None:
    if os.geteuid() != 0:
        raise SandboxError("sandbox machines need root (network namespaces, mounts): run as root or without --machines")
    gone = missing()
    if gone:
        packages = " ".join(sorted(set(gone.values())))
        raise SandboxError(f"sandbox machines need {', '.join(sorted(gone))}: apt-get install {packages}")

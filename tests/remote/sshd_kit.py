"""A real OpenSSH server on 127.0.0.1 for the SSH layer's tests (host key from our key store)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import asyncssh
import pytest

from remote import hostkeys
from remote.ssh import Target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sshd:
    def __init__(self, root: Path):
        self.root = root
        self.port = free_port()
        self.host_key, _ = hostkeys.ensure("test", "sshd", root / "keys")
        client = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = root / "id_ed25519"
        self.client_key.write_bytes(client.export_private_key())
        os.chmod(self.client_key, 0o600)
        (root / "authorized_keys").write_bytes(client.export_public_key())
        self.config = root / "sshd_config"
        self.config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\n"
            f"HostKey {root / 'keys' / 'test' / 'sshd' / hostkeys.PRIVATE_NAME}\n"
            f"AuthorizedKeysFile {root / 'authorized_keys'}\nStrictModes no\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nUseDNS no\nPidFile none\n"
            "Subsystem sftp internal-sftp\n")
        Path("/run/sshd").mkdir(exist_ok=True)
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(self.config)],
                                     stdout=subprocess.DEVNULL, stderr=open(root / "sshd.log", "wb"))
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError((root / "sshd.log").read_text())
                time.sleep(0.05)

    def target(self, host_public: str | None = None) -> Target:
        return Target("127.0.0.1", host_public or self.host_key.public, str(self.client_key),
                      port=self.port, name="test-server")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def sshd(tmp_path):
    if not os.path.exists("/usr/sbin/sshd") or os.geteuid() != 0:
        pytest.fail("these tests need openssh-server and root (sshd's privilege separation)")
    server = Sshd(tmp_path)
    yield server
    server.stop()

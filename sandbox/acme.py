"""The sandbox's ACME server: Debian's pebble, as Let's Encrypt stands in for it here.

Started inside the emulator's process when it runs machines and the registrar
(`python -m sandbox.emulator --machines DIR --registrar`), so `sandbox up`/`down`
start and stop it with everything else. It listens on the machines' bridge
address (the only host address a machine can reach), resolves names through the
registrar's DNS server, and validates HTTP-01 on the machines' port 80 and
TLS-ALPN-01 on 443, as Let's Encrypt validates against the real servers.

pebble ships no certificate for its own HTTPS listener: one is made here, signed
by a throwaway CA whose certificate (`listener-ca.pem`) ACME clients are told to
trust (Caddy's acme_ca_root). The root that signs *issued* certificates is
pebble's own and changes on every start; `issued_root()` fetches it from the
management port, and the HTTPS check trusts only that.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ACME_PORT = 14000
READY_WAIT_S = 15.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def make_listener_cert(folder: Path, ip: str) -> Path:
    """A CA and a server certificate for `ip` and 127.0.0.1; returns the CA file."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hetzner-deploy sandbox ACME listener CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=365))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.IPAddress(ipaddress.ip_address(a)) for a in dict.fromkeys((ip, "127.0.0.1"))]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pebble")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    _write_private(folder / "listener-key.pem", key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (folder / "listener-cert.pem").write_bytes(cert.public_bytes(pem))
    (folder / "listener-ca.pem").write_bytes(ca.public_bytes(pem))
    return folder / "listener-ca.pem"


@dataclass
class RunningAcme:
    proc: subprocess.Popen
    directory: str           # the ACME directory URL clients use
    ca_file: Path            # trust for the directory's HTTPS listener
    management: str          # https://127.0.0.1:PORT (roots of issued certificates)

    def summary(self) -> dict:
        return {"acme": {"directory": self.directory, "ca_file": str(self.ca_file),
                         "management": self.management}}

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def issued_root(management: str, ca_file: str | os.PathLike, timeout: float = 5.0) -> bytes:
    """The PEM root that signs what this pebble issues (new on every pebble start)."""
    context = ssl.create_default_context(cafile=str(ca_file))
    with urllib.request.urlopen(f"{management}/roots/0", timeout=timeout, context=context) as r:
        return r.read()


def _kill_recorded(folder: Path) -> None:
    """The pebble a kill -9'd emulator left running holds the bridge address's
    port 14000: stop it, by its recorded PID, only if its command line names
    this sandbox's config."""
    try:
        pid = int((folder / "pid").read_text().strip())
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return
    if str(folder / "pebble.json").encode() in argv:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        end = time.monotonic() + 5
        while Path(f"/proc/{pid}").exists() and time.monotonic() < end:
            try:
                if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            except (OSError, IndexError):
                break
            time.sleep(0.02)


def start(state_dir: str | os.PathLike, host_ip: str, dns: str, binary: str = "pebble") -> RunningAcme:
    """pebble on host_ip:14000, resolving through `dns` (host:port). OSError if it cannot start."""
    folder = Path(state_dir) / "acme"
    folder.mkdir(mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    _kill_recorded(folder)
    ca_file = make_listener_cert(folder, host_ip)
    mport = _free_port()
    config = {"pebble": {"listenAddress": f"{host_ip}:{ACME_PORT}",
                         "managementListenAddress": f"127.0.0.1:{mport}",
                         "certificate": str(folder / "listener-cert.pem"),
                         "privateKey": str(folder / "listener-key.pem"),
                         "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "",
                         "externalAccountBindingRequired": False}}
    (folder / "pebble.json").write_text(json.dumps(config, indent=1))
    # No sleeps before validations, and no nonce rejections: a sandbox deploy should not wait
    # for pebble's deliberate unreliability.
    env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
    log = open(folder / "pebble.log", "ab")
    try:
        proc = subprocess.Popen([binary, "-config", str(folder / "pebble.json"), "-dnsserver", dns],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
    finally:
        log.close()
    (folder / "pid").write_text(f"{proc.pid}\n")
    running = RunningAcme(proc, f"https://{host_ip}:{ACME_PORT}/dir", ca_file,
                          f"https://127.0.0.1:{mport}")
    end = time.monotonic() + READY_WAIT_S
    while True:
        try:
            issued_root(running.management, ca_file, timeout=1)
            return running
        except OSError as exc:
            if proc.poll() is not None or time.monotonic() > end:
                running.close()
                raise OSError(f"pebble did not start ({exc}); see {folder / 'pebble.log'}") from None
            time.sleep(0.1)

"""checks/https.py against a local TLS server whose certificates come from a throwaway CA.

The oracle is the CA made here: a certificate it signed for the name passes with
its root only; another root, a name outside the SAN, an expired certificate, a
health path that fails, and a missing redirect each fail, with the reason."""
from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from checks.https import check_name, check_redirect

NOW = dt.datetime.now(dt.timezone.utc)


def _ca(name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=1)).not_valid_after(NOW + dt.timedelta(days=900))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def _leaf(ca, names, days_left: float):
    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=2))
            .not_valid_after(NOW + dt.timedelta(days=days_left))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200
    redirect = True

    def do_GET(self):
        if self.server.plain:
            host = self.headers["Host"]
            if self.redirect:
                self.send_response(308)
                self.send_header("Location", f"https://{host}{self.path}")
            else:
                self.send_response(200)
        else:
            self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def serve(tmp_path):
    servers = []

    def start(leaf=None, status=200, redirect=True):
        handler = type("H", (_Handler,), {"status": status, "redirect": redirect})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.plain = leaf is None
        if leaf is not None:
            key, cert = leaf
            (tmp_path / "cert.pem").write_bytes(_pem(cert))
            (tmp_path / "key.pem").write_bytes(key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
            server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1]
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_certificate_for_the_name_from_the_expected_root_passes(serve):
    ca = _ca("test root")
    port = serve(_leaf(ca, ["app.test", "api.app.test"], 80))
    for name in ("app.test", "api.app.test"):
        got = check_name("127.0.0.1", name, _pem(ca[1]), "/health", port=port)
        assert got.ok and got.issuer == "test root", got
        assert 79 < got.days_left < 81 and not got.warns(21)


def test_another_root_or_the_system_store_is_refused(serve):
    port = serve(_leaf(_ca("test root"), ["app.test"], 80))
    other = check_name("127.0.0.1", "app.test", _pem(_ca("other root")[1]), "/health", port=port)
    assert not other.ok and "not trusted" in other.detail and not other.handshake_ok
    system = check_name("127.0.0.1", "app.test", None, "/health", port=port)
    assert not system.ok and "not trusted" in system.detail


def test_a_name_outside_the_san_is_refused(serve):
    ca = _ca("test root")
    port = serve(_leaf(ca, ["app.test"], 80))
    got = check_name("127.0.0.1", "www.app.test", _pem(ca[1]), "/health", port=port)
    assert not got.ok and "mismatch" in got.detail.lower(), got


def test_expiry_close_warns_and_expired_fails(serve):
    ca = _ca("test root")
    soon = check_name("127.0.0.1", "app.test", _pem(ca[1]), "/health",
                      port=serve(_leaf(ca, ["app.test"], 10)))
    assert soon.ok and soon.warns(21) and not soon.warns(5)
    expired = check_name("127.0.0.1", "app.test", _pem(ca[1]), "/health",
                         port=serve(_leaf(ca, ["app.test"], -1)))
    assert not expired.ok and "expired" in expired.detail


def test_a_failing_health_path_fails_after_a_good_handshake(serve):
    ca = _ca("test root")
    got = check_name("127.0.0.1", "app.test", _pem(ca[1]), "/health",
                     port=serve(_leaf(ca, ["app.test"], 80), status=503))
    assert not got.ok and got.handshake_ok and "HTTP 503" in got.detail


def test_nothing_listening_is_no_tls():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    got = check_name("127.0.0.1", "app.test", None, "/health", port=port, timeout=2)
    assert not got.ok and not got.handshake_ok and "no TLS" in got.detail


def test_plain_http_must_redirect_the_name_to_https(serve):
    assert check_redirect("127.0.0.1", "app.test", port=serve()) is None
    why = check_redirect("127.0.0.1", "app.test", port=serve(redirect=False))
    assert why and "instead of a redirect" in why

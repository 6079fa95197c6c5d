"""app/certs.py: the 3-tier certificate, held by the app servers, ordered by the tool.

The bundle parser is checked against certificates cryptography makes here; the
decision (keep, copy, order, renew) against a fake fleet whose every remote
command is recorded as an exact argv list.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest

from app import certs
from app.proxy import ADMIN_SOCKET, reload_request

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.timezone.utc)
NAMES = ("app.example.com", "api.app.example.com")


def make_bundle(names=NAMES, days: float = 90, *, wrong_key: bool = False, serial: int = 7) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0] if names else "x")])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
               .public_key(key.public_key()).serial_number(serial)
               .not_valid_before(NOW - dt.timedelta(days=1))
               .not_valid_after(NOW + dt.timedelta(days=days)))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(n) for n in names]), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    if wrong_key:
        key = ec.generate_private_key(ec.SECP256R1())
    return cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())


def test_a_bundle_is_a_chain_and_the_key_of_its_first_certificate():
    pem = make_bundle(days=40)
    bundle = certs.parse(pem)
    assert bundle is not None and bundle.names == frozenset(NAMES) and bundle.serial == 7
    assert round(bundle.days_left(NOW)) == 40
    assert bundle.good_for(NAMES, NOW) and not bundle.good_for(NAMES, NOW, renew_days=45)
    assert not bundle.good_for(NAMES + ("www.example.com",), NOW)
    assert certs.parse(make_bundle(wrong_key=True)) is None
    assert certs.parse(make_bundle().split(b"-----BEGIN PRIVATE KEY")[0]) is None
    for junk in (b"", b"not pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"):
        assert certs.parse(junk) is None


@pytest.mark.parametrize("token", ["../../etc/passwd", "a" * 15, "tok;rm -rf /", "tok en" * 4,
                                   "a" * 257, "tok/../../x" * 3, "tok\nen" * 4])
def test_a_challenge_token_that_is_not_base64url_is_refused(token):
    with pytest.raises(certs.CertificateFailed, match="not base64url"):
        certs.challenge_path(token)


def test_remote_commands_are_exact_argv_lists():
    token = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
    assert certs.read_bundle_argv() == ["cat", "--", "/mnt/data/caddy/certs/site.pem"]
    assert certs.make_dir_argv("/mnt/data/caddy/certs", 0o700) == [
        "install", "-d", "-m", "0700", "--", "/mnt/data/caddy/certs"]
    assert certs.remove_challenge_argv(token) == [
        "rm", "-f", "--", f"/mnt/data/caddy/acme/.well-known/acme-challenge/{token}"]
    assert certs.read_caddyfile_argv("shop", "0123456789ab") == [
        "cat", "--", "/opt/shop/releases/0123456789ab/proxy/Caddyfile"]
    assert reload_request(b"{\n}\n") == (
        b"POST /load HTTP/1.0\r\nHost: \r\nContent-Type: text/caddyfile\r\n"
        b"Cache-Control: must-revalidate\r\nContent-Length: 4\r\n\r\n{\n}\n")


@dataclass
class Server:
    """One app server as the tool sees it over SSH: files, a current release, its proxy."""
    name: str
    files: dict = field(default_factory=dict)
    release: str | None = "0123456789ab"
    argvs: list = field(default_factory=list)
    reloads: int = 0


@dataclass
class Result:
    argv: tuple
    exit_status: int
    stdout: str = ""
    stderr: str = ""


class Conn:
    def __init__(self, server: Server):
        self.server = server
        self.target = type("T", (), {"label": server.name})()

    async def run(self, argv, *, check=True, timeout=0, input=None):
        self.server.argvs.append(list(argv))
        if argv[0] == "cat":
            data = self.server.files.get(argv[-1])
            if data is None and argv[-1].endswith("/proxy/Caddyfile") and self.server.release:
                data = b"{\n\tadmin unix//run/caddy-admin/admin.sock\n}\n"
            return Result(tuple(argv), 0 if data is not None else 1,
                          data.decode() if data is not None else "")
        if argv[0] == "readlink":
            return Result(tuple(argv), 0 if self.server.release else 1,
                          f"releases/{self.server.release}\n" if self.server.release else "")
        return Result(tuple(argv), 0)

    async def upload(self, path, data, mode):
        self.server.files[path] = data

    async def unix_exchange(self, path, request, *, timeout=0):
        assert path == ADMIN_SOCKET and request.startswith(b"POST /load HTTP/1.0\r\n")
        self.server.reloads += 1
        return b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"


@pytest.fixture
def fleet(monkeypatch):
    from contextlib import asynccontextmanager
    from types import SimpleNamespace

    from generator.config_tls import TlsConfig
    servers = {n: Server(n) for n in ("app-1", "app-2")}
    # What ensure() reads of a config: the project, [tls], the names of [dns].
    config = SimpleNamespace(project="autoscale-ai", tls=TlsConfig(email="ops@example.com"),
                             domain="example.com", dns=SimpleNamespace(names=("app", "api.app")))

    @asynccontextmanager
    async def connect(target, **_):
        yield Conn(servers[target])
    monkeypatch.setattr("remote.ssh.connect", connect)
    monkeypatch.setattr("app.service.targets_from", lambda config, outputs, roles: list(servers))
    orders = []

    async def order(conns, names, acme):
        orders.append((names, acme.directory))
        return certs.parse(make_bundle(names, 90, serial=99))
    monkeypatch.setattr(certs, "order", order)
    return servers, config, orders


def test_nothing_held_the_app_phase_orders_nothing_the_tls_phase_orders_once(fleet):
    servers, config, orders = fleet
    said = certs.ensure(config, None, issue=False, now=NOW)
    assert said.startswith("no server holds a certificate yet") and orders == []
    assert all(s.files == {} for s in servers.values())
    assert all(s.argvs == [certs.read_bundle_argv()] for s in servers.values())
    for s in servers.values():
        s.argvs.clear()
    said = certs.ensure(config, None, {"directory": "https://pebble/dir", "ca_file": "/ca"},
                        issue=True, now=NOW)
    assert said.startswith("certificate ordered (serial 63") and "on 2 of 2" in said
    assert orders == [(tuple(n for n in config_names(config)), "https://pebble/dir")]
    for s in servers.values():
        assert s.argvs[:4] == [certs.read_bundle_argv(),
                               certs.make_dir_argv("/mnt/data/caddy/certs", 0o700),
                               certs.make_dir_argv("/mnt/data/caddy/admin", 0o700),
                               ["readlink", "--", "/opt/autoscale-ai/current"]]
        assert certs.parse(s.files[certs.BUNDLE]).serial == 99 and s.reloads == 1


def config_names(config):
    from app.proxy import names_for
    return names_for(config)


def test_a_good_certificate_on_one_server_is_copied_not_ordered(fleet):
    servers, config, orders = fleet
    names = config_names(config)
    held = make_bundle(names, 80, serial=5)
    servers["app-1"].files[certs.BUNDLE] = held
    servers["app-2"].release = None          # a new server: its proxy starts later
    said = certs.ensure(config, None, issue=False, now=NOW)
    assert orders == [] and said.startswith("certificate kept (serial 5, 80 days left)")
    assert servers["app-2"].files[certs.BUNDLE] == held and servers["app-2"].reloads == 0
    assert servers["app-1"].reloads == 0       # unchanged there: nothing to load
    servers["app-2"].release = "0123456789ab"
    said = certs.ensure(config, None, issue=True, now=NOW)
    assert orders == [] and "on 0 of 2 app server(s) newly" in said
    # The tls phase has every proxy load it, also one that missed a reload.
    assert servers["app-1"].reloads == 1 and servers["app-2"].reloads == 1


def test_renewal_is_due_with_thirty_days_left_and_only_the_tls_phase_orders(fleet):
    servers, config, orders = fleet
    names = config_names(config)
    servers["app-1"].files[certs.BUNDLE] = servers["app-2"].files[certs.BUNDLE] = \
        make_bundle(names, 20)
    assert certs.ensure(config, None, issue=False, now=NOW).startswith("certificate kept")
    assert orders == []
    certs.ensure(config, None, issue=True, now=NOW)
    assert len(orders) == 1
    assert all(certs.parse(s.files[certs.BUNDLE]).serial == 99 for s in servers.values())


def test_a_certificate_for_other_names_or_expired_is_replaced(fleet):
    servers, config, orders = fleet
    servers["app-1"].files[certs.BUNDLE] = make_bundle(("old.example.com",), 80)
    servers["app-2"].files[certs.BUNDLE] = make_bundle(config_names(config), -1)
    assert certs.ensure(config, None, issue=False, now=NOW).startswith("no server holds")
    certs.ensure(config, None, issue=True, now=NOW)
    assert len(orders) == 1

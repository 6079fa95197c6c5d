"""The HTTPS check: each managed name, at the deploy's address, over TLS verified against one root.

For every name: a TLS handshake to address:443 with the name as SNI, the chain
verified against the expected root only (pebble's root on the sandbox, the
system store otherwise) and the name checked against the certificate's SAN (by
the ssl module, as a browser would); the days left before expiry (a warning
under [tls] warn_days); then GET of the app's health path over that same
connection. Plain HTTP on port 80 must redirect the name to https://.
The address is dialled directly, so the check does not depend on this
machine's resolver; the DNS phase has already checked what the names resolve to.
"""
from __future__ import annotations

import datetime as dt
import http.client
import socket
import ssl
from dataclasses import dataclass


@dataclass(frozen=True)
class HttpsResult:
    name: str
    ok: bool
    detail: str
    days_left: float | None = None
    issuer: str = ""
    handshake_ok: bool = False      # False: no certificate for the name yet (or a wrong one)

    def warns(self, warn_days: int) -> bool:
        return self.ok and self.days_left is not None and self.days_left < warn_days


def context_for(root_pem: bytes | None) -> ssl.SSLContext:
    """Trust `root_pem` only, or the system store when None."""
    if root_pem is None:
        return ssl.create_default_context()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)      # check_hostname and CERT_REQUIRED on
    context.load_verify_locations(cadata=root_pem.decode("ascii"))
    return context


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a fixed address with another name as SNI and Host."""

    def __init__(self, address: str, name: str, context: ssl.SSLContext, timeout: float,
                 port: int = 443):
        super().__init__(name, port, context=context, timeout=timeout)
        self._address = address
        self.peer_cert: dict | None = None

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
        self.peer_cert = self.sock.getpeercert()


def _issuer(cert: dict) -> str:
    for rdn in cert.get("issuer", ()):
        for key, value in rdn:
            if key in ("commonName", "organizationName"):
                return value
    return "?"


def check_name(address: str, name: str, root_pem: bytes | None, health_path: str,
               timeout: float = 5.0, now: dt.datetime | None = None, port: int = 443) -> HttpsResult:
    conn = _PinnedHTTPS(address, name, context_for(root_pem), timeout, port)
    try:
        try:
            conn.connect()
        except ssl.SSLCertVerificationError as exc:
            return HttpsResult(name, False, f"certificate not trusted for {name}: "
                                            f"{exc.verify_message or exc.reason}")
        except (ssl.SSLError, OSError) as exc:
            return HttpsResult(name, False, f"no TLS on {address}:{port} for {name}: "
                                            f"{getattr(exc, 'reason', None) or exc}")
        cert = conn.peer_cert or {}
        expires = dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(cert["notAfter"]),
                                            dt.timezone.utc)
        days = (expires - (now or dt.datetime.now(dt.timezone.utc))).total_seconds() / 86400
        issuer = _issuer(cert)
        try:
            conn.request("GET", health_path, headers={"Host": name, "Connection": "close"})
            status = conn.getresponse().status
        except (OSError, http.client.HTTPException) as exc:
            return HttpsResult(name, False, f"https://{name}{health_path}: {exc}", days, issuer, True)
        if not 200 <= status < 300:
            return HttpsResult(name, False, f"https://{name}{health_path} answered HTTP {status}",
                               days, issuer, True)
        return HttpsResult(name, True, f"https://{name}{health_path} HTTP {status}, certificate by "
                                       f"{issuer}, {days:.0f} days left", days, issuer, True)
    finally:
        conn.close()


def check_redirect(address: str, name: str, timeout: float = 5.0, port: int = 80) -> str | None:
    """None when http://name/ redirects to https://name/..., else why not."""
    conn = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        conn.request("GET", "/", headers={"Host": name, "Connection": "close"})
        response = conn.getresponse()
        location = response.getheader("Location") or ""
    except (OSError, http.client.HTTPException) as exc:
        return f"http://{name}/: {exc}"
    finally:
        conn.close()
    if response.status in (301, 302, 307, 308) and location.startswith(f"https://{name}/"):
        return None
    return f"http://{name}/ answered HTTP {response.status} {location or ''}".rstrip() \
        + " instead of a redirect to https://"

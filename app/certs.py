"""3-tier certificates: hetzner-deploy is the ACME client, every app server serves the result.

Why not Caddy's own ACME, as on one server: the load balancer passes 80 and 443
through to whichever app server it picks, so an HTTP-01 (or TLS-ALPN-01)
challenge asked for by one server's Caddy lands on another server most of the
time and fails. The tool asks once instead, with the `acme` library (certbot's
ACME client), puts each challenge's answer on *every* app server (each Caddy
serves SHARED_ACME over port 80, app/proxy.shared_caddyfile), and copies the
one certificate and key it got to every app server (SHARED_CERTS, 0600 in a
0700 folder), where Caddy loads it and a graceful `caddy reload` picks it up.

The servers are the store: the bundle read back from them decides whether a
certificate is still good (it names every [dns] name, and has more than
RENEW_DAYS left), so a deploy from another machine, or after a scale-out,
copies instead of asking again, and nothing secret stays on the tool's
machine. The ACME account key is made for each order and dropped (nothing to
keep secret between runs); Let's Encrypt's limit of 10 accounts per address
in 3 hours is far above one order per renewal.

Renewal is by the tool: the tls phase runs on every 3-tier deploy (its key is
never recorded) and orders a new certificate once RENEW_DAYS are left.
`hetzner-deploy deploy --only tls` on a schedule renews without a release.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import re
from dataclasses import dataclass

from app.proxy import (
    ADMIN_SOCKET,
    CADDYFILE,
    SHARED_ACME,
    SHARED_ADMIN,
    SHARED_CERTS,
    names_for,
    reload_request,
)
from errors import RemoteError

RENEW_DAYS = 30          # Let's Encrypt's advice: renew a 90-day certificate with 30 days left
BUNDLE = f"{SHARED_CERTS}/site.pem"
CHALLENGE_DIR = f"{SHARED_ACME}/.well-known/acme-challenge"
TOKEN = r"[A-Za-z0-9_-]{16,256}"      # base64url, RFC 8555 section 8.3


class CertificateFailed(RemoteError):
    pass


@dataclass(frozen=True)
class Bundle:
    pem: bytes                         # the chain, then the private key
    names: frozenset[str]
    not_after: dt.datetime
    serial: int

    def days_left(self, now: dt.datetime) -> float:
        return (self.not_after - now).total_seconds() / 86400

    def good_for(self, names, now: dt.datetime, renew_days: float = RENEW_DAYS) -> bool:
        return set(names) <= self.names and self.days_left(now) > renew_days


def parse(pem: bytes) -> Bundle | None:
    """The bundle in `pem`, or None when it is not one: no certificate, no key, or a key
    that does not belong to the first certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    try:
        certs = x509.load_pem_x509_certificates(pem)
        m = re.search(rb"-----BEGIN (?:EC |RSA )?PRIVATE KEY-----.+?-----END (?:EC |RSA )?PRIVATE KEY-----",
                      pem, re.S)
        if m is None:
            return None
        key = serialization.load_pem_private_key(m.group(0), password=None)
    except ValueError:
        return None
    leaf = certs[0]
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if leaf.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        return None
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = frozenset(n.lower() for n in san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = frozenset()
    return Bundle(pem, names, leaf.not_valid_after_utc, leaf.serial_number)


def challenge_path(token: str) -> str:
    if not re.fullmatch(TOKEN, token):
        raise CertificateFailed(f"the ACME server sent a challenge token that is not base64url: "
                                f"{token[:40]!r}")
    return f"{CHALLENGE_DIR}/{token}"


# Exact argv lists (tests pin them).
def read_bundle_argv() -> list[str]:
    return ["cat", "--", BUNDLE]


def make_dir_argv(path: str, mode: int) -> list[str]:
    return ["install", "-d", "-m", f"{mode:04o}", "--", path]


def remove_challenge_argv(token: str) -> list[str]:
    return ["rm", "-f", "--", challenge_path(token)]


def read_caddyfile_argv(project: str, release: str) -> list[str]:
    from remote import commands as c
    return ["cat", "--", str(c.release_file(project, release, CADDYFILE))]


async def read(conn) -> Bundle | None:
    done = await conn.run(read_bundle_argv(), check=False, timeout=30)
    return parse(done.stdout.encode()) if done.exit_status == 0 else None


async def install(conn, bundle: Bundle, project: str, *, strict: bool) -> bool:
    """Put the bundle on the server and have its proxy load it; whether the proxy reloaded.
    strict=False (the app phase): a server whose proxy does not run yet loads it when the
    proxy starts."""
    for folder in (SHARED_CERTS, SHARED_ADMIN):
        await conn.run(make_dir_argv(folder, 0o700))
    await conn.upload(BUNDLE, bundle.pem, 0o600)
    return await reload(conn, project, strict=strict)


async def reload(conn, project: str, *, strict: bool) -> bool:
    """Caddy loads its config again, the certificate folder with it, through its admin socket:
    connections stay open (a restart would drop them)."""
    from app.releases import current_release
    release = await current_release(conn, project)
    if release is None:
        if strict:
            raise CertificateFailed(f"{conn.target.label}: no current release, so no proxy to "
                                    f"load the certificate")
        return False
    caddyfile = await conn.run(read_caddyfile_argv(project, release), check=strict, timeout=30)
    if caddyfile.exit_status != 0 or "admin unix/" not in caddyfile.stdout:
        if strict:
            raise CertificateFailed(f"{conn.target.label}: release {release} has no 3-tier TLS "
                                    f"proxy (deploy it first)")
        return False
    try:
        answer = await conn.unix_exchange(ADMIN_SOCKET, reload_request(caddyfile.stdout.encode()),
                                          timeout=60)
    except RemoteError:
        if strict:
            raise
        return False
    head, _, body = answer.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if status.split(" ")[1:2] != ["200"]:
        if strict:
            why = body.decode("utf-8", "replace").strip()[:200]
            raise CertificateFailed(f"{conn.target.label}: the proxy refused the reload: "
                                    f"{status[:120] or 'no answer'} {why}".rstrip())
        return False
    return True


@dataclass(frozen=True)
class Acme:
    directory: str
    verify: bool | str                 # a CA file (the sandbox's pebble listener) or the system store
    email: str | None
    timeout_s: float


def acme_for(tls, sandbox_acme) -> Acme:
    if sandbox_acme:
        return Acme(sandbox_acme["directory"], str(sandbox_acme["ca_file"]), tls.email, tls.timeout_s)
    return Acme(tls.directory, True, tls.email, tls.timeout_s)


def _client(acme: Acme):
    import josepy as jose
    from acme import client, messages
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = jose.JWKRSA(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    net = client.ClientNetwork(key, user_agent="hetzner-deploy", verify_ssl=acme.verify)
    ca = client.ClientV2(client.ClientV2.get_directory(acme.directory, net), net)
    ca.new_account(messages.NewRegistration.from_data(email=acme.email, terms_of_service_agreed=True)
                   if acme.email else messages.NewRegistration(terms_of_service_agreed=True))
    return ca


def _new_key() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())


async def order(conns, names: tuple[str, ...], acme: Acme) -> Bundle:
    """One certificate for `names`, each HTTP-01 answer on every server in `conns`."""
    import requests
    from acme import challenges, crypto_util, messages
    from acme import errors as acme_errors
    key_pem = _new_key()
    placed: list[str] = []
    try:
        ca = await asyncio.to_thread(_client, acme)
        orderr = await asyncio.to_thread(ca.new_order, crypto_util.make_csr(key_pem, list(names)))
        answers = []
        for authz in orderr.authorizations:
            if authz.body.status == messages.STATUS_VALID:
                continue
            chall = next((c for c in authz.body.challenges
                          if isinstance(c.chall, challenges.HTTP01)), None)
            if chall is None:
                raise CertificateFailed(f"the ACME server offers no HTTP-01 challenge for "
                                        f"{authz.body.identifier.value}")
            response, validation = chall.response_and_validation(ca.net.key)
            token = chall.chall.encode("token")
            path = challenge_path(token)
            await asyncio.gather(*(_put(conn, path, validation) for conn in conns))
            placed.append(token)
            answers.append((chall, response))
        for chall, response in answers:
            await asyncio.to_thread(ca.answer_challenge, chall, response)
        deadline = dt.datetime.now() + dt.timedelta(seconds=acme.timeout_s)
        done = await asyncio.to_thread(ca.poll_and_finalize, orderr, deadline)
    except (acme_errors.Error, messages.Error, requests.RequestException) as exc:
        raise CertificateFailed(f"ACME order at {acme.directory} failed: {_why(exc)}") from None
    finally:
        if placed:
            await asyncio.shield(_clean(conns, placed))
    bundle = parse(done.fullchain_pem.encode() + key_pem)
    if bundle is None or not set(names) <= bundle.names:
        raise CertificateFailed(f"the ACME server's certificate does not name {', '.join(names)}")
    return bundle


async def _put(conn, path: str, validation: str) -> None:
    await conn.run(make_dir_argv(CHALLENGE_DIR, 0o755))
    await conn.upload(path, validation.encode(), 0o644)     # the answer is public by design


async def _clean(conns, tokens) -> None:
    for conn in conns:
        for token in tokens:
            try:
                await conn.run(remove_challenge_argv(token), check=False, timeout=15)
            except RemoteError:
                pass       # a stale answer is harmless: it is useless once the order is done


def _why(exc: BaseException) -> str:
    from acme import errors as acme_errors
    if isinstance(exc, acme_errors.ValidationError):
        problems = [a.body.challenges[0].error for a in exc.failed_authzrs
                    if a.body.challenges and a.body.challenges[0].error]
        return "; ".join(str(p).splitlines()[0] for p in problems) or "validation failed"
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def ensure(config, outputs, sandbox_acme=None, *, issue: bool, note=lambda line: None,
           now: dt.datetime | None = None) -> str:
    """Every app server holds a good certificate for the [dns] names; the summary line.

    issue=False (the app phase, before DNS may point at the load balancer): spread a good
    certificate one server already holds to the others, order none. issue=True (the tls
    phase): order one when no server holds a good one (or renewal is due), and have every
    proxy reload."""
    from app.service import BOOT_WAIT_S, targets_from
    from remote.ssh import connect, run_sync
    names = names_for(config)
    targets = targets_from(config, outputs, ("app",))
    moment = now or dt.datetime.now(dt.timezone.utc)

    async def main() -> str:
        from contextlib import AsyncExitStack
        async with AsyncExitStack() as stack:
            conns = await asyncio.gather(*(stack.enter_async_context(connect(t, wait_s=BOOT_WAIT_S))
                                           for t in targets))
            held = await asyncio.gather(*(read(conn) for conn in conns))
            usable = [b for b in held if b is not None and b.good_for(names, moment, 0)]
            best = max(usable, key=lambda b: b.not_after, default=None)
            ordered = False
            if issue and (best is None or not best.good_for(names, moment)):
                note(f"  tls: ordering a certificate for {', '.join(names)} at "
                     f"{acme_for(config.tls, sandbox_acme).directory}")
                best = await order(conns, names, acme_for(config.tls, sandbox_acme))
                ordered = True
            if best is None:
                return "no server holds a certificate yet: the tls phase orders one"
            stale = [conn for conn, b in zip(conns, held) if b is None or b.pem != best.pem]
            await asyncio.gather(*(install(conn, best, config.project, strict=issue)
                                   for conn in stale))
            if issue:       # every proxy loads it, also one that missed an earlier reload
                fresh = {id(c) for c in stale}
                await asyncio.gather(*(reload(conn, config.project, strict=True)
                                       for conn in conns if id(conn) not in fresh))
            how = "ordered" if ordered else "kept"
            return (f"certificate {how} (serial {best.serial:x}, {best.days_left(moment):.0f} days "
                    f"left), on {len(stale)} of {len(conns)} app server(s) newly")
    return run_sync(main(), what="tls certificates")

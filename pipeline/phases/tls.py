"""TLS: the [dns] names answer over HTTPS with a certificate from the ACME directory.

The proxy (app/proxy.py, Caddy in the app's stack) gets the certificates
itself; this phase waits until every name presents a certificate that the
expected root verifies (pebble's root on the sandbox, the system store on
Hetzner), then checks the health path over HTTPS and the HTTP->HTTPS redirect
(checks/https.py). Caddy backs off after the tries it made before DNS pointed
here, so when a name has no certificate yet the proxy is restarted, and it
tries again at once (again RESTART_AGAIN_S later while there is still none, at
most MAX_RESTARTS times: one try can fail too, and its back-off outlasts the wait). The checkpoint key is the names, the address, the hosts and
[tls]: an unchanged deploy does not dial again; `verify --after` does.
"""
from __future__ import annotations

import time

from errors import DeployError, RemoteError
from pipeline.checkpoint import key_of
from pipeline.engine import PhaseResult

name = "tls"
FIRST_WAIT_S, MAX_WAIT_S = 0.5, 5.0
RESTART_AGAIN_S, MAX_RESTARTS = 30.0, 3


class TlsFailed(RemoteError):
    pass


def _inputs(config, outputs):
    from app.proxy import names_for
    from domains.target import dns_target
    names = names_for(config)
    address = next(r.address for r in dns_target(config, outputs).records if r.type == "A")
    return names, address


def key(ctx) -> str | None:
    if ctx.config.tls is None or ctx.config.app is None:
        return None
    if _tiered(ctx.outputs):
        return None       # runs on every deploy: the tool renews 3-tier certificates (app/certs.py)
    names, address = _inputs(ctx.config, ctx.outputs)
    # The hosts too: the same address can front another proxy (a switch down serves from
    # the db server, whose proxy has yet to get its certificate).
    hosts = tuple((h.role, h.name, h.id) for h in ctx.outputs.hosts)
    return key_of(name, ctx.fingerprint, names, address, repr(ctx.config.tls),
                  ctx.config.app.health_path, hosts)


def expected_root(target) -> bytes | None:
    """The root certificates must chain to: pebble's (new on every pebble start) on the sandbox."""
    acme = getattr(target, "acme", None)
    if target.is_sandbox:
        if not acme:
            raise DeployError("the sandbox runs no ACME server: restart it with machines "
                              "(`hetzner-deploy sandbox down`, then deploy again)")
        from sandbox.acme import issued_root
        return issued_root(acme["management"], acme["ca_file"])
    return None


def _pending_migration(ctx) -> bool:
    from domains.migration import Migration, folder_for
    from domains.target import dns_target
    zone = dns_target(ctx.config, ctx.outputs).zone
    return Migration(folder_for(ctx.workdir), zone).pending()


def run(ctx) -> PhaseResult:
    config = ctx.config
    if config.tls is None or config.app is None:
        return PhaseResult("no [tls] in deploy.toml: plain HTTP", status="skipped")
    if _pending_migration(ctx):
        return PhaseResult("a migration is in progress: the names still point at the old host",
                           status="skipped")
    held = ""
    if _tiered(ctx.outputs):
        from app.certs import ensure
        held = "; " + ensure(config, ctx.outputs, getattr(ctx.target, "acme", None), issue=True,
                             note=ctx.progress.note)
    return PhaseResult(wait_https(config, ctx.outputs, ctx.target, ctx.progress.note) + held,
                       record_key=key(ctx))


def _tiered(outputs) -> bool:
    from app.service import is_tiered
    return outputs is not None and is_tiered(outputs)


def wait_https(config, outputs, target, note=lambda line: None) -> str:
    """Until every name answers over HTTPS with a valid certificate and HTTP redirects (the
    tls phase, and `migrate cutover` after it moved the names); the summary line, or
    TlsFailed after [tls] timeout_s."""
    from checks.https import check_name, check_redirect
    names, address = _inputs(config, outputs)
    root = expected_root(target)
    health = config.app.health_path
    started = time.monotonic()
    end, wait, said = started + config.tls.timeout_s, FIRST_WAIT_S, None
    restarts, restarted_at = 0, 0.0
    while True:
        results = [check_name(address, n, root, health) for n in names]
        if all(r.ok for r in results):
            break
        progress = f"  tls: {sum(r.ok for r in results)}/{len(results)} names on HTTPS"
        if progress != said:
            note(progress + ", waiting for the proxy's certificates")
            said = progress
        due = restarts == 0 or time.monotonic() - restarted_at >= RESTART_AGAIN_S
        if (due and restarts < MAX_RESTARTS and not all(r.handshake_ok for r in results)
                and not _tiered(outputs)):
            from app.service import restart_proxy_all
            restart_proxy_all(config, outputs)
            restarts, restarted_at = restarts + 1, time.monotonic()
        if time.monotonic() + wait > end:
            raise TlsFailed("no valid HTTPS within "
                            f"{config.tls.timeout_s} s: " + "; ".join(r.detail for r in results if not r.ok))
        time.sleep(wait)
        wait = min(wait * 2, MAX_WAIT_S)
    wrong = [why for n in names if (why := check_redirect(address, n))]
    if wrong:
        raise TlsFailed("; ".join(wrong))
    warn = [f"{r.name} expires in {r.days_left:.0f} days" for r in results
            if r.warns(config.tls.warn_days)]
    return (f"{len(names)} name(s) on HTTPS ({results[0].issuer}), http redirects; "
            f"{time.monotonic() - started:.1f}s"
            + (f"; WARNING: {', '.join(warn)}" if warn else "")
            + f"; https://{names[0]}{health}")


def restore(ctx, record) -> str:
    return "names and address unchanged since the last deploy"


def after_checks(after) -> list:
    from checks.base import FAIL, NOT_CHECKED, OK, WARN, Check
    from checks.https import check_name, check_redirect
    title = "HTTPS certificate valid"
    config = after.config
    if config is None or config.tls is None or config.app is None:
        return [Check("after", title, NOT_CHECKED, "no [tls] in deploy.toml")]
    if after.outputs is None:
        return [Check("after", title, NOT_CHECKED, "no outputs yet")]
    try:
        names, address = _inputs(config, after.outputs)
        root = expected_root(after.target)
    except (DeployError, OSError) as exc:
        return [Check("after", title, NOT_CHECKED, getattr(exc, "message", str(exc)))]
    checks = []
    for n in names:
        r = check_name(address, n, root, config.app.health_path)
        if not r.ok:
            checks.append(Check("after", f"{title}: {n}", FAIL, r.detail,
                                "run hetzner-deploy deploy; the proxy's log: docker compose logs proxy"))
            continue
        redirect = check_redirect(address, n)
        if redirect:
            checks.append(Check("after", f"{title}: {n}", FAIL, redirect))
        elif r.warns(config.tls.warn_days):
            checks.append(Check("after", f"{title}: {n}", WARN, r.detail + " (renewal overdue?)"))
        else:
            checks.append(Check("after", f"{title}: {n}", OK, r.detail))
    return checks

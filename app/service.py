"""From deploy.toml and the stack's outputs to releases on every app host (sync entry points).

Hosts are those of role all-in-one or app; on 3-tier (a db host beside the app
hosts) the db host first gets the data services and the app hosts get rolling,
load-balancer-gated releases (app/rolling.py, app/tiers.py, app/lb.py). Each is reached at its public IPv4
and trusted only through its pinned host key (remote/hostkeys.py); root logs in
with the private half of [ssh] public_key (the same path without .pub).
"""
from __future__ import annotations

from dataclasses import dataclass

from app.releases import AppSpec, Outcome, Release, deploy, list_releases, probe, rollback
from errors import ConfigError, RemoteError
from remote import commands as c
from remote import hostkeys
from remote.ssh import Target, connect, run_sync

APP_ROLES = ("all-in-one", "app")


def spec_from(config, acme=None, *, shared_certs: bool = False) -> AppSpec:
    """acme: the sandbox's pebble (pipeline.target.Target.acme) when the target is the sandbox.
    shared_certs: 3-tier app servers, whose proxy serves the certificate of app/certs.py."""
    if config.app is None:
        raise ConfigError("no [app] section in deploy.toml: add compose and env_file (see README)")
    a = config.app
    compose, files = a.compose_bytes(), a.files_bytes()
    if config.tls is not None:
        compose, files = _with_tls(config, compose, files, acme, shared_certs)
    source = None
    if a.image_source == "build":
        from app.releases import Source
        source = Source(a.repo, a.ref, a.deploy_key_bytes(), (a.repo_host_key + "\n").encode())
    return AppSpec(config.project, compose, a.env_bytes(), a.health_path, a.health_port,
                   a.health_timeout_s, a.keep, a.smoke, files, source)


def _with_tls(config, compose: bytes, files, acme, shared: bool):
    """[tls]: the proxy joins the release (app/proxy.py); on the sandbox, Caddy's ACME directory
    is pebble, trusted through pebble's listener CA, and its image is the sandbox's own."""
    from pathlib import Path

    from app import proxy
    tls = config.tls
    directory, image, ca = tls.directory, tls.image, None
    if acme:
        directory, image = acme["directory"], "sandbox/caddy"
        ca = None if shared else Path(acme["ca_file"]).read_bytes()
    names = proxy.names_for(config)
    taken = {name for name, _ in files}
    if proxy.CADDYFILE in taken or proxy.ACME_CA in taken:
        raise ConfigError(f"app.files: {proxy.CADDYFILE} and {proxy.ACME_CA} are the TLS proxy's")
    extra = [(proxy.CADDYFILE, proxy.caddyfile(tls, names, directory, ca_root=ca is not None,
                                               health_path=config.app.health_path,
                                               shared=shared))]
    if ca is not None:
        extra.append((proxy.ACME_CA, ca))
    return (proxy.with_proxy(compose, tls, image, ca_root=ca is not None, shared=shared),
            tuple(files) + tuple(extra))


def client_key_path(config) -> str:
    public = config.ssh_public_key
    private = public.with_suffix("") if public.suffix == ".pub" else public
    if not private.is_file():
        raise ConfigError(f"ssh.public_key: the private key {private} (beside {public.name}) is "
                          f"needed to log in to the servers")
    return str(private)


def targets_from(config, outputs, roles: tuple[str, ...] = APP_ROLES) -> list[Target]:
    hosts = [h for h in outputs.hosts if h.role in roles]
    if not hosts:
        raise RemoteError(f"the stack has no host of role {' or '.join(roles)} to reach")
    key = client_key_path(config)
    targets = []
    for h in hosts:
        public = hostkeys.load_public(config.environment, h.name)
        if not public:
            raise RemoteError(f"{h.name}: no pinned host key in {hostkeys.keys_root()}; a server "
                              f"created before `generate` pinned one must be adopted with "
                              f"`hetzner-deploy adopt --trust-host-key`")
        if not h.ipv4:
            raise RemoteError(f"{h.name}: no public IPv4 address in the outputs")
        targets.append(Target(h.ipv4, public, key, name=h.name))
    return targets


@dataclass(frozen=True)
class HostOutcome:
    target: Target
    outcome: Outcome
    # What the load balancer gate had to say on the way (3-tier: health it could not confirm,
    # a target put back); the phase's summary carries it.
    notes: tuple[str, ...] = ()


# A server created by this very deploy may still be booting: wait this long for SSH and cloud-init.
BOOT_WAIT_S = 300.0


async def wait_booted(conn, deadline_s: float = BOOT_WAIT_S) -> None:
    import asyncio
    loop = asyncio.get_running_loop()
    end, pause = loop.time() + deadline_s, 0.2
    while (await conn.run(c.boot_finished(), check=False, timeout=15)).exit_status != 0:
        if loop.time() + pause >= end:
            raise RemoteError(f"{conn.target.label}: cloud-init did not finish within "
                              f"{deadline_s:g} s (see /var/log/cloud-init-output.log on the server)")
        await asyncio.sleep(pause)
        pause = min(pause * 2, 5.0)


def _each(targets, make, *, boot_wait: bool = True):
    async def main():
        results = []
        # One host after the other: a failed release stops before the next host is touched.
        for target in targets:
            async with connect(target, wait_s=BOOT_WAIT_S) as conn:
                if boot_wait:
                    await wait_booted(conn)
                results.append(HostOutcome(target, await make(conn)))
        return results
    return run_sync(main(), what="app phase")


async def _deploy_when_booted(conn, spec: AppSpec, **options) -> Outcome:
    # The probe says whether the server has booted too, so a server that is up costs one
    # round trip, not a boot check and then the probe.
    state = await probe(conn, spec.project)
    if not state.booted:
        await wait_booted(conn)
        state = None          # the deploy asks again once the server is up
    return await deploy(conn, spec, state=state, **options)


def is_tiered(outputs) -> bool:
    return bool(outputs.by_role("db")) and bool(outputs.by_role("app"))


def tier_specs(config, outputs, acme=None, *, keep_old_app: bool = False) -> tuple[AppSpec, AppSpec]:
    """(the db host's spec, the app hosts' spec) from the one app of deploy.toml.

    keep_old_app: a switch from one server is under way (pipeline/tier_switch.py): the db
    host keeps running the whole app, its databases also published on the private IP,
    gated like the one server it was (its health path), until DNS left it."""
    import dataclasses

    from app import tiers
    base = spec_from(config, acme, shared_certs=True)
    (db,) = outputs.by_role("db")
    t = config.tier
    db_compose, app_compose = tiers.split(base.compose, t.db_services, db.private_ip)
    # The db host builds nothing and runs no smoke commands (they test the app); its gate
    # is its services' Compose healthchecks. The app's files go along only when a db
    # service reads one (an init script): else new app code is no new release there.
    files = base.files if tiers.db_reads_files(base.compose, t.db_services) else ()
    db_spec = dataclasses.replace(base, compose=db_compose, source=None, smoke=(), files=files,
                                  health_services=tuple(name for name, _ in t.db_services))
    app_spec = dataclasses.replace(base, compose=app_compose, health_over_ssh=True,
                                   env=tiers.app_env(base.env, t.db_host_env, db.private_ip))
    if keep_old_app:
        # The old app keeps its own proxy, which renews its certificates itself.
        old = spec_from(config, acme)
        db_spec = dataclasses.replace(
            old, compose=tiers.transitional(old.compose, t.db_services, db.private_ip))
    return db_spec, app_spec


def deploy_tiers(config, outputs, *, break_lock: bool = False, command: str = "app deploy",
                 acme=None, api=None, keep_old_app: bool = False) -> list[HostOutcome]:
    """api: the pipeline's target (endpoint and token) for the load balancer; resolved
    from the environment (without starting a sandbox) when not given."""
    from app.lb import open_gate
    from app.rolling import Member, roll
    db_spec, app_spec = tier_specs(config, outputs, acme, keep_old_app=keep_old_app)
    (db_target,) = targets_from(config, outputs, ("db",))
    by_name = {h.name: h for h in outputs.hosts}
    db = Member(db_target, by_name[db_target.name])
    apps = [Member(t, by_name[t.name]) for t in targets_from(config, outputs, ("app",))]
    said = []
    if config.tls is not None:
        # A server new to the load balancer (a scale-out) gets the certificate the others
        # serve before it joins; the first one is ordered by the tls phase, after DNS.
        from app.certs import ensure
        said.append("tls: " + ensure(config, outputs, acme, issue=False))
    gate = None
    if outputs.load_balancer_ipv4:
        if api is None:
            from pipeline.target import resolve_target
            api = resolve_target(start_sandbox=False)
        gate = open_gate(api.endpoint, api.token, outputs)
    done = run_sync(roll(db, db_spec, apps, app_spec, gate, group=config.tier.rolling_group,
                         command=command, break_lock=break_lock, connect=connect,
                         wait_s=BOOT_WAIT_S), what="app phase")
    out = [HostOutcome(m.target, o) for m, o in done]
    said += gate.said if gate is not None else []
    if said and out:
        out[-1] = HostOutcome(out[-1].target, out[-1].outcome, tuple(said))
    return out


def deploy_all(config, outputs, *, break_lock: bool = False, command: str = "app deploy",
               acme=None, api=None, keep_old_app: bool = False) -> list[HostOutcome]:
    if is_tiered(outputs):
        return deploy_tiers(config, outputs, break_lock=break_lock, command=command,
                            acme=acme, api=api, keep_old_app=keep_old_app)
    spec = spec_from(config, acme)
    return _each(targets_from(config, outputs),
                 lambda conn: _deploy_when_booted(conn, spec, command=command, break_lock=break_lock),
                 boot_wait=False)


def retire_old_app(config, outputs) -> list[str]:
    """The end of a switch from one server: the db host gets its db part, whose Compose
    `up --remove-orphans` removes the old app's containers; the databases' definitions are
    those it already runs (app/tiers.py _published), so they keep running."""
    db_spec, _ = tier_specs(config, outputs)
    (target,) = targets_from(config, outputs, ("db",))

    async def main():
        async with connect(target, wait_s=BOOT_WAIT_S) as conn:
            return await _deploy_when_booted(conn, db_spec, command="switch")
    outcome = run_sync(main(), what="stopping the old app")
    return [f"{target.name}: the old app is stopped; release {outcome.release} runs the "
            f"databases only"]


def rollback_all(config, outputs, to: str | None = None, *,
                 break_lock: bool = False, api=None) -> list[HostOutcome]:
    a = config.app
    if a is None:
        raise ConfigError("no [app] section in deploy.toml")
    # Rollback needs the checks only, not the local files (they may have moved on).
    # On 3-tier: the app servers (their health path over SSH, as their releases were gated).
    tiered = is_tiered(outputs)
    spec = AppSpec(config.project, b"", b"", a.health_path, a.health_port, a.health_timeout_s,
                   a.keep, a.smoke, health_over_ssh=tiered)
    if not (tiered and outputs.load_balancer_ipv4):
        return _each(targets_from(config, outputs),
                     lambda conn: rollback(conn, spec, to, break_lock=break_lock))
    # 3-tier: one app server at a time out of the load balancer while it restarts.
    import asyncio

    from app.lb import open_gate
    from pipeline.target import resolve_target
    api = api or resolve_target(start_sandbox=False)
    gate = open_gate(api.endpoint, api.token, outputs)
    hosts = {h.name: h for h in outputs.hosts}

    async def one(conn):
        host = hosts[conn.target.name]
        await asyncio.to_thread(gate.remove, [host])
        done = await rollback(conn, spec, to, break_lock=break_lock)
        await asyncio.to_thread(gate.add, [host])
        return done
    return _each(targets_from(config, outputs, ("app",)), one)


def releases_all(config, outputs) -> list[tuple[Target, list[Release]]]:
    targets = targets_from(config, outputs)

    async def main():
        out = []
        for target in targets:
            async with connect(target) as conn:
                out.append((target, await list_releases(conn, config.project)))
        return out
    return run_sync(main(), what="app releases")


def trust_host_keys(config, outputs) -> list[tuple[str, str, bool]]:
    """Pin the host key each app host presents now, where none is pinned yet (adopt only).
    [(server, fingerprint, newly pinned)]: the caller prints every fingerprint."""
    from remote.ssh import fetch_host_key
    out = []
    for h in (h for h in outputs.hosts if h.role in APP_ROLES):
        pinned = hostkeys.load_public(config.environment, h.name)
        if pinned:
            out.append((h.name, hostkeys.fingerprint(pinned), False))
            continue
        public = run_sync(fetch_host_key(h.ipv4), what="adopt --trust-host-key")
        hostkeys.pin_public(config.environment, h.name, public)
        out.append((h.name, hostkeys.fingerprint(public), True))
    return out


def restart_proxy_all(config, outputs) -> list[HostOutcome]:
    """Restart the TLS proxy of the current release: Caddy tries for its certificates at once
    on start, instead of after its back-off from the tries made before DNS pointed here."""
    from app.proxy import PROXY_SERVICE
    from app.releases import current_release

    async def restart(conn):
        release = await current_release(conn, config.project)
        if release is None:
            raise RemoteError(f"{conn.target.label}: no current release to restart the proxy of")
        await conn.run(c.compose(config.project, release, "restart", PROXY_SERVICE), timeout=120)
        return release
    # The db server alone serves the app while a switch down is under way
    # (pipeline/tier_down.single_view): then its proxy is the one.
    roles = APP_ROLES if any(h.role in APP_ROLES for h in outputs.hosts) else ("db",)
    return _each(targets_from(config, outputs, roles), restart, boot_wait=False)

"""Releases on one server: upload, start, health-gate, switch `current`, roll back, prune.

Layout (remote/commands.py): /opt/<project>/releases/<id>/{compose.yaml,.env,MARKER}
with `current` a symlink to the release that passed its checks. A release id is
the first 12 hex digits of sha256(compose, .env): the same files are the same
release, so a redeploy with nothing changed is a no-op decided by the hashes the
server reports (sha256sum of current's files), not by a local checkpoint.

The .env bytes go to the server by SFTP only (0600, root) and never into a
message, log line or local file.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from dataclasses import dataclass, field

from app.health import url_for, wait_healthy
from app.lock import deploy_lock
from errors import RemoteError
from remote import commands as c

LOG_LINES = 30


@dataclass(frozen=True)
class Source:
    """[app] image_source = "build": the repository the server clones and builds from.
    `commit` is what `ref` resolved to on the server (git ls-remote, with the deploy key);
    it is part of the release id, so a branch that moved is a new release."""
    repo: str
    ref: str
    deploy_key: bytes = field(repr=False)
    known_hosts: bytes = b""
    commit: str | None = None


@dataclass(frozen=True)
class AppSpec:
    project: str
    compose: bytes
    env: bytes
    health_path: str = "/health"
    health_port: int = 80
    health_timeout_s: float = 120
    keep: int = 5
    smoke: tuple[tuple[str, ...], ...] = ()
    # The app's own files beside the Compose file ([app] files): (relative path, bytes).
    files: tuple[tuple[str, bytes], ...] = ()
    source: Source | None = None
    # The 3-tier db server: its gate is these Compose services' own healthchecks (it serves
    # no HTTP), not the health path.
    health_services: tuple[str, ...] = ()
    # The 3-tier app servers: their public port 80 answers the load balancer only (firewall),
    # so the health path is asked through an SSH tunnel to the server's own port.
    health_over_ssh: bool = False

    @property
    def compose_sha(self) -> str:
        return hashlib.sha256(self.compose).hexdigest()

    @property
    def env_sha(self) -> str:
        return hashlib.sha256(self.env).hexdigest()

    @property
    def release(self) -> str:
        h = hashlib.sha256(self.compose_sha.encode() + b"\0" + self.env_sha.encode())
        for name, data in sorted(self.files):     # no files: the id it always had
            h.update(b"\0" + name.encode() + b"\0" + hashlib.sha256(data).digest())
        if self.source is not None:               # built from git: the commit too
            if not self.source.commit:
                raise ValueError("the source commit is not resolved yet")
            h.update(b"\0source\0" + self.source.repo.encode() + b"\0" + self.source.commit.encode())
        return h.hexdigest()[:12]


@dataclass(frozen=True)
class Outcome:
    status: str                 # "unchanged" | "deployed"
    release: str
    previous: str | None
    url: str = ""
    pruned: tuple[str, ...] = ()


@dataclass(frozen=True)
class Release:
    name: str
    created: int
    status: str                 # "current" | "ok" | "failed" | "new"


class ReleaseFailed(RemoteError):
    """A release did not pass its checks; `log_tail` holds the containers' last lines."""

    def __init__(self, message: str, log_tail: tuple[str, ...] = ()):
        super().__init__(message)
        self.log_tail = log_tail


@dataclass(frozen=True)
class ServerState:
    """What the server reports in one round trip (remote/commands.py probe)."""
    booted: bool = False
    locked: bool = False
    current: str | None = None          # the release `current` points at
    compose_sha: str | None = None      # sha256 of current's compose file, as the server reads it
    env_sha: str | None = None
    running: tuple[str, ...] = ()       # ids of the project's running containers
    complete: bool = False              # the answer ended with its "end" line

    def unchanged_for(self, spec: "AppSpec", *, lock_is_ours: bool = False) -> bool:
        """Nothing to do: this release is current, its files hash as ours, and it runs.
        The release id covers [app] files too; the hashes catch files changed behind our back.
        A lock someone else holds means a deploy is under way: never a no-op then."""
        return (self.complete and self.booted and (lock_is_ours or not self.locked)
                and self.current == spec.release
                and (self.compose_sha, self.env_sha) == (spec.compose_sha, spec.env_sha)
                and bool(self.running))


_SHA = re.compile(r"[0-9a-f]{64}")


def parse_state(stdout: str) -> ServerState:
    facts: dict[str, str] = {}
    running: list[str] = []
    complete = False
    for line in stdout.splitlines():
        key, _, value = line.partition(" ")
        if key == "running":
            running.append(value)
        elif key == "end":
            complete = True
        else:
            facts.setdefault(key, value)
    # switch_current writes exactly "releases/<id>"; anything else is not a release of ours.
    link = facts.get("current", "")
    current = link.removeprefix("releases/") if link.startswith("releases/") else ""

    def sha(key: str) -> str | None:
        value = facts.get(key, "")
        return value if _SHA.fullmatch(value) else None
    return ServerState(booted=facts.get("boot") == "yes", locked=facts.get("lock") != "no",
                       current=current if c.is_release_name(current) else None,
                       compose_sha=sha("compose"), env_sha=sha("env"),
                       running=tuple(running), complete=complete)


async def probe(conn, project: str) -> ServerState:
    done = await conn.run(c.probe(project), check=False, timeout=30)
    return parse_state(done.stdout) if done.exit_status == 0 else ServerState()


async def current_release(conn, project: str) -> str | None:
    done = await conn.run(c.read_current(project), check=False)
    target = done.stdout.strip()
    return target.rsplit("/", 1)[-1] if done.exit_status == 0 and target else None


async def list_releases(conn, project: str) -> list[Release]:
    done = await conn.run(c.list_releases(project), check=False)
    current = await current_release(conn, project)
    found = []
    for folder in sorted(set(done.stdout.split())):
        name = folder.rsplit("/", 1)[-1]
        if not c.is_release_name(name):   # a marker in a folder we never named: not ours
            continue
        raw = await conn.run(c.read_marker(project, name), check=False)
        try:
            marker = json.loads(raw.stdout)
        except ValueError:
            marker = {}
        status = "current" if name == current else marker.get("status", "new")
        found.append(Release(name, int(marker.get("created", 0)), status))
    return sorted(found, key=lambda r: (r.created, r.name))


async def _mark(conn, project: str, release: str, status: str, spec: AppSpec | None = None,
                created: int | None = None) -> None:
    record = {"created": created or time.time_ns() // 1_000_000, "status": status}
    if spec is not None:
        record.update(compose_sha256=spec.compose_sha, env_sha256=spec.env_sha)
    await conn.upload(str(c.release_dir(project, release) / c.MARKER),
                      json.dumps(record, sort_keys=True).encode(), 0o600)


async def _logs(conn, spec: "AppSpec", release: str) -> tuple[str, ...]:
    done = await conn.run(c.compose_logs(spec.project, release, LOG_LINES), check=False, timeout=30)
    lines = (done.stdout + done.stderr).splitlines()[-LOG_LINES:]
    # An app that prints its own settings must not leak them through our error.
    secrets = [v for v in env_values(spec.env) if len(v) >= 4]
    return tuple(_mask(line, secrets) for line in lines)


def env_values(env: bytes) -> list[str]:
    values = []
    for line in env.decode("utf-8", "replace").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            values.append(line.split("=", 1)[1].strip().strip("'\""))
    return values


def _mask(line: str, secrets: list[str]) -> str:
    for s in secrets:
        line = line.replace(s, "***")
    return line


async def _start_and_check(conn, spec: AppSpec, release: str) -> str:
    """compose up, health, smoke: the URL on success, ReleaseFailed otherwise."""
    # A release built from git builds again when it starts (a rollback too): the image tags
    # Compose gives are per project, not per release, so the release's own source decides.
    if spec.source is not None or \
            (await conn.run(c.has_source(spec.project, release), check=False)).exit_status == 0:
        built = await conn.run(c.compose_build(spec.project, release), check=False, timeout=1800)
        if built.exit_status != 0:
            last = (built.stderr.strip() or built.stdout.strip()).splitlines()[-1:] or ["no output"]
            raise ReleaseFailed(f"`docker compose build` of release {release} exited "
                                f"{built.exit_status}: {last[0][:300]}")
    up = await conn.run(c.compose_up(spec.project, release), check=False, timeout=600)
    if up.exit_status != 0:
        last = (up.stderr.strip() or up.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise ReleaseFailed(f"`docker compose up` exited {up.exit_status}: {last[0][:300]}",
                            await _logs(conn, spec, release))
    if spec.health_services:
        return await _services_healthy(conn, spec, release)
    if spec.health_over_ssh:
        async with conn.forward(spec.health_port) as local:
            health = await wait_healthy("127.0.0.1", local, spec.health_path,
                                        spec.health_timeout_s)
        where = url_for(conn.target.address, spec.health_port, spec.health_path)
        health = dataclasses.replace(health, url=f"{where} (over SSH)")
    else:
        health = await wait_healthy(conn.target.address, spec.health_port, spec.health_path,
                                    spec.health_timeout_s)
    if not health.ok:
        raise ReleaseFailed(f"health check {health.url} failed after {health.attempts} tries "
                            f"within {spec.health_timeout_s:g} s ({health.detail})",
                            await _logs(conn, spec, release))
    for argv in spec.smoke:
        done = await conn.run(list(argv), check=False, timeout=120)
        if done.exit_status != 0:
            raise ReleaseFailed(f"smoke check `{' '.join(argv)[:120]}` exited {done.exit_status}",
                                await _logs(conn, spec, release))
    return health.url


async def _services_healthy(conn, spec: AppSpec, release: str) -> str:
    from app.health import wait_services_healthy
    ok, detail = await wait_services_healthy(conn, spec.project, spec.health_services,
                                             spec.health_timeout_s)
    if not ok:
        raise ReleaseFailed(f"services not healthy within {spec.health_timeout_s:g} s ({detail})",
                            await _logs(conn, spec, release))
    return ""      # no URL: the gate was not HTTP


async def _switch(conn, project: str, release: str) -> None:
    for argv in c.switch_current(project, release):
        await conn.run(argv)


async def _prune(conn, project: str, keep: int) -> tuple[str, ...]:
    releases = await list_releases(conn, project)
    current = next((r.name for r in releases if r.status == "current"), None)
    others = [r for r in releases if r.name != current]
    # Newest first; `keep` counts the current release.
    doomed = others[: max(0, len(others) - (keep - 1))] if current else others[:max(0, len(others) - keep)]
    for r in doomed:
        await conn.run(c.remove_release(project, r.name))
    return tuple(r.name for r in doomed)


async def resolve_source(conn, spec: AppSpec) -> AppSpec:
    """Put the deploy key and the git host's key on the server, and ask the repository
    (from the server, with that key) which commit the ref names now."""
    import dataclasses
    src, project = spec.source, spec.project
    await conn.run(c.make_git_dir(project))
    await conn.upload(str(c.deploy_key_path(project)), src.deploy_key, 0o600)
    await conn.upload(str(c.known_hosts_path(project)), src.known_hosts, 0o644)
    if c.SHA.fullmatch(src.ref):
        commit = src.ref
    else:
        done = await conn.run(c.git_ls_remote(project, src.repo, src.ref), check=False, timeout=120)
        first = done.stdout.split()[:1]
        if done.exit_status != 0 or not first or not c.SHA.fullmatch(first[0]):
            why = (done.stderr.strip().splitlines() or [f"exit {done.exit_status}"])[-1]
            raise RemoteError(f"{conn.target.label}: git ls-remote {src.repo} {src.ref} "
                              f"failed: {why[:300]}")
        commit = first[0]
    return dataclasses.replace(spec, source=dataclasses.replace(src, commit=commit))


async def _fetch_source(conn, spec: AppSpec, release: str) -> None:
    src = spec.source
    steps = [*c.git_fetch(spec.project, release, src.repo, src.ref),
             c.git_checkout(spec.project, release, src.commit)]
    for argv in steps:
        done = await conn.run(argv, check=False, timeout=600)
        if done.exit_status != 0:
            why = (done.stderr.strip().splitlines() or [f"exit {done.exit_status}"])[-1]
            raise RemoteError(f"{conn.target.label}: fetching {src.repo} at {src.commit[:12]} "
                              f"failed: {why[:300]}")


async def deploy(conn, spec: AppSpec, *, command: str = "app deploy",
                 break_lock: bool = False, state: ServerState | None = None) -> Outcome:
    """One release on one server. `state`: the server's probe answer when the caller
    already asked (service.py, right after connecting); asked here otherwise."""
    # Nothing changed: decided by what the server reports now, read-only, so no lock is
    # taken (a lock held by someone else sends us the locked way below, which says so).
    if spec.source is not None and spec.source.commit is None:
        spec = await resolve_source(conn, spec)
    state = state or await probe(conn, spec.project)
    if state.unchanged_for(spec):
        return Outcome("unchanged", spec.release, spec.release)
    async with deploy_lock(conn, spec.project, command, break_lock=break_lock):
        # Asked again under the lock: another deploy may have finished in between.
        state = await probe(conn, spec.project)
        previous = state.current
        if state.unchanged_for(spec, lock_is_ours=True):
            return Outcome("unchanged", previous, previous)
        release = spec.release
        folder = c.release_dir(spec.project, release)
        await conn.run(c.make_release_dir(spec.project, release))
        await conn.upload(str(folder / c.COMPOSE_NAME), spec.compose, 0o600)
        await conn.upload(str(folder / c.ENV_NAME), spec.env, 0o600)
        for name, data in spec.files:
            await conn.run(c.make_release_subdir(spec.project, release, name))
            await conn.upload(str(c.release_file(spec.project, release, name)), data, 0o644)
        if spec.source is not None:
            await _fetch_source(conn, spec, release)
        created = time.time_ns() // 1_000_000
        await _mark(conn, spec.project, release, "new", spec, created)
        try:
            url = await _start_and_check(conn, spec, release)
        except ReleaseFailed as failed:
            await _mark(conn, spec.project, release, "failed", spec, created)
            raise await _rolled_back(conn, spec, previous, failed) from None
        await _mark(conn, spec.project, release, "ok", spec, created)
        await _switch(conn, spec.project, release)
        pruned = await _prune(conn, spec.project, spec.keep)
        return Outcome("deployed", release, previous, url, pruned)


async def _rolled_back(conn, spec: AppSpec, previous: str | None, failed: ReleaseFailed) -> ReleaseFailed:
    where = conn.target.label
    if not previous or previous == spec.release:
        return ReleaseFailed(f"{where}: release {spec.release} failed: {failed.message}; "
                             f"no previous release to roll back to", failed.log_tail)
    try:
        await _start_and_check(conn, spec_for(spec, previous), previous)
    except ReleaseFailed as again:
        return ReleaseFailed(f"{where}: release {spec.release} failed: {failed.message}; rolling back "
                             f"to {previous} failed too: {again.message}", failed.log_tail)
    return ReleaseFailed(f"{where}: release {spec.release} failed: {failed.message}; rolled back to "
                         f"{previous}, which answers again", failed.log_tail)


def spec_for(spec: AppSpec, release: str) -> AppSpec:
    """The checks of `spec` applied to another release's files (already on the server)."""
    return AppSpec(spec.project, b"", b"", spec.health_path, spec.health_port,
                   spec.health_timeout_s, spec.keep, spec.smoke,
                   health_services=spec.health_services, health_over_ssh=spec.health_over_ssh)


async def rollback(conn, spec: AppSpec, to: str | None = None, *, break_lock: bool = False) -> Outcome:
    """Start an earlier release (default: the newest good one before current) and switch to it."""
    async with deploy_lock(conn, spec.project, "app rollback", break_lock=break_lock):
        releases = await list_releases(conn, spec.project)
        current = next((r.name for r in releases if r.status == "current"), None)
        names = [r.name for r in releases]
        if to is None:
            older = [r for r in releases if r.status == "ok" and r.name != current
                     and (current is None or r.created <= _created(releases, current))]
            if not older:
                raise RemoteError(f"{conn.target.label}: no earlier good release to roll back to "
                                  f"(releases: {', '.join(names) or 'none'})")
            to = older[-1].name
        elif to not in names:
            raise RemoteError(f"{conn.target.label}: no release {to!r} on the server "
                              f"(releases: {', '.join(names) or 'none'})")
        url = await _start_and_check(conn, spec_for(spec, to), to)
        await _switch(conn, spec.project, to)
        return Outcome("rolled back", to, current, url)


def _created(releases: list[Release], name: str) -> int:
    return next(r.created for r in releases if r.name == name)

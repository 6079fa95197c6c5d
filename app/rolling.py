"""The 3-tier app phase: the db server first, then the app servers in rolling groups.

Order and gates (issue 12 item 3):
1. The db server gets its part of the Compose project (app/tiers.py) and is gated on
   its services' own Compose healthchecks; a failure rolls it back (releases.deploy) and
   stops here, before any app server is touched.
2. The app servers: first those with no release yet (they serve nothing), each on
   its own as soon as it has booted, at most FRESH_PARALLEL releases at once (no
   lockstep batches: a slow boot holds up nobody else), then the serving ones [tier]
   rolling_group at a time. A group whose servers all report
   the release already current (the probe, one round trip each) is left alone: no load
   balancer call, so a redeploy with nothing changed stays a no-op. Otherwise the
   group's serving servers leave the load balancer (app/lb.py), get the release
   (concurrently within the group, each gated on its health path), and go back in
   once the API reports them healthy.
3. A server that fails its gate is rolled back by releases.deploy; the rollout stops
   there, the app servers this run already updated are rolled back to the release they
   had (out of the load balancer while they restart), and the error names the server.
An interrupted run leaves at most one group out of the load balancer; the next deploy
puts it back (app/lb.py ensure_in for a group with nothing to do, the usual add otherwise).
"""
from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass

from app.releases import AppSpec, Outcome, ReleaseFailed, deploy, probe, resolve_source, rollback
from errors import DeployError, InterruptedRun, RemoteError


@dataclass(frozen=True)
class Member:
    target: object      # remote.ssh.Target
    host: object        # runner.outputs.Host (its id is the load balancer target's server)


# Servers with no release yet serve nothing, so nothing is protected by rolling them one
# group at a time: they go first (the first deploy of 20 app servers would otherwise take
# 20 rounds) and add capacity before serving ones leave. Each goes as soon as it has
# booted; this bounds the releases (SSH sessions, uploads, compose runs) under way at once.
FRESH_PARALLEL = 10


def groups(members: list, size: int) -> list[list]:
    return [members[i:i + size] for i in range(0, len(members), max(1, size))]


async def _fresh(apps: list, spec: AppSpec, connect, wait_s: float) -> set[str]:
    """The app servers with no current release (one probe each, all at once)."""
    async def one(m):
        async with connect(m.target, wait_s=wait_s) as conn:
            return m.target.name, (await probe(conn, spec.project)).current is None
    return {name for name, fresh in await asyncio.gather(*(one(m) for m in apps)) if fresh}


def order(apps: list, fresh: set[str], group: int) -> list[list]:
    """The rollout's groups: the fresh servers as one (deployed concurrently, FRESH_PARALLEL
    at most at once), then the serving ones in groups of `group`."""
    new = [m for m in apps if m.target.name in fresh]
    return ([new] if new else []) + groups([m for m in apps if m not in new], group)


async def _fresh_one(m, spec: AppSpec, slots: asyncio.Semaphore, *, connect, wait_s: float,
                     command: str, break_lock: bool):
    """(Member, Outcome) for a server with no release: it waits for its boot on its own,
    then takes one of the slots for its release."""
    async with connect(m.target, wait_s=wait_s) as conn:
        ready, state = await _ready(conn, spec)
        if state.unchanged_for(ready):
            return m, Outcome("unchanged", ready.release, ready.release)
        async with slots:
            return m, await deploy(conn, ready, command=command, break_lock=break_lock,
                                   state=state)


async def _ready(conn, spec: AppSpec):
    """(the spec with its source resolved, the server's state), the server booted."""
    from app.service import wait_booted
    state = await probe(conn, spec.project)
    if not state.booted:
        await wait_booted(conn)
        state = await probe(conn, spec.project)
    if spec.source is not None and spec.source.commit is None:
        spec = await resolve_source(conn, spec)
    return spec, state


async def _gate(gate, method: str, hosts) -> None:
    if gate is not None and hosts:
        await asyncio.to_thread(getattr(gate, method), hosts)


async def roll(db: Member, db_spec: AppSpec, apps: list[Member], app_spec: AppSpec, gate, *,
               group: int, command: str, break_lock: bool, connect, wait_s: float):
    """[(Member, Outcome)] in the order deployed; ReleaseFailed/RemoteError on a failure."""
    from app.service import _deploy_when_booted
    results = []
    async with connect(db.target, wait_s=wait_s) as conn:
        results.append((db, await _deploy_when_booted(conn, db_spec, command=command,
                                                      break_lock=break_lock)))
    updated: list[tuple[Member, Outcome]] = []
    fresh = await _fresh(apps, app_spec, connect, wait_s) if len(apps) > group else set()
    chunks = order(apps, fresh, group)
    for number, chunk in enumerate(chunks):
        if number == 0 and fresh:
            slots = asyncio.Semaphore(FRESH_PARALLEL)
            done = await asyncio.gather(
                *(_fresh_one(m, app_spec, slots, connect=connect, wait_s=wait_s,
                             command=command, break_lock=break_lock) for m in chunk),
                return_exceptions=True)
            _reraise(done)
            ok = [o for o in done if not isinstance(o, BaseException)]
            failed = [(m, o) for m, o in zip(chunk, done) if isinstance(o, BaseException)]
            updated += [(m, o) for m, o in ok if o.status == "deployed"]
            results += ok
            # They are in (Terraform put them there): wait until the API calls them healthy.
            try:
                await _gate(gate, "add", [m.host for m, _ in ok])
            except DeployError as exc:
                failed = failed or [(chunk[0], exc)]
            if failed:
                untouched = [m.target.name for c in chunks[1:] for m in c]
                raise await _stop(failed[0][1], updated, untouched, app_spec, gate,
                                  connect=connect, wait_s=wait_s)
            continue
        async with AsyncExitStack() as stack:
            conns = [await stack.enter_async_context(connect(m.target, wait_s=wait_s))
                     for m in chunk]
            ready = await asyncio.gather(*(_ready(conn, app_spec) for conn in conns))
            todo = []
            for m, conn, (spec, state) in zip(chunk, conns, ready):
                if state.unchanged_for(spec):
                    results.append((m, Outcome("unchanged", spec.release, spec.release)))
                else:
                    todo.append((m, conn, spec, state))
            if not todo:
                # Serving the release already: only make sure a run cut off earlier did
                # not leave them out of the load balancer.
                await _gate(gate, "ensure_in", [m.host for m in chunk])
                continue
            # Only servers that serve something are in rotation for a reason; a fresh one
            # (no release yet) stays where Terraform put it.
            await _gate(gate, "remove", [m.host for m, _, _, state in todo if state.current])
            done = await asyncio.gather(
                *(deploy(conn, spec, command=command, break_lock=break_lock)
                  for _, conn, spec, _ in todo), return_exceptions=True)
            _reraise(done)
            ok = [(t[0], o) for t, o in zip(todo, done) if not isinstance(o, BaseException)]
            failed = [(t[0], o) for t, o in zip(todo, done) if isinstance(o, BaseException)]
            updated += ok
            # Back in: the updated ones and the failed ones, which releases.deploy rolled
            # back to what they served before.
            try:
                await _gate(gate, "add", [m.host for m, _, _, _ in todo])
            except DeployError as exc:
                if not failed:
                    failed = [(todo[0][0], exc)]
            if failed:
                untouched = [m.target.name for c in chunks[number + 1:] for m in c]
                raise await _stop(failed[0][1], updated, untouched, app_spec, gate,
                                  connect=connect, wait_s=wait_s)
            results += ok
    return results


def _reraise(done: list) -> None:
    for item in done:
        if isinstance(item, (InterruptedRun, asyncio.CancelledError)) or (
                isinstance(item, BaseException) and not isinstance(item, DeployError)):
            raise item     # interrupted or a bug: the group may stay out (see top)


async def _stop(failure: DeployError, updated, untouched: list[str], spec: AppSpec, gate, *,
                connect, wait_s: float) -> DeployError:
    """The rollout's error after rolling back the servers this run updated."""
    back, stuck = [], []
    for m, outcome in updated:
        if outcome.status != "deployed" or not outcome.previous or outcome.previous == outcome.release:
            if outcome.status == "deployed":
                stuck.append(f"{m.target.name} (no earlier release)")
            continue
        try:
            await _gate(gate, "remove", [m.host])
            async with connect(m.target, wait_s=wait_s) as conn:
                await rollback(conn, spec, outcome.previous)
            await _gate(gate, "add", [m.host])
            back.append(m.target.name)
        except DeployError as exc:
            stuck.append(f"{m.target.name} ({exc.message})")
    words = [failure.message, "rolling release stopped"]
    if back:
        words.append(f"rolled back {', '.join(back)} to their previous release")
    if stuck:
        words.append(f"not rolled back: {'; '.join(stuck)}")
    if untouched:
        words.append(f"not updated: {', '.join(untouched)}")
    log_tail = getattr(failure, "log_tail", ())
    if isinstance(failure, ReleaseFailed) or log_tail:
        return ReleaseFailed("; ".join(words), log_tail)
    return RemoteError("; ".join(words))

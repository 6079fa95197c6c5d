"""Tier switching: `switch --to P`, and `deploy --profile P` when P is not what runs.

A switch is an ordinary deploy of the same stack with another profile (the
same work directory, state and names: never a fresh stack beside the old
one), with a preview before anything happens in the cloud:

- the recommendation for the configured call volume,
- the stack diff: the files `generate` would write, old against new,
- the cost before and after, each server line naming its price row (a
  rescaled server pays the row for new orders and rescales, since June 2026),
- the data path: what happens to the server and the volume.

The Terraform plan summary follows from the infra phase, and the usual review
(pipeline/review.py) decides, data-loss guard included, before any `yes`.

What runs today is read from the state (the servers' `profile` label), not
from the stack's manifest: after an interrupted switch the stack already says
the new profile while the server may still be the old type, and a rerun must
show and finish the switch rather than call it done.

ccx33 <-> ccx43 is an in-place rescale of the all-in-one server (keep_disk,
so both ways work). One server -> 3-tier keeps the server as the db server
(`moved` blocks: the volume and its attachment never change) and runs in
stages that a rerun resumes (pipeline/tier_switch.py). 3-tier -> one server
is the mirror (pipeline/tier_down.py): the db server becomes the single server
again (`moved` blocks db -> main), the whole app on it and DNS at it before the
load balancer and the app servers go.
"""
from __future__ import annotations

import difflib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from errors import RefusedError

SINGLE_SERVER = ("ccx33", "ccx43")
MAX_DIFF_LINES = 80


@dataclass(frozen=True)
class FileDiff:
    name: str
    status: str                    # create | update | delete
    lines: tuple[str, ...] = ()    # unified diff (text files; manifest.json and deletes: none)
    note: str = ""


@dataclass(frozen=True)
class SwitchPreview:
    current: str
    target: str
    recommendation: object         # generator.sizing.Recommendation
    diffs: tuple[FileDiff, ...]
    cost_before: object | None     # pricing.estimate.Estimate, None when not priced
    cost_after: object | None
    cost_error: str
    data_path: str

    def lines(self) -> list[str]:
        """The preview for a person, in the order the brief of a switch asks for."""
        rec = self.recommendation
        out = [f"switch {self.current} -> {self.target}"]
        advice = (f"recommendation: {rec.profile} ({rec.reason})")
        if rec.profile != self.target:
            advice += f"; note: {self.target} is not the recommended profile for this volume"
        out.append(advice)
        out.append("stack diff:" if self.diffs else "stack diff: none (the stack already "
                   f"renders {self.target}; the switch resumes where it stopped)")
        for d in self.diffs:
            out.append(f"  {d.status} {d.name}" + (f" ({d.note})" if d.note else ""))
            out += [f"    {line}" for line in d.lines[:MAX_DIFF_LINES]]
            if len(d.lines) > MAX_DIFF_LINES:
                out.append(f"    ... {len(d.lines) - MAX_DIFF_LINES} more line(s)")
        out += self.cost_lines()
        out.append(f"data path: {self.data_path}")
        return out

    def cost_lines(self) -> list[str]:
        from pricing.estimate import cents, plain
        if self.cost_before is None or self.cost_after is None:
            return [f"cost: unknown ({self.cost_error})"]
        before, after = self.cost_before, self.cost_after
        delta = after.total_monthly_eur - before.total_monthly_eur
        out = [f"cost: {cents(before.total_monthly_eur)} -> {cents(after.total_monthly_eur)} "
               f"{after.currency} a month ({'+' if delta >= 0 else ''}{cents(delta)})"]
        for label, est in (("now", before), ("after", after)):
            for item in est.items:
                if item.basis:   # the server lines: which rule, which row
                    out.append(f"  {label}: {item.quantity} x {item.name} at "
                               f"{plain(item.unit_eur)}")
        if after.new_server_row_date:
            out.append(f"  a rescaled server pays the {after.new_server_row_date.isoformat()} "
                       f"row (new orders and rescales); one that keeps its type keeps its price")
        return out


def _state(ctx):
    """The typed state; a pg or s3 backend is read with `state pull`, which needs
    an initialised work directory (a fresh checkout in CI has none yet)."""
    from pipeline.stack import ensure_init
    from runner.state import load_state
    from runner.workspace import backend_kind, sync_copy
    session = ctx.session
    if backend_kind(session.ws.stack_dir) != "local" and \
            not (session.ws.workdir / ".terraform").is_dir():
        sync_copy(session.ws)
        ensure_init(session)
    return load_state(session.ws, session.tf)


def deployed_profile(ctx) -> str | None:
    """The profile the servers in the state were built with (their `profile` label);
    None when nothing is deployed."""
    state = _state(ctx)
    for server in state.of_type("hcloud_server"):
        profile = (server.attributes.get("labels") or {}).get("profile")
        if profile:
            return str(profile)
    return None


def running_servers(ctx) -> dict[str, str]:
    state = _state(ctx)
    return {str(s.attributes.get("name")): str(s.attributes.get("server_type"))
            for s in state.of_type("hcloud_server") if s.attributes.get("name")}


def running_after(current: str, target: str, name: str,
                  running: dict[str, str]) -> dict[str, str]:
    """What still runs after the switch, by its new name (server name -> type), so that the
    estimate prices it at its running row unless its type changes (a rescale pays the
    current row). One server -> 3-tier: it runs on as `<name>-db`; 3-tier -> one server:
    the db server runs on as `<name>`, the app servers are gone."""
    if target == "3-tier" and current in SINGLE_SERVER:
        return {f"{name}-db": t for t in running.values()}
    if current == "3-tier" and target in SINGLE_SERVER:
        db = running.get(f"{name}-db")
        return {name: db} if db else {}
    return running


def refuse_unsupported(current: str, target: str) -> None:
    if current in SINGLE_SERVER and target in (*SINGLE_SERVER, "3-tier"):
        return
    if current == "3-tier" and target in SINGLE_SERVER:
        return
    raise RefusedError(
        f"switching {current} -> {target} is not built: ccx33 <-> ccx43 (an in-place "
        "rescale), one server -> 3-tier and 3-tier -> one server are (nothing was changed)")


def _data_path(current: str, target: str, server: str, volume: str,
               db_type: str = "") -> str:
    if current == "3-tier":
        rescale = (f"rescaled in place from {db_type} to {target} (keep_disk: the server is "
                   f"off for the rescale, so the app and its databases stop for it)"
                   if db_type and db_type != target else f"kept as {target}, not rescaled")
        return (f"the volume {volume} stays on the db server {server}-db, which becomes the "
                f"single server {server} (Terraform `moved` blocks: the same server id, the "
                f"volume and its attachment never change; {rescale}); first the db server runs "
                f"the whole app beside its databases (not restarted) and the names move to "
                f"its public address; [dns] ttl later it leaves the private network, then the "
                f"load balancer, the app servers and the network are deleted and the "
                f"databases restart once without their private-network ports")
    if target == "3-tier":
        return (f"{server} becomes the db server {server}-db (Terraform `moved` blocks: "
                f"renamed, joined to the private network, given the db firewall, all in "
                f"place); the volume {volume} stays attached to it and is never detached, "
                f"deleted or copied; PostgreSQL and Redis keep their files on it and are "
                f"published on its private IP only (they and the old app restart once for "
                f"that, a few seconds); the old app keeps serving on {server}'s "
                f"address (an extra firewall keeps 80/443 open) until the app servers are "
                f"healthy behind the load balancer and DNS points at it, and only then is it "
                f"stopped and the extra firewall removed")
    direction = "up" if SINGLE_SERVER.index(target) > SINGLE_SERVER.index(current) else "down"
    return (f"the volume {volume} stays attached to {server}; the server is powered off, "
            f"rescaled {direction} to {target} with keep_disk (CPU and RAM change, its disk "
            f"keeps its size so the switch can go back), and powered on: the server id, its "
            f"addresses and the volume stay; PostgreSQL and Redis stop for the restart and "
            f"start again on the same volume")


def _header_only(lines: tuple[str, ...]) -> bool:
    """Every file's first line names the generate command, hence the profile: a
    change there alone is noise in a review."""
    changed = [ln for ln in lines if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    return bool(changed) and all(ln[1:].startswith("# Generated by `hetzner-deploy generate")
                                 for ln in changed)


def stack_diff(config, target_name: str, stack_dir: Path) -> tuple[FileDiff, ...]:
    """What `generate --profile target` would change in the stack, without writing it."""
    from generator.config_tier import sized
    from generator.manifest import MANIFEST_NAME, read_manifest
    from generator.profiles import get_profile
    from generator.render import render_stack
    files = render_stack(config, sized(get_profile(target_name), config.tier,
                                       config.calls_per_month))
    previous = read_manifest(stack_dir) if (stack_dir / MANIFEST_NAME).is_file() else None
    diffs = []
    for name, new in files.items():
        path = stack_dir / name
        old = path.read_bytes() if path.is_file() else None
        if old == new:
            continue
        lines: tuple[str, ...] = ()
        note = ""
        status = "update" if old is not None else "create"
        if name != MANIFEST_NAME:   # its hashes follow from the other files
            lines = tuple(difflib.unified_diff(
                (old or b"").decode(errors="replace").splitlines(),
                new.decode(errors="replace").splitlines(),
                f"a/{name}", f"b/{name}", n=1, lineterm=""))
            if old is not None and _header_only(lines):
                lines, note = (), "only the generate command in its header differs"
        diffs.append(FileDiff(name, status, lines, note))
    for name in (previous.names if previous else ()):
        if name not in files and (stack_dir / name).is_file():
            diffs.append(FileDiff(name, "delete"))
    return tuple(diffs)


def prepare(ctx) -> SwitchPreview | None:
    from generator.naming import base_name
    """The switch this run makes, or None when it is no switch (nothing deployed yet,
    or the servers already run the wanted profile). Refuses what is not built."""
    current, target = deployed_profile(ctx), ctx.profile.name
    if current is None or current == target:
        return None
    refuse_unsupported(current, target)
    from errors import DeployError
    from generator.sizing import recommend
    config = ctx.config
    stack_dir = ctx.stacks_dir / ctx.env
    running = running_servers(ctx)
    before = after = None
    error = ""
    try:
        from pricing.estimate import estimate
        from pricing.table import load_price_table
        table = load_price_table(config.pricing_table)   # [pricing] table, else the shipped one
        before = estimate(current, config, table, existing=running)
        # One server -> 3-tier: the same server runs on as the db server (renamed), at its price.
        after = estimate(target, config, table,
                         existing=running_after(current, target, base_name(config), running))
    except DeployError as exc:   # a price table without these types: say so, go on
        error = exc.message if hasattr(exc, "message") else str(exc)
    name = base_name(config)
    return SwitchPreview(current, target, recommend(config.calls_per_month, config.thresholds),
                         stack_diff(config, target, stack_dir), before, after, error,
                         _data_path(current, target, name, f"{name}-data",
                                    running.get(f"{name}-db", "")))


@contextmanager
def stack_restored_on_refusal(stack_dir: Path, applied=lambda: False):
    """A switch that is refused or not confirmed leaves the stack as it was.

    The generate phase rewrites the stack before the plan can be shown; when the
    review then refuses (or nobody says yes), nothing was applied, so the files
    the old manifest lists go back to their bytes and files it did not list go.
    Once terraform has started applying, the new stack stays: a rerun converges
    (a refusal after the apply, e.g. an unconfirmed DNS change, keeps it too).
    """
    from generator.manifest import MANIFEST_NAME, read_manifest
    old = read_manifest(stack_dir) if (stack_dir / MANIFEST_NAME).is_file() else None
    names = (*old.names, MANIFEST_NAME) if old else ()
    saved = {n: (stack_dir / n).read_bytes() for n in names if (stack_dir / n).is_file()}
    try:
        yield
    except RefusedError:
        if saved and not applied():
            new = read_manifest(stack_dir) if (stack_dir / MANIFEST_NAME).is_file() else None
            for n in (new.names if new else ()):
                if n not in saved:
                    (stack_dir / n).unlink(missing_ok=True)
            for n, data in saved.items():
                if not (stack_dir / n).is_file() or (stack_dir / n).read_bytes() != data:
                    (stack_dir / n).write_bytes(data)
        raise


def start_stopped_servers(ctx) -> list[str]:
    """Power on the stack's servers that are off; returns their names.

    A switch killed between the power-off and the power-on (kill -9, a lost
    machine) leaves the server off, and Terraform sees nothing left to do once
    the API already reports the new type and labels: the server has no power
    attribute. A switch run starts such a server again, which is the last step
    of the data path it promised. A server still of the old type needs no help:
    the plan rescales it, and the provider powers it on after change_type.
    """
    from checks import hetzner_api
    servers = [s.numeric_id for s in _state(ctx).of_type("hcloud_server")
               if s.numeric_id is not None]
    if not servers:
        return []
    client = hetzner_api.open_client(ctx.target.endpoint, ctx.target.token)
    started = []
    with hetzner_api.api_errors(ctx.target.endpoint, hetzner_api.timeout_of(client),
                                what="starting the stack's servers"):
        for server_id in servers:
            server = client.servers.get_by_id(server_id)
            if server.status == "off":
                client.servers.power_on(server).wait_until_finished()
                started.append(server.name)
    return started


def wait_hosts_back(ctx) -> list[str]:
    """After a rescale the app hosts power on again: wait until each answers SSH
    (with its pinned key) and its Docker answers, before the app phase looks at
    them. cloud-init's boot-finished survives the restart, so the app phase's own
    boot check would pass while Docker is still starting."""
    if ctx.config.app is None or ctx.outputs is None:
        return []
    import asyncio

    from app.service import BOOT_WAIT_S, targets_from
    from errors import RemoteError
    from remote import commands as c
    from remote.ssh import connect, run_sync

    async def one(target) -> str:
        async with connect(target, wait_s=BOOT_WAIT_S) as conn:
            loop = asyncio.get_running_loop()
            end, pause = loop.time() + BOOT_WAIT_S, 0.2
            while (await conn.run(c.running_containers(ctx.config.project), check=False,
                                  timeout=15)).exit_status != 0:
                if loop.time() + pause >= end:
                    raise RemoteError(f"{target.label}: Docker did not answer within "
                                      f"{BOOT_WAIT_S:g} s after the restart")
                await asyncio.sleep(pause)
                pause = min(pause * 2, 3.0)
        return target.name

    async def main():
        return [await one(t) for t in targets_from(ctx.config, ctx.outputs)]
    return run_sync(main(), what="waiting for the servers after the switch")


def wait_app_healthy(ctx) -> list[str]:
    """After a switch the app hosts restarted: wait until each answers its health
    path (the app phase may have found its containers running and checked nothing)."""
    if ctx.config.app is None or ctx.outputs is None:
        return []
    import asyncio

    from app.health import wait_healthy
    from app.service import APP_ROLES
    from errors import RemoteError
    a = ctx.config.app
    lines = []
    for host in (h for h in ctx.outputs.hosts if h.role in APP_ROLES and h.ipv4):
        health = asyncio.run(wait_healthy(host.ipv4, a.health_port, a.health_path,
                                          a.health_timeout_s))
        if not health.ok:
            raise RemoteError(f"{host.name}: the app did not answer {health.url} after the "
                              f"switch ({health.detail}, {health.attempts} tries in "
                              f"{a.health_timeout_s:g} s)")
        lines.append(f"{host.name}: {health.url} {health.detail}")
    return lines

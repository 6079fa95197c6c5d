"""3-tier -> one server (`switch --to ccx33|ccx43`), in stages a rerun resumes.

The db server becomes the single server again: the `moved` blocks db -> main in
main.tf.j2 keep its id, its volume and the volume's attachment; it is rescaled
in place (keep_disk) when the target type differs from the db type. What the
single stack cannot do in one apply, the stages do (the record and the
variables are pipeline/tier_switch.py's):

1. `serving`: the 3-tier stack with TF_VAR_db_serves_web=true (80/443 open on
   the db server), the whole app on the db server (the transitional Compose
   file: the databases' definitions are those the db part already runs, so they
   are not restarted, and the app servers keep reaching them), its health path
   answered on its public address, then the names moved to that address (the
   DNS phase with the single-server target: the load balancer left out).
2. `detaching`: once resolvers can no longer hold the load balancer's address
   ([dns] ttl after the move; a rerun before then says when), the 3-tier stack
   with TF_VAR_db_private_network=false: the db server leaves the private
   network in an apply of its own. In the single stack's apply Terraform deletes
   the subnet before it updates the server (the server's update waits for the
   firewall's), and the API refuses to delete a subnet a server is attached to.
3. `single`: the single-server stack: the load balancer, the app servers and
   the network go, the db server is renamed back (its pinned host key goes with
   the name); then the app phase gives it the plain Compose file, without the
   private publication (the databases restart once for that, their ports change),
   and the record is removed.

Each stage is an ordinary pipeline run of the same work directory (plan, review,
apply): the data-loss review judges every plan, so a plan that would replace the
db server or destroy the volume is refused unless --accept-data-loss.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from pipeline import tier_switch
from pipeline.tier_switch import THREE_TIER, Record

SERVING_PHASES = ("preflight", "generate", "infra", "outputs", "app")
DETACH_PHASES = ("generate", "infra", "outputs")


@dataclasses.dataclass(frozen=True)
class Step:
    lines: tuple[str, ...]
    result: object = None          # the last pipeline run's DeployResult
    finished: bool = False
    waiting_until: dt.datetime | None = None


def context_for(ctx, profile: str, **options):
    """The same run (config, target, work directory, confirmation) with another profile."""
    from pipeline.deploy import make_context
    opts = dataclasses.replace(ctx.options, profile=profile, **options)
    made = make_context(ctx.config, opts, ctx.target, progress=ctx.progress, confirm=ctx.confirm)
    # A session opened now reads the stage's variables; say them again all the same.
    tier_switch.refresh_terraform_env(made.session)
    return made


def _phases(names):
    from pipeline.phases import PHASES
    return [p for p in PHASES if p.name in names]


def single_view(outputs):
    """The outputs as the single-server stack will have them: the db host alone, no load
    balancer. The DNS phase points the names there (domains/target.py dns_target)."""
    (db,) = outputs.by_role("db")
    return dataclasses.replace(outputs, hosts=(db,), load_balancer_ipv4=None,
                               load_balancer_ipv6=None)


def ready_at(record: Record, ttl_s: int) -> dt.datetime | None:
    return tier_switch.retire_from(record, ttl_s)


def serve_from_db(ctx, record: Record, now=None) -> Step:
    """Stage `serving`: the whole app on the db server, DNS at its public address."""
    from pipeline.deploy import run_context
    lines: list[str] = []
    result = None
    if record.dns_at is None:
        three = context_for(ctx, THREE_TIER)
        result = _run_restoring(three, SERVING_PHASES)
        (db,) = three.outputs.by_role("db")
        if ctx.config.app is not None:
            lines.append(_healthy(ctx.config, db))
        three.outputs = single_view(three.outputs)
        # With [tls], the db server's own proxy gets its certificate once the names point at
        # it (HTTP-01): the tls phase waits for that, restarting the proxy out of its back-off.
        dns = run_context(three, phases=_phases(("dns", "tls")))
        lines += [f"{line.phase}: {line.status} {line.detail}" for line in dns.lines]
        record = dataclasses.replace(record, dns_at=(now or _now()).isoformat())
        tier_switch.save(ctx.workdir, record)
        if any(line.status == "skipped" and "not managed" in line.detail for line in dns.lines):
            # No registrar access: the records are the user's; the TTL counts from now.
            lines.append(f"point the names at the db server {db.name} ({db.ipv4}) now: it "
                         f"serves the whole app")
        else:
            lines.append(f"the names point at the db server {db.name} ({db.ipv4}), which "
                         f"serves the whole app")
    ready = ready_at(record, ctx.config.dns.ttl)
    if (now or _now()) < ready:
        lines.append(f"the load balancer and the app servers keep serving until "
                     f"{ready:%Y-%m-%d %H:%M:%S} UTC, when resolvers can no longer hold the "
                     f"load balancer's address ([dns] ttl {ctx.config.dns.ttl} s): then rerun "
                     f"`hetzner-deploy switch --to {record.target}` to remove them and finish")
        if result is None:      # a rerun before its time: what runs now, for the caller
            result = run_context(context_for(ctx, THREE_TIER), phases=_phases(("outputs",)))
        return Step(tuple(lines), result, waiting_until=ready)
    return Step(tuple(lines), result)


def detach_db(ctx, record: Record) -> Step:
    """Stage `detaching`: the db server leaves the private network, nothing else changes."""
    record = dataclasses.replace(record, stage="detaching")
    tier_switch.save(ctx.workdir, record)
    result = _run_restoring(context_for(ctx, THREE_TIER), DETACH_PHASES)
    tier_switch.save(ctx.workdir, dataclasses.replace(record, stage="single"))
    (db,) = result.outputs.by_role("db") if result.outputs else (None,)
    name = db.name if db else "the db server"
    return Step((f"{name} left the private network (the subnet can go now)",), result)


def single_context(ctx, record: Record):
    """Stage `single`: the context of the single-server run. The app servers and the load
    balancer are what the switch removes, as its preview said: their deletion is the
    switch itself (allow_replace); the data-loss guard is untouched (accept_data_loss
    stays the caller's)."""
    from generator.naming import base_name
    tier_switch.save(ctx.workdir, dataclasses.replace(record, stage="single"))
    tier_switch.carry_host_key_back(ctx.env, base_name(ctx.config))
    return context_for(ctx, record.target, allow_replace=True)


def dns_outputs(config, target, outputs, stacks_dir=None):
    """The outputs the names should point at now: during a switch down, once they moved
    (dns_at), the db server's (verify --after asks the nameservers for those)."""
    from errors import DeployError
    from runner.workspace import workspace_for
    if outputs is None or target is None or not outputs.by_role("db"):
        return outputs
    kw = {"stacks_dir": stacks_dir} if stacks_dir else {}
    try:
        record = tier_switch.load(workspace_for(target.kind, config.environment, **kw).workdir)
    except (DeployError, OSError):     # no readable record: the stack's own target
        return outputs
    moved = record is not None and record.down and record.dns_at is not None
    return single_view(outputs) if moved else outputs


def where(record: Record) -> str:
    """What `verify --after` says about a switch down under way."""
    if record.stage == "serving" and record.dns_at is None:
        return ("the db server is being given the whole app (public 80/443 open); the names "
                "still point at the load balancer")
    if record.stage == "serving":
        return (f"the names point at the db server since {record.dns_at}; the load balancer "
                f"and the app servers go [dns] ttl later")
    if record.stage == "detaching":
        return "the db server is leaving the private network"
    return ("the db server is out of the private network and serves alone; the single-server "
            "stack is still to be applied (the load balancer, app servers and network go)")


def _run_restoring(ctx, names):
    """A stage's run; refused before it applied anything (the review), the stack files are
    put back as they were (a changed deploy.toml may have re-rendered them)."""
    from pipeline.deploy import run_context
    from pipeline.switch import stack_restored_on_refusal
    with stack_restored_on_refusal(ctx.stacks_dir / ctx.env, applied=lambda: ctx.applied):
        return run_context(ctx, phases=_phases(names))


def _healthy(config, db) -> str:
    import asyncio

    from app.health import wait_healthy
    from errors import RemoteError
    a = config.app
    health = asyncio.run(wait_healthy(db.ipv4, a.health_port, a.health_path, a.health_timeout_s))
    if not health.ok:
        raise RemoteError(f"{db.name}: the whole app does not answer {health.url} on its public "
                          f"address ({health.detail}); the names stay at the load balancer")
    return f"{db.name}: {health.url} {health.detail} (the whole app, public)"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def run_context_phases(ctx, phases):
    from pipeline.deploy import run_context
    return run_context(ctx, phases=list(phases))

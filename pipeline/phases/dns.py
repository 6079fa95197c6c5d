"""DNS: the managed A/AAAA records at the registrar point at the deploy, nothing else in the zone moves.

Read, merge, back up, write, read back (domains/zone_ops.py), then wait until
the zone's authoritative servers and the recursive path answer the new
address (domains/propagation.py). On the sandbox the registrar is the
sandbox's own (sandbox/registrar.py); on Hetzner it is Namecheap with the
environment's NAMECHEAP_* credentials, and without them the phase is skipped
and says so (the records are then the user's to set).

With [dns] provider = "hetzner" the records are Terraform's (dns.tf, applied
by the infra phase): this phase only waits until the zone's nameservers
(Hetzner's three, or the sandbox's DNS server) answer them.

A real target asks before it writes, like a Terraform change; the sandbox
does not. The checkpoint key is the zone and the records we want: an
unchanged deploy does not call the registrar again (its API allows about 20
calls a minute); `verify --after` asks the nameservers what they answer now.
"""
from __future__ import annotations

from errors import RefusedError
from pipeline.checkpoint import key_of
from pipeline.engine import PhaseResult

name = "dns"


def _want(ctx):
    from domains.target import dns_target
    return dns_target(ctx.config, ctx.outputs)


def key(ctx) -> str:
    want = _want(ctx)
    return key_of(name, ctx.fingerprint, want.zone, [r.describe() for r in want.records],
                  ctx.config.dns.provider)


def _confirmed(ctx, zone: str, change) -> bool:
    if ctx.target.is_sandbox or ctx.options.auto_approve:
        return True
    if ctx.confirm is None:
        raise RefusedError(f"no terminal to confirm the DNS change of {zone}: rerun with "
                           "--auto-approve, or review it with `hetzner-deploy dns plan`")
    return ctx.confirm("\n".join([f"DNS change in {zone}:", *change.lines()]))


def _run_terraform_managed(ctx) -> PhaseResult:
    """provider = "hetzner": dns.tf holds the records and the infra phase applied
    them; only propagation on the zone's nameservers is left to wait for."""
    import time

    from domains.propagation import wait_for
    from domains.service import nameservers_for, resolvers_for
    want = _want(ctx)
    started = time.monotonic()
    wait_for(want.zone, want.records, nameservers_for(ctx.config, ctx.target),
             resolvers_for(ctx.config, ctx.target), deadline_s=ctx.config.dns.propagation_timeout_s,
             on_round=lambda stage, answers: ctx.progress.note(
                 f"  {stage}: {sum(a.ok for a in answers)}/{len(answers)} records answer"))
    return PhaseResult(f"{want.zone}: records managed by Terraform (dns.tf); "
                       f"{len(want.records)} answering in {time.monotonic() - started:.1f}s",
                       record_key=key(ctx))


def run(ctx) -> PhaseResult:
    import time

    from domains.propagation import wait_for
    if ctx.config.dns.provider == "hetzner":
        return _run_terraform_managed(ctx)
    from domains.service import access_for, backup_dir
    from domains.zone_ops import apply_zone, plan_zone
    access = access_for(ctx.config, ctx.target)
    if access is None:
        return PhaseResult("no Namecheap credentials in the environment (NAMECHEAP_API_USER, "
                           "NAMECHEAP_API_KEY, NAMECHEAP_USERNAME, NAMECHEAP_CLIENT_IP): "
                           "records not managed", status="skipped")
    want = _want(ctx)
    from domains.migration import Migration, folder_for
    migration = Migration(folder_for(ctx.workdir), want.zone)
    if migration.pending():
        return PhaseResult("a migration is in progress: the names keep pointing at the old "
                           "host until `hetzner-deploy migrate cutover`", status="skipped")
    planned = plan_zone(access.client, want.zone, want.records)
    change = planned.change
    ctx.progress.note("\n".join([f"DNS {want.zone} (EmailType {planned.zone.email_type} kept):",
                                 *change.lines()]))
    if change.has_changes and not _confirmed(ctx, want.zone, change):
        raise RefusedError("not written: the DNS change was not confirmed")
    result = apply_zone(access.client, want.zone, want.records, backup_dir(ctx.workdir),
                        plan=planned)
    started = time.monotonic()
    wait_for(want.zone, want.records, access.nameservers, access.resolvers,
             deadline_s=ctx.config.dns.propagation_timeout_s,
             on_round=lambda stage, answers: ctx.progress.note(
                 f"  {stage}: {sum(a.ok for a in answers)}/{len(answers)} records answer"))
    counts = (f"{len(change.added)} added, {len(change.changed)} changed, "
              f"{len(change.kept)} other record(s) kept")
    written = f"written (backup {result.backup.name})" if result.written else "already right"
    return PhaseResult(f"{want.zone}: {counts}; {written}; answering in "
                       f"{time.monotonic() - started:.1f}s", record_key=key(ctx))


def restore(ctx, record) -> str:
    return f"records in {_want(ctx).zone} unchanged since the last deploy"


def after_checks(after) -> list:
    from checks.base import FAIL, NOT_CHECKED, OK, Check
    from domains.propagation import ask_authoritative, fqdn
    from domains.service import dns_target, nameservers_for
    from errors import DeployError
    title = "DNS points at the server"
    if after.config is None or after.outputs is None:
        return [Check("after", title, NOT_CHECKED, "no outputs yet")]
    try:
        from pipeline.tier_down import dns_outputs   # a switch down moved the names on purpose
        want = dns_target(after.config, dns_outputs(after.config, after.target, after.outputs))
        servers = nameservers_for(after.config, after.target)
    except DeployError as exc:
        return [Check("after", title, NOT_CHECKED, exc.message)]
    wrong = []
    for record in want.records:
        name = fqdn(want.zone, record.name)
        for ns in servers:
            got = ask_authoritative(ns, name, record.type, timeout=3.0)
            if record.address not in got:
                wrong.append(f"{name} {record.type} on {ns.host}: {', '.join(got) or 'nothing'}")
    if wrong:
        how = ("run hetzner-deploy deploy (dns.tf holds the records)" if after.config.dns.provider == "hetzner"
               else "run hetzner-deploy deploy (or dns apply) to write the records")
        return [Check("after", title, FAIL, f"want {want.records[0].address}; " + "; ".join(wrong), how)]
    return [Check("after", title, OK, f"{len(want.records)} record(s) in {want.zone} answer "
                                      f"on {len(servers)} nameserver(s)")]

"""App: releases of the Compose app on every app host over SSH (logic in app/).

Never skipped by the checkpoint (key None): whether anything changed is what
the servers report (hashes of their current compose file and .env), so a rerun
with nothing changed costs one SSH round trip per host and changes nothing.
"""
from __future__ import annotations

from pipeline.engine import PhaseResult

name = "app"


def key(ctx) -> None:
    return None


def run(ctx) -> PhaseResult:
    if ctx.config.app is None:
        return PhaseResult("no [app] in deploy.toml", status="skipped")
    from app.service import deploy_all
    from pipeline.tier_switch import keeps_old_app
    results = deploy_all(ctx.config, ctx.outputs, command="deploy",
                         acme=getattr(ctx.target, "acme", None), api=ctx.target,
                         keep_old_app=keeps_old_app(ctx.workdir))
    parts = [f"{r.target.name} {r.outcome.status} {r.outcome.release}"
             + (f" at {r.outcome.url}" if r.outcome.url else "") for r in results]
    parts += [note for r in results for note in r.notes]
    if ctx.config.backup is not None:
        # Backups follow the app: the agent reaches the databases through its Compose project.
        from ops.backup_service import each, install
        env = ctx.config.app.env_bytes()
        for target, said in each(ctx.config, ctx.outputs,
                                 lambda conn: install(conn, ctx.config, env), "backup install"):
            parts.append(f"{target.name} {said}")
    return PhaseResult("; ".join(parts))


def restore(ctx, record) -> str:
    return "unchanged"


def after_checks(after) -> list:
    from checks.app_after import app_checks
    from checks.backup_after import backup_checks
    return app_checks(after) + backup_checks(after)

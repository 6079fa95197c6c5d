"""Generate: render the environment's stack when its inputs changed."""
from __future__ import annotations

from pipeline.checkpoint import key_of
from pipeline.engine import PhaseResult

name = "generate"


def key(ctx) -> str:
    """Everything a render depends on: config, key, templates, generator code, the stack."""
    from generator.freshness import inputs_digest
    return key_of(name, inputs_digest(ctx.config, ctx.profile.name, ctx.env, ctx.stacks_dir))


def run(ctx) -> PhaseResult:
    from generator.freshness import stale_files
    profile = ctx.profile.name
    if not stale_files(ctx.config, ctx.env, ctx.stacks_dir, profile_name=profile):
        from remote.hostkeys import ensure_for
        ensure_for(ctx.config, ctx.profile, ctx.env)   # pinned keys, even for a committed stack
        return PhaseResult(f"stack for {profile} is up to date", record_key=key(ctx),
                           status="skipped")
    from generator.render import generate
    result = generate(ctx.config, profile, ctx.env, stacks_dir=ctx.stacks_dir)
    changed = [f.name for f in result.files if f.status != "identical"]
    # The stack changed: record the key the next run will compute.
    return PhaseResult(f"{profile}: {', '.join(changed)}", record_key=key(ctx))


def restore(ctx, record) -> str:
    return f"stack for {ctx.profile.name} is up to date (unchanged inputs)"


def after_checks(after) -> list:
    return []

"""Outputs: the stack's typed outputs, hosts by role, handed to the later phases."""
from __future__ import annotations

from pipeline.checkpoint import key_of
from pipeline.engine import PhaseResult
from runner.outputs import StackOutputs

name = "outputs"
# The later phases read ctx.outputs: `deploy --only app|dns|tls` restores them (or reads
# them again; nothing is changed) instead of running without (pipeline/engine.py).
read_only_input = True


def key(ctx) -> str:
    return key_of(name, ctx.fingerprint, ctx.state_identity())


def run(ctx) -> PhaseResult:
    from pipeline.stack import read_outputs
    ctx.outputs = read_outputs(ctx.session)
    return PhaseResult(f"{ctx.outputs.describe()} (read from terraform)",
                       record=ctx.outputs.as_dict())


def restore(ctx, record) -> str:
    ctx.outputs = StackOutputs.from_dict(record)
    return f"{ctx.outputs.describe()} (unchanged since the last deploy)"


def after_checks(after) -> list:
    return []

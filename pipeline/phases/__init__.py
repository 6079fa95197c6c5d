"""The deploy pipeline's phases, in order. A new phase is one module and one line here.

Each module has `name`, `key(ctx)`, `run(ctx)`, `restore(ctx, record)` and
`after_checks(after)` (pipeline.engine.Phase). PLANNED lists the phases that
are not built yet, so `verify --after` reports their checks as not checked
instead of claiming them.
"""
from __future__ import annotations

from pipeline.engine import Planned
from pipeline.phases import app, dns, generate, infra, outputs, preflight, tls

PHASES = (preflight, generate, infra, outputs, app, dns, tls)
PHASE_NAMES = tuple(p.name for p in PHASES)

PLANNED: tuple[Planned, ...] = ()

"""Destroy an environment, with the data volume guarded on purpose.

The stack marks the volume `prevent_destroy`, so a plain destroy plan fails.
Lifting that is a deliberate act: `--destroy-volume` adds, for that one plan,
a Terraform override file setting prevent_destroy = false (override files
merge lifecycle settings argument by argument). It is removed right after
planning, so the committed stack never changes.
"""
from __future__ import annotations

from pathlib import Path

from errors import RefusedError
from pipeline.stack import PlanResult, Session, make_plan
from runner.state import load_state
from runner.worklock import DESTROY_OVERRIDE, workdir_lock

# Removed right after planning; a killed run's copy is removed when the next
# run takes the work-dir lock (runner/worklock.py).
OVERRIDE_FILE = DESTROY_OVERRIDE


def protected_resources(workdir: Path) -> list[tuple[str, str]]:
    """(type, name) of every resource whose lifecycle has prevent_destroy = true."""
    import hcl2  # parser import is slow; only destroy needs it
    found = []
    for path in sorted(workdir.glob("*.tf")):
        if path.name.endswith("_override.tf"):
            continue
        doc = hcl2.loads(path.read_text(encoding="utf-8"))
        for block in doc.get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    for lifecycle in body.get("lifecycle", []) or []:
                        if lifecycle.get("prevent_destroy") in (True, "true"):
                            found.append((rtype, name))
    return found


def override_text(resources: list[tuple[str, str]]) -> str:
    blocks = [f'resource "{t}" "{n}" {{\n  lifecycle {{\n    prevent_destroy = false\n  }}\n}}\n'
              for t, n in resources]
    return "# Written by `hetzner-deploy destroy --destroy-volume` for one plan only.\n" + \
        "\n".join(blocks)


def refusal(env: str, addresses: list[str]) -> str:
    return (f"{', '.join(addresses)} is protected (lifecycle prevent_destroy; its data would "
            f"be lost); nothing was destroyed. To destroy it too, on purpose, run: "
            f"hetzner-deploy destroy --env {env} --confirm {env} --destroy-volume")


def plan_destroy(s: Session, config=None, *, destroy_volume: bool = False) -> PlanResult:
    from runner.workspace import sync_copy
    with workdir_lock(s.ws.workdir, "destroy"):
        sync_copy(s.ws)
        protected = protected_resources(s.ws.workdir)
        state = load_state(s.ws, s.tf) if protected else None
        # Any instance of the resource counts (count/for_each keys included).
        guarded = [(t, n) for t, n in protected
                   if state is not None and any(r.name == n and not r.module
                                                for r in state.of_type(t))]
        if guarded and not destroy_volume:
            raise RefusedError(refusal(s.ws.env_name, [f"{t}.{n}" for t, n in guarded]))
        extra = {OVERRIDE_FILE: override_text(guarded)} if guarded else None
        return make_plan(s, config, destroy=True, extra_files=extra)

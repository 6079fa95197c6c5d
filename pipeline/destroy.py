"""Destroy an environment, with the data volume guarded on purpose.

The stack guards the volume twice: `prevent_destroy` (Terraform refuses the
plan) and `delete_protection` (Hetzner refuses the delete). The hcloud
provider does not lift delete protection on destroy: it detaches the volume,
then the API answers `protected`, with the server already gone. So
`--destroy-volume` does, in the work directory only:

1. write an override file setting `delete_protection = false` and
   `prevent_destroy = false` on the guarded resources (override files merge
   argument by argument), plan an update of just those resources (-target)
   and apply it;
2. plan the destroy with the same override, then apply that.

The override lives only while `terraform plan` reads the configuration; the
saved plan carries its own copy. It is removed in `finally`, and a stale one
(left by a kill -9) is removed when the next run opens its session, so it can
never switch `prevent_destroy` off for a later plan. The committed stack never
changes.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from errors import RefusedError, TerraformError
from pipeline.stack import ApplyResult, PlanResult, Session, apply_saved, make_plan
from runner.state import load_state
from runner.tfstate import TfState
from runner.worklock import DESTROY_OVERRIDE, workdir_lock

# Exists only while a destroy plans; a killed run's copy is removed when the next
# run takes the work-dir lock (runner/worklock.py), never while another run holds it.
OVERRIDE_FILE = DESTROY_OVERRIDE
_HEADER = "# Written by `hetzner-deploy destroy --destroy-volume` for one plan only.\n"


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


def delete_protected(state: TfState) -> list[tuple[str, str]]:
    """(type, name) of root-module resources whose state says delete_protection = true."""
    return sorted({(r.type, r.name) for r in state.managed
                   if not r.module and r.attributes.get("delete_protection") is True})


def override_text(resources: list[tuple[str, str]],
                  unprotect: list[tuple[str, str]] = ()) -> str:
    """prevent_destroy = false for `resources`; delete_protection = false for `unprotect`
    (and rebuild_protection for servers: Hetzner wants both flags equal)."""
    blocks = []
    for rtype, name in sorted(set(resources) | set(unprotect)):
        body = ""
        if (rtype, name) in unprotect:
            body += "  delete_protection = false\n"
            if rtype == "hcloud_server":
                body += "  rebuild_protection = false\n"
        body += "  lifecycle {\n    prevent_destroy = false\n  }\n"
        blocks.append(f'resource "{rtype}" "{name}" {{\n{body}}}\n')
    return _HEADER + "\n".join(blocks)


def refusal(env: str, addresses: list[str]) -> str:
    return (f"{', '.join(addresses)} is protected (prevent_destroy and delete protection; "
            f"its data would be lost); nothing was destroyed. To destroy it too, on "
            f"purpose, run: hetzner-deploy destroy --env {env} --confirm {env} "
            f"--destroy-volume")


def _targeted(s: Session, addresses: list[str]) -> Session:
    """The session with plans limited to `addresses` (TF_CLI_ARGS_plan is
    Terraform's documented way to add arguments to one subcommand)."""
    from runner.terraform import Terraform
    args = " ".join(f"-target={a}" for a in addresses)
    tf = Terraform(s.tf.workdir, {**s.tf.env, "TF_CLI_ARGS_plan": args},
                   binary=s.tf.binary, lock_timeout=s.tf.lock_timeout)
    return replace(s, tf=tf)


def lift_protection(s: Session, config, unprotect: list[tuple[str, str]], extra: dict,
                    progress=None) -> ApplyResult | None:
    """Apply delete_protection = false to `unprotect` only; None when nothing changed."""
    addresses = [f"{t}.{n}" for t, n in unprotect]
    planned = make_plan(_targeted(s, addresses), config, extra_files=extra)
    if not planned.summary.has_changes:
        return None
    done = apply_saved(s, config, allow_replace=False, progress=progress)
    if done.interrupted:
        raise TerraformError(f"interrupted while lifting delete protection on "
                             f"{', '.join(addresses)}; nothing was destroyed; run the "
                             f"destroy again (log: {done.log_path})",
                             returncode=done.returncode)
    return done


def plan_destroy(s: Session, config=None, *, destroy_volume: bool = False,
                 progress=None) -> PlanResult:
    """The destroy plan, saved. With destroy_volume, protection is lifted first (applied)."""
    from runner.workspace import sync_copy
    with workdir_lock(s.ws.workdir, "destroy"):
        sync_copy(s.ws)
        state = load_state(s.ws, s.tf)
        live = {(r.type, r.name) for r in state.managed if not r.module}
        guarded = [(t, n) for t, n in protected_resources(s.ws.workdir) if (t, n) in live]
        unprotect = delete_protected(state)
        addresses = sorted({f"{t}.{n}" for t, n in guarded + unprotect})
        if addresses and not destroy_volume:
            raise RefusedError(refusal(s.ws.env_name, addresses))
        if not addresses:
            return make_plan(s, config, destroy=True)
        extra = {OVERRIDE_FILE: override_text(guarded, unprotect)}
        if unprotect:
            lift_protection(s, config, unprotect, extra, progress)
        return make_plan(s, config, destroy=True, extra_files=extra)

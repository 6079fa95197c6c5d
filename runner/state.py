"""State identity, pre-apply backups and the saved plan's freshness record.

A saved plan is only applied if the stack files and the state are exactly
what they were when it was made; terraform checks the state too ("Saved plan
is stale"), we also catch edited stack files, which terraform does not.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from errors import RefusedError
from runner.terraform import Terraform
from runner.tfstate import StateError, TfState, load_state_file, parse_state
from runner.workspace import Workspace, backend_kind, private_dir, stack_hash, write_private

KEEP_BACKUPS = 10


@dataclass(frozen=True)
class StateId:
    lineage: str
    serial: int

    def describe(self) -> str:
        return f"serial {self.serial}" if self.lineage else "no state yet"


@dataclass(frozen=True)
class PlanRecord:
    stack_hash: str
    source_hash: str
    lineage: str
    serial: int
    planfile_sha: str
    destroy: bool
    has_changes: bool
    created: str


def _backups_dir(ws: Workspace) -> Path:
    return ws.data_dir / "state-backups"


def _read(ws: Workspace, tf: Terraform) -> tuple[dict, TfState]:
    if backend_kind(ws.workdir) == "local":
        return load_state_file(ws.workdir / "terraform.tfstate")
    try:
        doc = tf.state_pull()
        return doc, parse_state(doc)
    except ValueError as exc:   # `state pull` printed something that is not JSON
        raise StateError(f"the Terraform state from the {backend_kind(ws.workdir)} backend is "
                         f"not readable ({exc}); copies are in {_backups_dir(ws)}/") from None


def read_state(ws: Workspace, tf: Terraform) -> dict:
    """The raw state document ({} when there is none); StateError when corrupt."""
    return _read(ws, tf)[0]


def load_state(ws: Workspace, tf: Terraform) -> TfState:
    """The typed state (empty when there is none); StateError when corrupt."""
    return _read(ws, tf)[1]


def state_id(ws: Workspace, tf: Terraform) -> StateId:
    state = load_state(ws, tf)
    return StateId(state.lineage, state.serial)


def has_backups(ws: Workspace) -> bool:
    """Cheap test before reading state again (a `state pull` on remote backends)."""
    return any(_backups_dir(ws).glob("terraform.tfstate.*"))


def newest_backup(ws: Workspace) -> tuple[Path, TfState] | None:
    """The newest readable state backup that holds resources."""
    for path in sorted(_backups_dir(ws).glob("terraform.tfstate.*"), reverse=True):
        try:
            _doc, state = load_state_file(path)
        except StateError:
            continue
        if not state.is_empty:
            return path, state
    return None


def lost_state_hint(ws: Workspace, current: TfState) -> str | None:
    """Why an empty state is suspicious: a backup of this work dir still lists resources.

    A state emptied by `destroy` keeps its lineage and counts past the backup;
    a wiped or replaced file (zero bytes, deleted, a new lineage) does not.
    """
    if not current.is_empty:
        return None
    found = newest_backup(ws)
    if found is None:
        return None
    path, backup = found
    if current.lineage and current.lineage == backup.lineage and current.serial > backup.serial:
        return None   # emptied by an apply/destroy after that backup
    return (f"the state of {ws.env_name} is empty but {path} lists {len(backup.managed)} "
            f"resource(s); restore it first (cp {path} {ws.workdir / 'terraform.tfstate'}"
            f" for a local backend), or move {_backups_dir(ws)}/ aside if they are really gone")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")


def backup_state(ws: Workspace, tf: Terraform, keep: int = KEEP_BACKUPS) -> Path | None:
    """Copy the current state aside before an apply; keeps the newest `keep`."""
    doc = read_state(ws, tf)
    if not doc:
        return None
    folder = private_dir(_backups_dir(ws))
    target = folder / f"terraform.tfstate.{_now()}"
    write_private(target, json.dumps(doc, indent=2) + "\n")  # state holds sensitive values
    backups = sorted(folder.glob("terraform.tfstate.*"))
    for old in backups[:-keep] if keep > 0 else []:
        old.unlink()
    return target


def _sha_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record_path(ws: Workspace) -> Path:
    return ws.data_dir / "plan.json"


def record_plan(ws: Workspace, tf: Terraform, *, destroy: bool, has_changes: bool,
                state: StateId | None = None) -> PlanRecord:
    state = state or state_id(ws, tf)
    if not has_changes:
        # Nothing to apply: the plan file (which holds the token) is not kept.
        ws.planfile.unlink(missing_ok=True)
    rec = PlanRecord(stack_hash=stack_hash(ws.workdir), source_hash=stack_hash(ws.stack_dir),
                     lineage=state.lineage, serial=state.serial,
                     planfile_sha=_sha_file(ws.planfile) if has_changes else "",
                     destroy=destroy, has_changes=has_changes, created=_now())
    write_private(_record_path(ws), json.dumps(asdict(rec), indent=2) + "\n")
    return rec


def load_plan_record(ws: Workspace) -> PlanRecord | None:
    path = _record_path(ws)
    if not path.is_file():
        return None
    try:   # our own record: unreadable means "no saved plan", never a traceback
        rec = PlanRecord(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if rec.has_changes and not ws.planfile.is_file():
        return None
    return rec


def forget_plan(ws: Workspace) -> None:
    for path in (ws.planfile, _record_path(ws)):
        path.unlink(missing_ok=True)


def check_fresh(ws: Workspace, tf: Terraform, rec: PlanRecord | None) -> PlanRecord:
    """The saved plan's record, or RefusedError when it no longer matches reality."""
    env = ws.env_name
    if rec is None:
        raise RefusedError(f"no saved plan for {env}: run `hetzner-deploy plan --env {env}` first")
    if rec.has_changes and _sha_file(ws.planfile) != rec.planfile_sha:
        raise RefusedError(f"the saved plan for {env} was modified after it was made; "
                           f"run `hetzner-deploy plan --env {env}` again")
    if stack_hash(ws.stack_dir) != rec.source_hash or stack_hash(ws.workdir) != rec.stack_hash:
        raise RefusedError(f"the saved plan for {env} is stale: the stack files changed since "
                           f"it was made; run `hetzner-deploy plan --env {env}` again")
    now = state_id(ws, tf)
    if (now.lineage, now.serial) != (rec.lineage, rec.serial):
        raise RefusedError(f"the saved plan for {env} is stale: the state changed since it "
                           f"was made ({now.describe()}, plan saw serial {rec.serial}); "
                           f"run `hetzner-deploy plan --env {env}` again")
    return rec

"""Stack operations for one target and environment: plan, apply, outputs.

Each returns a frozen result; none prints. Progress goes through the
Progress interface. Destroy lives in pipeline/destroy.py.
"""
from __future__ import annotations

import datetime as dt
import functools
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, TextIO

from errors import RefusedError, TerraformError
from pricing.delta import cost_delta
from pipeline.progress import NullProgress, Progress
from pipeline.review import check_safety
from runner.events import Event, diagnostics
from runner.outputs import StackOutputs, parse_outputs
from runner.plan import PlanSummary, summarize, summarize_events
from runner.plan_format import to_text
from runner.redact import Redactor, backend_secrets, sensitive_values
from runner.state import (StateId, backup_state, check_fresh, forget_plan, has_backups,
                          load_plan_record, load_state, lost_state_hint, record_plan)
from runner.terraform import ApplyRun, Terraform, terraform_env
from runner.workspace import (Workspace, init_reason, private_dir, private_umask, record_init,
                              refuse_committed_for_local_endpoint, sync_copy, workspace_for,
                              write_private)
from runner.worklock import workdir_lock

# Concurrent runs on a shared backend wait this long for the state lock.
DEFAULT_LOCK_TIMEOUT = os.environ.get("HETZNER_DEPLOY_LOCK_TIMEOUT", "60s")


@dataclass
class Session:      # not frozen: refresh_host_keys adds the masks of keys pinned later
    ws: Workspace
    tf: Terraform
    target_kind: str
    secrets: tuple[str, ...]
    # `show -json` of plan files made in this run, by their sha256: apply after
    # plan in one deploy reads the plan once (each show starts every provider).
    shown: dict = field(default_factory=dict, compare=False, hash=False, repr=False)


@dataclass(frozen=True)
class InitResult:
    ran: bool
    reason: str | None


@dataclass(frozen=True)
class PlanResult:
    summary: PlanSummary
    init: InitResult
    state: StateId
    synced: tuple[str, ...]


@dataclass(frozen=True)
class ApplyResult:
    summary: PlanSummary
    interrupted: bool
    returncode: int
    log_path: Path
    backup: Path | None
    completed: tuple[str, ...]
    errored: tuple[str, ...]


def open_session(target, env_name: str, *, stacks_dir: Path | None = None,
                 sandbox_dir: Path | None = None,
                 lock_timeout: str | None = DEFAULT_LOCK_TIMEOUT) -> Session:
    """`target` is a pipeline.target.Target (kind, token, terraform_env)."""
    kw = {"stacks_dir": stacks_dir} if stacks_dir else {}
    ws = workspace_for(target.kind, env_name, sandbox_dir=sandbox_dir, **kw)
    refuse_committed_for_local_endpoint(ws, target.endpoint)
    from remote.hostkeys import terraform_env as host_key_env
    # The pinned host keys reach terraform only through its environment (remote/hostkeys.py).
    from pipeline.tier_switch import terraform_vars as switch_vars
    # So are a tier switch's stage variables (pipeline/tier_switch.py): a `plan` during a
    # switch sees what the switch itself applies.
    env = terraform_env(extra={**dict(target.terraform_env), **host_key_env(env_name),
                               **switch_vars(ws.workdir)})
    tf = Terraform(ws.workdir, env, lock_timeout=lock_timeout)
    _check_version(tf, ws)
    # Backend credentials can surface in terraform's errors; mask them with the token.
    # The host keys' private lines too: terraform marks them sensitive, this is the second belt.
    return Session(ws, tf, target.kind,
                   tuple(v for v in (target.token, *backend_secrets(env),
                                     *_host_key_lines(env_name)) if v))


def _host_key_lines(env_name: str) -> list[str]:
    from remote.hostkeys import all_for
    return [ln for k in all_for(env_name).values()
            for ln in k.private_openssh.splitlines() if len(ln) >= 20 and "-----" not in ln]


def refresh_host_keys(s: Session) -> None:
    """Keys pinned since the session opened (the generate phase pins a new server's key,
    a switch carries one to a new name) reach terraform's environment and the masks: else
    a new server would boot with a key nobody pinned, and the app phase would refuse it."""
    from remote.hostkeys import terraform_env as host_key_env
    s.tf.env.update(host_key_env(s.ws.env_name))
    s.secrets = tuple(dict.fromkeys((*s.secrets, *_host_key_lines(s.ws.env_name))))


def _check_version(tf: Terraform, ws: Workspace) -> None:
    """Missing binary or < 1.5: one clear error before any work.

    The answer is cached per binary path and modification time, so a rerun
    does not pay for a `terraform version` process.
    """
    found = shutil.which(tf.binary) or tf.binary
    try:
        stat = os.stat(found)
    except OSError:
        tf.version()  # raises the clear "not found" error
        return
    stamp = f"{os.path.realpath(found)}:{stat.st_mtime_ns}:{stat.st_size}"
    cache = ws.data_dir / "terraform-version"
    if cache.is_file() and cache.read_text().strip() == stamp:
        return
    tf.version()
    if ws.workdir.is_dir():
        write_private(cache, stamp + "\n")


@contextmanager
def redacted_errors(s: Session):
    """Terraform's diagnostics can quote secrets (a bad PG_CONN_STR): mask them."""
    try:
        yield
    except TerraformError as exc:
        redact = Redactor(s.secrets)
        exc.message = redact(exc.message)
        exc.args = (exc.message,)
        exc.diagnostics = [redact(d) for d in exc.diagnostics]
        exc.stderr_tail = redact(exc.stderr_tail)
        raise


def _masking(fn):
    """Secrets masked in errors; files terraform and we create meanwhile are owner-only."""
    @functools.wraps(fn)
    def wrapper(s: Session, *args, **kwargs):
        with redacted_errors(s), private_umask():
            return fn(s, *args, **kwargs)
    return wrapper


def _locked(what: str):
    """One plan/apply at a time per work directory (re-entrant: deploy holds it too)."""
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(s: Session, *args, **kwargs):
            with workdir_lock(s.ws.workdir, what):
                return fn(s, *args, **kwargs)
        return wrapper
    return decorate


@_masking
def ensure_init(s: Session) -> InitResult:
    reason = init_reason(s.ws, s.tf.env)
    if reason is None:
        return InitResult(False, None)
    private_dir(s.ws.data_dir)
    s.tf.init(reconfigure=(s.ws.workdir / ".terraform").is_dir())
    record_init(s.ws, s.tf.env)
    return InitResult(True, reason)


def _summary(s: Session, show_json: dict, config, *, destroy: bool,
             events: tuple[Event, ...] = (), extra_warnings: tuple[str, ...] = ()) -> PlanSummary:
    from ops.plan_warnings import review_warnings   # replaced server, lost volume, open SSH
    warnings = [d.one_line() for d in diagnostics(events, "warning")] + list(extra_warnings) \
        + review_warnings(show_json)
    summary = summarize(show_json, destroy=destroy, warnings=warnings, secrets=s.secrets)
    if config is not None:
        summary = replace(summary, cost=cost_delta(show_json, config, destroy=destroy))
    return summary


@_locked("plan")
@_masking
def make_plan(s: Session, config=None, *, destroy: bool = False,
              extra_files: dict[str, str] | None = None, detail: bool = True) -> PlanResult:
    """Sync (sandbox), init when due, plan into the saved plan file, record its inputs.

    extra_files are written into the workdir for this plan only (destroy's
    override lifting prevent_destroy and delete protection) and removed before
    the record is taken.
    detail=False: the summary comes from the plan -json stream alone (actions
    and counts, no attributes, no cost), saving `terraform show -json`, which
    starts every provider once more; see runner.plan.
    """
    synced = tuple(sync_copy(s.ws))
    refresh_host_keys(s)
    init = ensure_init(s)
    forget_plan(s.ws)
    current = load_state(s.ws, s.tf)
    state = StateId(current.lineage, current.serial)
    written = []
    try:
        for name, text in (extra_files or {}).items():
            (s.ws.workdir / name).write_text(text)
            written.append(s.ws.workdir / name)
        run = s.tf.plan(s.ws.planfile, destroy=destroy)
    except BaseException:
        forget_plan(s.ws)   # a failed plan is never applied: its file (and token) goes
        raise
    finally:
        for path in written:
            path.unlink(missing_ok=True)
    rec = record_plan(s.ws, s.tf, destroy=destroy, has_changes=run.has_changes, state=state)
    hint = lost_state_hint(s.ws, current) if run.has_changes and not destroy else None
    extra = (hint,) if hint else ()
    warnings = [d.one_line() for d in diagnostics(run.events, "warning")]
    quick = summarize_events(run.events, destroy=destroy, warnings=[*warnings, *extra])
    # -detailed-exitcode 0 means nothing at all changes: the stream says all
    # there is. Output-only changes are not in the stream: those need show.
    if not run.has_changes or (not detail and quick.changes):
        summary = quick if run.has_changes else _summary(s, {}, config, destroy=destroy,
                                                          events=run.events,
                                                          extra_warnings=extra)
    else:
        summary = _summary(s, _show(s, rec.planfile_sha), config, destroy=destroy,
                           events=run.events, extra_warnings=extra)
    return PlanResult(summary, init, state, synced)


def _show(s: Session, planfile_sha: str) -> dict:
    """show -json of the saved plan, once per plan file and run."""
    if planfile_sha not in s.shown:
        s.shown.clear()  # only the newest plan is ever applied
        s.shown[planfile_sha] = s.tf.show(s.ws.planfile)
    return s.shown[planfile_sha]


@_masking
def saved_plan(s: Session, config=None) -> tuple[PlanSummary, dict]:
    """The saved plan's summary and show -json, refusing when stale."""
    rec = check_fresh(s.ws, s.tf, load_plan_record(s.ws))
    if not rec.has_changes:   # its plan file was deleted: nothing to show or apply
        return _summary(s, {}, config, destroy=rec.destroy), {}
    show = _show(s, rec.planfile_sha)
    return _summary(s, show, config, destroy=rec.destroy), show


def _log_path(ws: Workspace, kind: str) -> Path:
    folder = private_dir(ws.data_dir / "logs")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return folder / f"{kind}-{stamp}.log"


@_locked("apply")
@_masking
def apply_saved(s: Session, config=None, *, allow_replace: bool = False,
                accept_data_loss: bool = False, progress: Progress | None = None,
                approve: Callable[[PlanSummary], bool] | None = None) -> ApplyResult:
    """Apply exactly the saved plan. `approve` is asked after the safety rule, if given."""
    progress = progress or NullProgress()
    summary, show = saved_plan(s, config)
    check_safety(summary, allow_replace, accept_data_loss)
    if summary.has_changes and not summary.destroy and has_backups(s.ws) and \
            any(c.action == "create" for c in summary.changes):
        hint = lost_state_hint(s.ws, load_state(s.ws, s.tf))
        if hint:
            raise RefusedError(f"not applied: {hint}")
    if approve is not None and not approve(summary):
        raise RefusedError("not applied: the plan was not confirmed")
    redact = Redactor(s.secrets)
    redact.add(sensitive_values(show))
    backup = backup_state(s.ws, s.tf)
    log_path = _log_path(s.ws, "destroy" if summary.destroy else "apply")
    completed, errored = [], []
    with open(log_path, "w", encoding="utf-8") as log:
        log.write(f"# hetzner-deploy {'destroy' if summary.destroy else 'apply'} "
                  f"env={s.ws.env_name} target={s.target_kind}\n")
        log.write("".join(f"# {line}\n" for line in redact(to_text(summary)).splitlines()))
        log.flush()
        log_path.chmod(0o600)

        def on_event(event: Event) -> None:
            if event.type == "apply_complete":
                completed.append(event.address)
            elif event.type == "apply_errored":
                errored.append(event.address)
            progress.event(_redacted(event, redact))

        try:
            run = s.tf.apply(s.ws.planfile, on_event=on_event,
                             on_raw_line=lambda line: _log(log, redact, line)) \
                if summary.has_changes else _NOTHING
        except TerraformError as exc:
            log.write(f"# failed: {redact(str(exc))}\n")
            if any("Saved plan is stale" in d for d in exc.diagnostics):
                forget_plan(s.ws)
                raise RefusedError(f"the saved plan for {s.ws.env_name} is stale: another run "
                                   f"changed the state; run `hetzner-deploy plan --env "
                                   f"{s.ws.env_name}` again") from None
            if any("uniqueness_error" in d or "is already used" in d for d in exc.diagnostics):
                forget_plan(s.ws)
                exc.message = redact(exc.message) + (
                    f" (a resource with that name exists but is not in this stack's state: "
                    f"adopt it with `hetzner-deploy adopt --env {s.ws.env_name}`, or rename "
                    f"or delete it)")
            elif any("state lock" in d for d in exc.diagnostics):
                exc.message = redact(exc.message) + (
                    " (another plan/apply holds the state lock; wait for it, or raise "
                    "the lock timeout)")
            else:
                forget_plan(s.ws)
                exc.message = redact(exc.message)
            exc.args = (exc.message,)
            raise
        log.write(f"# exit {run.returncode}{' (interrupted)' if run.interrupted else ''}\n")
    forget_plan(s.ws)  # a plan is applied at most once
    return ApplyResult(summary, run.interrupted, run.returncode, log_path, backup,
                       tuple(completed), tuple(errored))


_NOTHING = ApplyRun(0, False, ())   # a no-change plan: terraform is not called


def _log(log: TextIO, redact: Redactor, line: str) -> None:
    log.write(redact(line))
    log.flush()


def _redacted(event: Event, redact: Redactor) -> Event:
    if not redact.contains_secret(event.message):
        return event
    return replace(event, message=redact(event.message))


@_masking
def read_outputs(s: Session) -> StackOutputs:
    if not (s.ws.workdir / "main.tf").is_file():
        raise TerraformError(f"nothing deployed for {s.ws.env_name} on the {s.target_kind} "
                             f"target yet (no working directory {s.ws.workdir})")
    if not (s.ws.workdir / ".terraform").is_dir():
        ensure_init(s)
    return parse_outputs(s.tf.output())

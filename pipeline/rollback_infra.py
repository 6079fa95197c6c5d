"""Roll the infrastructure back to an earlier committed stack (`rollback infra`).

The stack files of a git ref are read with `git ls-tree` / `git show` (the
user's work tree is never checked out), put in a private temporary folder and
fed to terraform the way a deploy feeds the stack folder: the workspace's
stack_dir is pointed at that folder, so runner.workspace.sync_copy mirrors it
into the folder terraform runs in (the sandbox's work copy, or on the real
target the stack folder itself), then make_plan, the review rule
(pipeline.review.check_safety: the volume and the server holding it are never
lost without --accept-data-loss), a confirmation and apply_saved.

Refused, not confirmed, or failed before terraform applied anything: the
folder terraform runs in gets its stack files and saved plan back as they
were, and the user's stack folder is not touched.

After terraform applied (or found nothing to change), the stack folder in the
user's tree is rewritten with the files of that commit, and left as an
uncommitted change. Why: `deploy`, `plan` and the generate phase all read that
folder (its manifest names the profile); left at the newer stack, the next
deploy would quietly undo the rollback. Written, the folder says what runs,
a later `plan` is empty, and `git diff` shows exactly what went back: the
user commits it to keep the rollback, or `git checkout` the folder and deploys
to go forward again. Uncommitted edits of the stack files are never
overwritten: such a folder is refused, unless it already holds that commit's
stack (a rerun after an interrupted rollback). The lock file is left alone:
the providers stay the ones `init` installed.
"""
from __future__ import annotations

import fnmatch
import os
import re
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from errors import CommandError, ConfigError, RefusedError
from pipeline.progress import Progress
from pipeline.stack import ApplyResult, PlanResult, Session, apply_saved, make_plan
from runner.plan import PlanSummary
from runner.process import run
from runner.state import forget_plan
from runner.workspace import LOCK_FILE, STACK_PATTERNS, stack_files
from runner.worklock import workdir_lock

MANIFEST = "manifest.json"

# A whole-string pattern, checked before git sees the ref: branch and tag names,
# shas, HEAD~2, v1^; never an option (leading '-'), a range ('..'), a reflog
# expression ('@{'), a path (':') or anything a shell would read.
_REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/~^-]{0,99}")
GIT_TIMEOUT = 30.0


@dataclass(frozen=True)
class StackHistory:
    toplevel: Path
    prefix: str            # the stack folder relative to the repository, with a trailing '/'
    current: str           # the last commit that changed the stack folder
    previous: str | None   # the one before it


@dataclass(frozen=True)
class RollbackPlan:
    ref: str
    sha: str
    plan: PlanResult


@dataclass(frozen=True)
class RollbackResult:
    sha: str
    summary: PlanSummary
    applied: ApplyResult | None   # None: nothing to change
    # The stack folder's files that now differ from the checked-out commit (as at `sha`).
    uncommitted: tuple[str, ...] = ()


def _git(args: list[str], cwd: Path, *, check: bool = True) -> str:
    done = run(["git", *args], cwd=cwd, check=False, timeout=GIT_TIMEOUT)
    if check and done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise CommandError(f"git {args[0]} failed: {last}", argv=list(done.argv),
                           returncode=done.returncode)
    return done.stdout if done.returncode == 0 else ""


def history(stack_dir: Path) -> StackHistory:
    """The repository holding stack_dir and the last two commits that changed it."""
    if not stack_dir.is_dir():
        raise ConfigError(f"no stack folder {stack_dir}")
    found = run(["git", "rev-parse", "--show-toplevel", "--show-prefix"], cwd=stack_dir,
                check=False, timeout=GIT_TIMEOUT)
    if found.returncode != 0:
        raise ConfigError(f"the stack folder {stack_dir} is not in a git repository: "
                          f"nothing committed to roll back to")
    toplevel, prefix = (found.stdout.splitlines() + ["", ""])[:2]
    if not prefix:
        raise ConfigError(f"the stack folder {stack_dir} is the repository's top level: "
                          f"keep the stacks in a folder of their own")
    shas = _git(["log", "-n", "2", "--format=%H", "--", prefix], Path(toplevel),
                check=False).split()
    if not shas:
        raise ConfigError(f"the stack folder {prefix.rstrip('/')} has no commit yet: "
                          f"nothing to roll back to")
    return StackHistory(Path(toplevel), prefix, shas[0], shas[1] if len(shas) > 1 else None)


def resolve(h: StackHistory, ref: str | None) -> str:
    """The commit to roll back to: `ref`, or the commit before the stack's last change."""
    if ref is None:
        if h.previous is None:
            raise ConfigError(f"no earlier commit of the stack {h.prefix.rstrip('/')}: "
                              f"nothing to roll back to")
        return h.previous
    if not _REF.fullmatch(ref) or ".." in ref or ref.endswith((".", "/", ".lock")):
        raise ConfigError(f"--to {ref!r} is not a git ref (a sha, branch, tag or HEAD~N)")
    sha = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
               h.toplevel, check=False).strip()
    if not re.fullmatch(r"[0-9a-f]{40}([0-9a-f]{24})?", sha):
        raise ConfigError(f"--to {ref!r}: no such commit in {h.toplevel}")
    return sha


def _owned(name: str) -> bool:
    """The files `generate` writes into a stack folder: terraform's inputs and the manifest."""
    return name == MANIFEST or any(fnmatch.fnmatch(name, p) for p in STACK_PATTERNS)


def stack_at(h: StackHistory, sha: str) -> dict[str, str]:
    """The stack folder's generated files (terraform's inputs, manifest.json) at the commit."""
    listing = _git(["ls-tree", "-z", "--full-tree", sha, "--", h.prefix], h.toplevel)
    files = {}
    for entry in filter(None, listing.split("\0")):
        meta, _, path = entry.partition("\t")
        name = path[len(h.prefix):]
        if meta.split()[1:2] != ["blob"] or "/" in name or not _owned(name):
            continue
        files[name] = _git(["show", f"{sha}:{path}"], h.toplevel)
    if "main.tf" not in files:
        raise ConfigError(f"commit {sha[:12]} has no stack in {h.prefix.rstrip('/')} "
                          f"(no main.tf there)")
    return files


def _current(stack_dir: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(stack_dir.iterdir())
            if p.is_file() and _owned(p.name)}


def uncommitted(h: StackHistory) -> list[str]:
    """The stack folder's generated files that differ from the commit checked out."""
    status = _git(["status", "--porcelain", "-z", "--untracked-files=all", "--", h.prefix],
                  h.toplevel)
    names = {entry[3:][len(h.prefix):] for entry in status.split("\0")
             if entry[3:].startswith(h.prefix)}
    return sorted(name for name in names if name and "/" not in name and _owned(name))


def check_clean(h: StackHistory, stack_dir: Path, files: dict[str, str]) -> None:
    """Refuse to overwrite uncommitted edits of the stack files (see the module docstring)."""
    dirty = uncommitted(h)
    if dirty and _current(stack_dir) != files:
        raise RefusedError(f"the stack folder {h.prefix.rstrip('/')} has uncommitted changes "
                           f"({', '.join(dirty)}): commit or stash them first; rollback writes "
                           f"the older stack there (nothing was changed)")


def write_stack(stack_dir: Path, files: dict[str, str]) -> list[str]:
    """Make the stack folder's generated files those of the commit; returns what changed."""
    changed = []
    for name, text in files.items():
        dest = stack_dir / name
        if not dest.is_file() or dest.read_text(encoding="utf-8") != text:
            tmp = dest.with_name(f".{name}.rollback.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, dest)
            changed.append(name)
    for old in _current(stack_dir):
        if old not in files:
            (stack_dir / old).unlink()
            changed.append(old)
    return sorted(changed)


class _Saved:
    """The terraform folder's stack files and saved plan, to put back when nothing is applied."""

    def __init__(self, session: Session):
        from runner.state import _record_path
        self.ws = session.ws
        self.files = {p.name: p.read_bytes() for p in stack_files(self.ws.workdir)} \
            if self.ws.workdir.is_dir() else {}
        self.extra = {p: p.read_bytes() for p in (self.ws.planfile, _record_path(self.ws))
                      if p.is_file()}
        # An older stack with other provider constraints makes make_plan re-init, which
        # rewrites the lock file (committed on the real target): it goes back too, and
        # the init record then asks for init again.
        lock = self.ws.workdir / LOCK_FILE
        self.lock = (lock, lock.read_bytes()) if lock.is_file() else None

    def restore(self) -> None:
        forget_plan(self.ws)
        for old in stack_files(self.ws.workdir) if self.ws.workdir.is_dir() else []:
            if old.name not in self.files:
                old.unlink()
        for name, data in self.files.items():
            dest = self.ws.workdir / name
            if not dest.is_file() or dest.read_bytes() != data:
                dest.write_bytes(data)
        for path, data in self.extra.items():
            path.write_bytes(data)
            path.chmod(0o600)
        if self.lock and self.lock[0].read_bytes() != self.lock[1]:
            self.lock[0].write_bytes(self.lock[1])


def rollback_infra(session: Session, config, ref: str | None, *,
                   on_plan: Callable[[RollbackPlan], None],
                   approve: Callable[[PlanSummary], bool],
                   allow_replace: bool = False, accept_data_loss: bool = False,
                   progress: Progress | None = None) -> RollbackResult:
    """Plan the stack of `ref` (default: the one before the last change), review, apply.

    on_plan sees the plan first (the CLI prints it); approve is asked after the
    review rule passed. Raises RefusedError when refused or not confirmed, and
    then everything is as it was. Once terraform ran the apply (done, stopped
    or failed), the stack folder holds the commit's files.
    """
    stack_dir = session.ws.stack_dir
    h = history(stack_dir)
    sha = resolve(h, ref)
    files = stack_at(h, sha)
    check_clean(h, stack_dir, files)
    with workdir_lock(session.ws.workdir, "rollback"), \
            tempfile.TemporaryDirectory(prefix="hd-rollback-") as tmp:
        for name, text in files.items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
        # The same path as a deploy: only the folder sync_copy reads from differs.
        # On the real target the workdir is the stack folder, so sync_copy writes
        # the old stack there; _Saved puts it back when nothing is applied.
        at_ref = replace(session, ws=replace(session.ws, stack_dir=Path(tmp)))
        saved = _Saved(session)
        try:
            planned = make_plan(at_ref, config)
            on_plan(RollbackPlan(ref or sha, sha, planned))
        except BaseException:
            saved.restore()   # nothing was applied: the terraform folder goes back as it was
            raise
        if not planned.summary.has_changes:
            # What runs already is that stack: the folders say so too.
            write_stack(stack_dir, files)
            return RollbackResult(sha, planned.summary, None, tuple(uncommitted(h)))
        confirmed = []

        def approve_once(summary: PlanSummary) -> bool:
            ok = approve(summary)
            confirmed.append(ok)
            return ok

        try:
            applied = apply_saved(at_ref, config, allow_replace=allow_replace,
                                  accept_data_loss=accept_data_loss, progress=progress,
                                  approve=approve_once)
        except BaseException as exc:
            if isinstance(exc, RefusedError) or not any(confirmed):
                # Refused (review rule, no 'yes', stale plan) or stopped at the
                # prompt (Ctrl-C): terraform applied nothing.
                saved.restore()
            else:
                write_stack(stack_dir, files)   # terraform ran: a rerun or deploy converges
            raise
        write_stack(stack_dir, files)
    return RollbackResult(sha, applied.summary, applied, tuple(uncommitted(h)))


def infra_line(stack_dir: Path, env: str) -> str:
    """What `rollback` without an argument says about the infrastructure."""
    try:
        h = history(stack_dir)
    except (ConfigError, CommandError) as exc:
        return f"infra: nothing to roll back ({exc})"
    if h.previous is None:
        return (f"infra: nothing to roll back (no earlier commit of the stack "
                f"{h.prefix.rstrip('/')})")
    line = (f"infra: stack {env} at {h.current[:7]} -> {h.previous[:7]} "
            f"(`hetzner-deploy rollback infra`)")
    try:
        dirty = uncommitted(h)
    except CommandError:
        dirty = []
    if dirty:   # e.g. a rollback not committed yet: the folder is not the commit named
        line += f"; the stack folder has uncommitted changes ({', '.join(dirty)})"
    return line

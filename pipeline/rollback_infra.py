"""Roll the infrastructure back to an earlier committed stack (`rollback infra`).

The stack files of a git ref are read with `git ls-tree` / `git show` (the
user's work tree is never checked out or written), put in a private temporary
folder, and fed to terraform exactly the way a sandbox deploy feeds the stack
folder: runner.workspace.sync_copy into the work copy, then make_plan, the
review rule (pipeline.review.check_safety: the volume and the server holding
it are never lost without --accept-data-loss), a confirmation and apply_saved.

When the plan is refused, not confirmed or empty, the work copy's stack files
and its saved plan are put back as they were, so nothing changed.

Only the sandbox runs on a copy. On the real target terraform runs in the
committed stack folder itself, so a rollback there would rewrite committed
files: it is refused with the git commands that do it reviewably instead.
"""
from __future__ import annotations

import fnmatch
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
from runner.workspace import STACK_PATTERNS, stack_files
from runner.worklock import workdir_lock

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


def stack_at(h: StackHistory, sha: str) -> dict[str, str]:
    """The stack files (the names sync_copy mirrors) in the commit's tree, by name."""
    listing = _git(["ls-tree", "-z", "--full-tree", sha, "--", h.prefix], h.toplevel)
    files = {}
    for entry in filter(None, listing.split("\0")):
        meta, _, path = entry.partition("\t")
        name = path[len(h.prefix):]
        if meta.split()[1:2] != ["blob"] or "/" in name or \
                not any(fnmatch.fnmatch(name, p) for p in STACK_PATTERNS):
            continue
        files[name] = _git(["show", f"{sha}:{path}"], h.toplevel)
    if "main.tf" not in files:
        raise ConfigError(f"commit {sha[:12]} has no stack in {h.prefix.rstrip('/')} "
                          f"(no main.tf there)")
    return files


class _Saved:
    """The work copy's stack files and saved plan, to put back when nothing is applied."""

    def __init__(self, session: Session):
        from runner.state import _record_path
        self.ws = session.ws
        self.files = {p.name: p.read_bytes() for p in stack_files(self.ws.workdir)} \
            if self.ws.workdir.is_dir() else {}
        self.extra = {p: p.read_bytes() for p in (self.ws.planfile, _record_path(self.ws))
                      if p.is_file()}

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


def refuse_real_target(session: Session, sha: str, h: StackHistory) -> None:
    if session.ws.is_copy:
        return
    raise RefusedError(
        f"on the real target terraform runs in the committed stack folder "
        f"{session.ws.stack_dir}, which rollback never rewrites: restore it with "
        f"`git checkout {sha[:12]} -- {h.prefix.rstrip('/')}`, then `hetzner-deploy plan` "
        f"and `apply` (the volume is never destroyed without --accept-data-loss)")


def rollback_infra(session: Session, config, ref: str | None, *,
                   on_plan: Callable[[RollbackPlan], None],
                   approve: Callable[[PlanSummary], bool],
                   allow_replace: bool = False, accept_data_loss: bool = False,
                   progress: Progress | None = None) -> RollbackResult:
    """Plan the stack of `ref` (default: the one before the last change), review, apply.

    on_plan sees the plan first (the CLI prints it); approve is asked after the
    review rule passed. Raises RefusedError when refused or not confirmed, and
    then the work copy is as it was.
    """
    h = history(session.ws.stack_dir)
    sha = resolve(h, ref)
    refuse_real_target(session, sha, h)
    files = stack_at(h, sha)
    with workdir_lock(session.ws.workdir, "rollback"), \
            tempfile.TemporaryDirectory(prefix="hd-rollback-") as tmp:
        for name, text in files.items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
        # The same path as a deploy: only the folder sync_copy reads from differs.
        at_ref = replace(session, ws=replace(session.ws, stack_dir=Path(tmp)))
        saved = _Saved(session)
        try:
            planned = make_plan(at_ref, config)
            on_plan(RollbackPlan(ref or sha, sha, planned))
        except BaseException:
            saved.restore()   # nothing was applied: the work copy goes back as it was
            raise
        if not planned.summary.has_changes:
            saved.restore()
            return RollbackResult(sha, planned.summary, None)
        try:
            applied = apply_saved(at_ref, config, allow_replace=allow_replace,
                                  accept_data_loss=accept_data_loss, progress=progress,
                                  approve=approve)
        except RefusedError:
            saved.restore()   # refused (review rule, no 'yes', stale) before terraform applied
            raise
    return RollbackResult(sha, applied.summary, applied)


def infra_line(stack_dir: Path, env: str) -> str:
    """What `rollback` without an argument says about the infrastructure."""
    try:
        h = history(stack_dir)
    except (ConfigError, CommandError) as exc:
        return f"infra: nothing to roll back ({exc})"
    if h.previous is None:
        return (f"infra: nothing to roll back (no earlier commit of the stack "
                f"{h.prefix.rstrip('/')})")
    return (f"infra: stack {env} at {h.current[:7]} -> {h.previous[:7]} "
            f"(`hetzner-deploy rollback infra`)")

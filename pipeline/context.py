"""What one pipeline run knows: inputs, the target, the session, and what phases hand on.

Phases read from the context and put their hand-offs on it (`outputs`);
they never print. Expensive facts are computed once per run here: the
terraform session is opened on first use, and the state identity (a `state
pull` on a pg or s3 backend) is read once, and again only after an apply
changed it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from generator.profile_choice import ProfileChoice
from pipeline.checkpoint import Checkpoint
from pipeline.progress import Progress

Confirm = Callable[[Any], bool]


@dataclass(frozen=True)
class DeployOptions:
    env: str
    profile: str | None = None
    auto_approve: bool = False
    allow_replace: bool = False
    accept_data_loss: bool = False     # pipeline/review.py: losing the volume or its server
    fresh: bool = False
    stacks_dir: Path | None = None
    sandbox_dir: Path | None = None
    run_preflight: bool = True
    only: str | None = None
    start: str | None = None       # --from


@dataclass
class Context:
    config: Any
    options: DeployOptions
    target: Any
    choice: ProfileChoice
    progress: Progress
    checkpoint: Checkpoint
    stacks_dir: Path
    workdir: Path
    confirm: Confirm | None = None
    outputs: Any = None                  # StackOutputs, from the outputs phase
    summary: Any = None                  # PlanSummary of this run's plan, when one ran
    applied: bool = False
    _session: Any = field(default=None, repr=False)
    _state_id: Any = field(default=None, repr=False)
    state_reads: int = 0                 # how often the state identity was read (tests)

    @property
    def profile(self):
        return self.choice.profile

    @property
    def env(self) -> str:
        return self.options.env

    @property
    def fingerprint(self) -> str:
        """Which project this run acts on (pipeline.target: a hash, never the token)."""
        return self.target.fingerprint

    @property
    def session(self):
        if self._session is None:
            from pipeline.stack import open_session
            self._session = open_session(self.target, self.env,
                                         stacks_dir=self.options.stacks_dir,
                                         sandbox_dir=self.options.sandbox_dir)
        return self._session

    def state_identity(self) -> tuple:
        if self._state_id is None:
            from runner.state import state_id
            self._state_id = dataclasses.astuple(state_id(self.session.ws, self.session.tf))
            self.state_reads += 1
        return self._state_id

    def state_changed(self) -> None:
        """An apply moved the state: the next state_identity() reads it again."""
        self._state_id = None

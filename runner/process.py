"""The one place that spawns external processes.

Callers build argv lists (never shell strings); failures become a
CommandError carrying the command, its exit status and the tail of stderr.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from errors import CommandError

STDERR_TAIL_LINES = 15


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def which(program: str) -> str | None:
    return shutil.which(program)


def run(argv: Sequence[str], *, cwd: str | Path | None = None,
        env: Mapping[str, str] | None = None, input: str | None = None,
        check: bool = True, timeout: float | None = None,
        error_cls: type[CommandError] = CommandError) -> Completed:
    """Run argv to completion, capturing stdout and stderr as text.

    `env` entries are added to the current environment, not substituted for it.
    """
    argv = [str(a) for a in argv]
    full_env = None
    if env is not None:
        full_env = dict(os.environ)
        full_env.update(env)
    try:
        proc = subprocess.run(argv, cwd=cwd, env=full_env, input=input,
                              capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise error_cls(f"{argv[0]}: command not found (is it installed and on PATH?)",
                        argv=argv) from None
    except subprocess.TimeoutExpired:
        raise error_cls(f"{argv[0]}: timed out after {timeout}s", argv=argv) from None
    done = Completed(tuple(argv), proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        last = tail(proc.stderr or proc.stdout, 1) or "no output"
        raise error_cls(f"{os.path.basename(argv[0])} {argv[1] if len(argv) > 1 else ''}"
                        f" failed (exit {proc.returncode}): {last}".replace("  ", " "),
                        argv=argv, returncode=proc.returncode,
                        stderr_tail=tail(proc.stderr or proc.stdout))
    return done

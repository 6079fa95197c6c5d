"""The one place that decides which profile a command works with.

Every command (generate, plan, deploy, verify, cost) asks `resolve_profile`
and prints `ProfileChoice.line()`, so the answer and the reason are the same
everywhere. The order:
  1. an explicit --profile
  2. the profile pinned in deploy.toml ([hetzner] profile)
  3. the profile the environment's stack was last generated for (its manifest)
  4. the recommendation from calls per month
Step 3 is what keeps `generate --profile ccx43` followed by a bare
`generate` on ccx43 instead of silently going back to the recommendation.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from generator.config import DeployConfig
from generator.profiles import Profile, get_profile

OPTION, CONFIG, STACK, SIZING = "option", "config", "stack", "sizing"


@dataclass(frozen=True)
class ProfileChoice:
    profile: Profile
    source: str          # option | config | stack | sizing
    reason: str

    @property
    def name(self) -> str:
        return self.profile.name

    def line(self) -> str:
        return f"profile {self.profile.name} ({self.reason})"


def resolve_profile(config: DeployConfig, wanted: str | None = None, *,
                    stacks_dir: Path | None = None, env: str | None = None) -> ProfileChoice:
    if wanted:
        return ProfileChoice(get_profile(wanted), OPTION, "--profile")
    if config.profile:
        return ProfileChoice(get_profile(config.profile), CONFIG,
                             "hetzner.profile in deploy.toml")
    from generator.config import STACKS
    from generator.manifest import stack_profile
    env = env or config.environment
    generated = stack_profile((stacks_dir or STACKS) / env)
    if generated:
        return ProfileChoice(get_profile(generated), STACK,
                             f"the profile stack {env} was last generated for")
    from generator.sizing import recommend
    rec = recommend(config.calls_per_month, config.thresholds)
    return ProfileChoice(get_profile(rec.profile), SIZING,
                         f"recommended for {config.calls_per_month} calls/month")

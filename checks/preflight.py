"""The preflight phase and `verify`: one report on whether a deploy can go ahead.

run_preflight() gathers findings and never prints. Expected problems
become checks with an action; an API failure (401, timeout, DNS …) becomes a
failed "API reachable" check plus `api_error`, so the local checks are still
reported, and the caller decides whether to raise it. Secrets never enter
the report: the token is only ever described as set or not set.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from errors import ApiError, DeployError
from generator.config import DeployConfig
from generator.naming import resource_names
from pricing.estimate import cents
from generator.profiles import Profile
from checks import hetzner_api
from checks import prerequisites
from checks import security
from checks.availability import Availability, check_availability
from checks.base import FAIL, NOT_CHECKED, OK, WARN, Check
from checks.inventory import Conflict, Inventory, find_conflicts, read_inventory, state_ids
from pricing.live import CostReport, cost_report, fetch_pricing
from pipeline.target import Target

OWNERSHIP_STATE, OWNERSHIP_LABELS = "terraform state", "labels"


@dataclass(frozen=True)
class VerifyReport:
    mode: str                               # "before" | "after"
    target_kind: str
    endpoint_host: str
    profile: str
    environment: str
    location: str
    checks: tuple[Check, ...]
    inventory: Inventory | None = None
    conflicts: tuple[Conflict, ...] = ()
    ownership: str | None = None
    availability: Availability | None = None
    cost: CostReport | None = None
    api_latency_ms: float | None = None
    api_error: str | None = None
    next_actions: tuple[str, ...] = field(default=())

    @property
    def ready(self) -> bool:
        return not any(c.blocks for c in self.checks)

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == WARN)

    def as_json(self) -> dict[str, Any]:
        inv = None
        if self.inventory is not None:
            inv = {f.family: {"count": f.count, "names": list(f.names),
                              "status": "empty" if f.count == 0 else "present"}
                   for f in self.inventory.families}
        av = None
        if self.availability is not None:
            av = {"types": [asdict(t) for t in self.availability.types],
                  "image": asdict(self.availability.image), "ok": self.availability.ok}
        cost = None
        if self.cost is not None:
            cost = {"live": self.cost.live, "label": self.cost.label, "problem": self.cost.problem,
                    "estimate": self.cost.estimate.as_json() if self.cost.estimate else None}
        return {
            "mode": self.mode, "target": self.target_kind, "endpoint_host": self.endpoint_host,
            "profile": self.profile, "environment": self.environment, "location": self.location,
            "ready": self.ready, "api_latency_ms": self.api_latency_ms, "api_error": self.api_error,
            "checks": [asdict(c) for c in self.checks],
            "inventory": inv, "ownership": self.ownership,
            "conflicts": [asdict(c) for c in self.conflicts],
            "availability": av, "cost": cost, "next_actions": list(self.next_actions),
        }


def _next_actions(checks: tuple[Check, ...]) -> tuple[str, ...]:
    """Blocking actions first, then warnings; each action once."""
    seen: list[str] = []
    for status in (FAIL, WARN):
        for check in checks:
            if check.status == status and check.action and check.action not in seen:
                seen.append(check.action)
    return tuple(seen)


def _stale_callable(config: DeployConfig, profile: Profile,
                    stacks_dir: Path | None) -> Callable[[], list[str]] | None:
    try:
        from generator.freshness import stale_files
    except ImportError:
        return None
    return lambda: stale_files(config, config.environment, stacks_dir,
                               profile_name=profile.name)


def _token_check(target: Target) -> Check:
    if target.token:
        where = "sandbox token" if target.kind == "sandbox" else "HCLOUD_TOKEN is set"
        return Check("api", "Token configured", OK, where)
    return Check("api", "Token configured", FAIL, "no API token",
                 "export HCLOUD_TOKEN=<token from the Hetzner console, Security > API tokens>")


def local_checks(config: DeployConfig, profile: Profile, target: Target,
                 environ: Mapping[str, str], env_file: Path | None,
                 stacks_dir: Path | None = None) -> list[Check]:
    checks = [prerequisites.check_terraform(environ.get("TERRAFORM_BIN", "terraform"))]
    checks += prerequisites.check_ssh_key(config.ssh_public_key)
    checks += prerequisites.check_env_file(env_file or config.source.parent / ".env")
    checks.append(prerequisites.check_stack(_stale_callable(config, profile, stacks_dir),
                                            config.environment))
    checks.append(security.check_ssh_allow(config.ssh_allow))
    checks.append(security.check_token_age(environ, sandbox=target.kind == "sandbox"))
    return checks


# Where each family lives in the single-server stack, for a ready-to-run import command.
STACK_ADDRESSES = {"servers": "hcloud_server.main", "volumes": "hcloud_volume.data",
                   "firewalls": "hcloud_firewall.main", "ssh_keys": "hcloud_ssh_key.main",
                   "placement_groups": "hcloud_placement_group.main"}


def _conflict_action(c: Conflict, env: str) -> str:
    what = c.family[:-1].replace("_", " ")
    address = STACK_ADDRESSES.get(c.family)
    # Our own command: it imports in the right work dir (the sandbox's is a copy).
    adopt = (f"hetzner-deploy adopt --env {env} {address} {c.resource_id}" if address
             else f"hetzner-deploy adopt --env {env} ADDRESS {c.resource_id}")
    return (f"rename or delete the existing {what} '{c.name}' (id {c.resource_id}), "
            f"or adopt it if it is really this stack's: {adopt}")


def _conflict_checks(conflicts: tuple[Conflict, ...], ownership: str, env: str) -> list[Check]:
    if not conflicts:
        return [Check("conflicts", "Planned names free", OK,
                      f"no planned name is taken (ownership by {ownership})")]
    return [Check("conflicts", f"{c.family}: {c.name}", FAIL,
                  f"id {c.resource_id} {c.reason}", _conflict_action(c, env))
            for c in conflicts]


def _availability_checks(av: Availability) -> list[Check]:
    checks = []
    for t in av.types:
        status = OK if t.status == "available" else WARN if t.orderable else FAIL
        checks.append(Check("availability", f"{t.kind} {t.name} in {t.location}", status,
                            t.status + (f": {t.detail}" if t.detail else ""),
                            None if status == OK else
                            f"choose another location or profile: {t.kind} {t.name} "
                            f"is {t.status} in {t.location}"))
    img = av.image
    checks.append(Check("availability", f"image {img.name}", OK if img.found else FAIL,
                        img.detail, None if img.found else
                        "set hetzner.image in deploy.toml to an existing image (e.g. ubuntu-24.04)"))
    return checks


def _cost_check(cost: CostReport) -> Check:
    if cost.estimate is None:
        return Check("cost", "Monthly estimate", NOT_CHECKED, cost.problem)
    total = cents(cost.estimate.total_monthly_eur)
    return Check("cost", "Monthly estimate", OK, f"€{total}/month ({cost.label})")


def _read_state(target: Target, config: DeployConfig, workdir: Path | None,
                stacks_dir: Path | None = None) -> tuple[Mapping[str, Any] | None, str]:
    """This target's Terraform state (None and why not when it cannot be read).

    A local state file is read directly; a remote backend needs an
    initialised work dir and goes through `terraform state pull`.
    """
    try:
        from runner.state import read_state
        from runner.terraform import Terraform, terraform_env
        from runner.workspace import Workspace, workspace_for
    except ImportError:
        return None, "runner not available"
    try:
        if workdir is not None:
            ws = Workspace(config.environment, target.kind, Path(workdir), Path(workdir))
        else:
            kw = {"stacks_dir": stacks_dir} if stacks_dir else {}
            ws = workspace_for(target.kind, config.environment, **kw)
        if not ws.workdir.is_dir():
            return None, f"no work dir {ws.workdir}"
        local = ws.workdir / "terraform.tfstate"
        if not local.is_file() and not (ws.workdir / ".terraform").is_dir():
            return None, "no state yet (never initialised)"
        tf = Terraform(ws.workdir, terraform_env(extra=target.terraform_env))
        state = read_state(ws, tf)
    except (DeployError, OSError, ValueError) as exc:
        return None, f"state unreadable ({exc})"
    return (state or None), ("" if state else "state is empty")


def _switch_checks(target: Target, config: DeployConfig, workdir: Path | None,
                   stacks_dir: Path | None) -> list[Check]:
    """A tier switch stopped halfway (pipeline/tier_switch.py): where it is, what finishes it."""
    from pipeline.tier_switch import load
    from runner.workspace import workspace_for
    try:
        kw = {"stacks_dir": stacks_dir} if stacks_dir else {}
        record = load(Path(workdir) if workdir else
                      workspace_for(target.kind, config.environment, **kw).workdir)
    except (DeployError, OSError) as exc:
        return [Check("after", "Tier switch finished", WARN, getattr(exc, "message", str(exc)))]
    if record is None:
        return []
    if record.down:      # 3-tier -> one server (pipeline/tier_down.py)
        from pipeline.tier_down import where as down_where
        where = down_where(record)
    else:
        where = {"serving": "the app servers are added and the old app still serves on the "
                            "db server (public 80/443 open)",
                 "retiring": "the old app is stopped; the db server's extra firewall is still "
                             "to go"}.get(record.stage, record.stage)
    return [Check("after", "Tier switch finished", WARN,
                  f"{record.source} -> {record.target} under way: {where}",
                  f"hetzner-deploy switch --to {record.target}")]


def _after_checks(client, outputs, state, profile, config, target) -> list[Check]:
    """Every phase's after-checks, gathered by the pipeline (phases not built yet: not checked)."""
    from pipeline.engine import AfterContext, gather_after_checks
    from pipeline.phases import PHASES, PLANNED
    return gather_after_checks(PHASES, PLANNED, AfterContext(client, outputs, state, profile,
                                                             config, target))


def run_preflight(config: DeployConfig, profile: Profile, target: Target, *,
                  after: bool = False, outputs: Any = None,
                  environ: Mapping[str, str] | None = None,
                  env_file: Path | None = None, workdir: Path | None = None,
                  stacks_dir: Path | None = None,
                  state: Mapping[str, Any] | None = None,
                  deadline_s: float = hetzner_api.DEFAULT_DEADLINE_S) -> VerifyReport:
    """The verify report. `state` (terraform show -json) may be given or read from `workdir`."""
    environ = os.environ if environ is None else environ
    host = hetzner_api.host_of(target.endpoint)
    checks: list[Check] = [_token_check(target)]
    if not after:
        checks += local_checks(config, profile, target, environ, env_file, stacks_dir)
    base = dict(mode="after" if after else "before", target_kind=target.kind,
                endpoint_host=host, profile=profile.name, environment=config.environment,
                location=config.location)
    if not target.token:
        done = tuple(checks)
        return VerifyReport(checks=done, next_actions=_next_actions(done), **base)

    if state is None:
        state, _why = _read_state(target, config, workdir, stacks_dir)
    extra: dict[str, Any] = {}
    try:
        client = hetzner_api.open_client(target.endpoint, target.token, deadline_s=deadline_s)
        probe = hetzner_api.probe(client, target.endpoint)
        extra["api_latency_ms"] = probe.latency_ms
        checks.append(Check("api", "API reachable", OK,
                            f"HTTP 200 from {host} in {probe.latency_ms:.0f} ms"))
        with hetzner_api.api_errors(target.endpoint, hetzner_api.timeout_of(client)):
            if after:
                checks += _after_checks(client, outputs, state, profile, config, target)
                checks += _switch_checks(target, config, workdir, stacks_dir)
            else:
                checks += _before_api_checks(client, target.endpoint, config, profile,
                                             state, extra)
    except ApiError as exc:
        # After a good probe the failure is a later request's: name it so.
        name = "API answered every request" if "api_latency_ms" in extra else "API reachable"
        checks.append(Check("api", name, FAIL, exc.message,
                            "fix API access, then run hetzner-deploy verify again"))
        extra = {k: v for k, v in extra.items() if k == "api_latency_ms"}
        extra["api_error"] = exc.message
    done = tuple(checks)
    return VerifyReport(checks=done, next_actions=_next_actions(done), **base, **extra)


def _existing_checks(client, config: DeployConfig, profile: Profile, owned) -> list[Check]:
    from checks.existing import check_downgrades, check_ssh_key_reuse
    from generator.naming import server_types_by_name
    from generator.render import read_public_key
    def ids(family: str):
        return None if owned is None else owned.get(family, set())
    checks = check_downgrades(client, profile, server_types_by_name(config, profile),
                              ids("servers"))
    try:
        public_key = read_public_key(config.ssh_public_key)
    except DeployError:
        return checks     # the local checks already report an unreadable key
    key_name = resource_names(config, profile)["ssh_keys"][0]
    return [check_ssh_key_reuse(client, public_key, key_name, ids("ssh_keys")), *checks]


def _before_api_checks(client, endpoint: str, config: DeployConfig, profile: Profile,
                       state: Mapping[str, Any] | None, extra: dict) -> list[Check]:
    checks: list[Check] = []
    inventory = read_inventory(client)
    extra["inventory"] = inventory
    owned = state_ids(state) if state else None
    ownership = OWNERSHIP_STATE if owned is not None else OWNERSHIP_LABELS
    conflicts = find_conflicts(inventory, resource_names(config, profile),
                               project=config.project, environment=config.environment,
                               owned_ids=owned)
    extra.update(conflicts=conflicts, ownership=ownership)
    checks += _conflict_checks(conflicts, ownership, config.environment)
    checks += _existing_checks(client, config, profile, owned)

    availability = check_availability(
        client, server_types=profile.server_types,
        load_balancer_types=profile.load_balancer_types,
        location=config.location, image=config.image)
    extra["availability"] = availability
    checks += _availability_checks(availability)

    try:
        with hetzner_api.api_errors(endpoint, hetzner_api.timeout_of(client),
                                    what="live prices"):
            pricing, live_error = fetch_pricing(client), ""
    except ApiError as exc:
        pricing, live_error = None, exc.message
    cost = cost_report(profile, config, pricing, live_error)
    extra["cost"] = cost
    checks.append(_cost_check(cost))
    return checks

"""`check`: the generated stacks parse, are formatted, fit the provider's
schema, carry valid cloud-init, and are what `generate` would write now.

Each check returns a list of problems (strings); an empty list is a pass.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import hcl2

from generator import provider_schema
from generator.config import DeployConfig
from generator.render import STACKS, stack_profile, stale_files
from runner import terraform
from runner.process import run

META_ARGUMENTS = {"count", "for_each", "depends_on", "provider", "lifecycle",
                  "connection", "provisioner"}


@dataclass(frozen=True)
class CheckResult:
    name: str
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _is_block(value) -> bool:
    # python-hcl2 gives a block as a list of dicts; the schema says which keys are blocks.
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def stacks(stacks_dir: Path = STACKS) -> list[Path]:
    if not stacks_dir.is_dir():
        return []
    return sorted(p for p in stacks_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def parse_stack(stack_dir: Path) -> tuple[dict[str, dict], list[str]]:
    parsed, problems = {}, []
    for path in sorted([*stack_dir.glob("*.tf"), *stack_dir.glob("*.tfvars")]):
        try:
            parsed[path.name] = hcl2.loads(path.read_text(encoding="utf-8"))
        except Exception as exc:  # python-hcl2 raises lark errors of many kinds
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            problems.append(f"{stack_dir.name}/{path.name}: does not parse: {first}")
    return parsed, problems


def _check_body(where: str, body: dict, block: dict) -> list[str]:
    attributes = block.get("attributes", {})
    block_types = block.get("block_types", {})
    problems = []
    given = dict(body)
    for key, value in given.items():
        if key in META_ARGUMENTS:
            continue
        if key in attributes:
            spec = attributes[key]
            if spec.get("computed") and not (spec.get("optional") or spec.get("required")):
                problems.append(f"{where}: {key} is read-only (computed by the provider)")
            elif spec.get("deprecated"):
                problems.append(f"{where}: {key} is deprecated in the provider")
        elif key in block_types:
            nested = block_types[key]
            items = value if _is_block(value) else []
            if not items:
                problems.append(f"{where}: {key} must be a block, not an attribute")
                continue
            if nested.get("max_items") and len(items) > nested["max_items"]:
                problems.append(f"{where}: at most {nested['max_items']} {key} block(s) allowed")
            for item in items:
                problems += _check_body(f"{where}.{key}", item, nested["block"])
        else:
            problems.append(f"{where}: unknown argument {key!r}")
    for key, spec in attributes.items():
        if spec.get("required") and key not in given:
            problems.append(f"{where}: required argument {key!r} is missing")
    for key, nested in block_types.items():
        if nested.get("min_items") and key not in given:
            problems.append(f"{where}: required block {key!r} is missing")
    return problems


def schema_problems(parsed: dict[str, dict], stack_name: str) -> list[str]:
    problems = []
    for filename, doc in parsed.items():
        for provider in doc.get("provider", []):
            for name, body in provider.items():
                if name == "hcloud":
                    problems += _check_body(f"{stack_name}/{filename}: provider hcloud",
                                            body, provider_schema.provider_block()["block"])
        for resource in doc.get("resource", []):
            for rtype, instances in resource.items():
                for rname, body in instances.items():
                    where = f"{stack_name}/{filename}: {rtype}.{rname}"
                    if not rtype.startswith("hcloud_"):
                        continue  # other providers are not ours to judge
                    try:
                        schema = provider_schema.resource_schema(rtype)
                    except KeyError:
                        problems.append(f"{where}: unknown resource type {rtype!r}")
                        continue
                    problems += _check_body(where, body, schema["block"])
    return problems


def fmt_problems(stacks_dir: Path) -> list[str]:
    done = terraform.fmt(["."], check=True, cwd=stacks_dir)
    if done.returncode == 0:
        return []
    if done.stdout.strip():
        return [f"{line}: not formatted (run terraform fmt)" for line in done.stdout.split()]
    # fmt cannot format what it cannot parse; the parse check names the file.
    summary = next((line.strip("│ ").strip() for line in done.stderr.splitlines()
                    if line.strip("│ ").startswith("Error:")), done.stderr.strip()[:200])
    return [f"terraform fmt could not read the stacks: {summary}"]


def cloud_init_problems(stack_dir: Path) -> list[str]:
    problems = []
    for path in sorted(stack_dir.glob("*.yaml")):
        done = run(["cloud-init", "schema", "--config-file", str(path)], check=False)
        if done.returncode != 0:
            detail = " ".join((done.stderr or done.stdout).split())[:300]
            problems.append(f"{stack_dir.name}/{path.name}: invalid cloud-config: {detail}")
    return problems


def check_all(config: DeployConfig, stacks_dir: Path = STACKS) -> list[CheckResult]:
    found = stacks(stacks_dir)
    parse, schema, cloud, stale = [], [], [], []
    if not found:
        parse.append(f"no stacks under {stacks_dir}: run `hetzner-deploy generate` first")
    for stack_dir in found:
        parsed, problems = parse_stack(stack_dir)
        parse += problems
        schema += schema_problems(parsed, stack_dir.name)
        cloud += cloud_init_problems(stack_dir)
        if stack_profile(stack_dir) is None:
            stale.append(f"{stack_dir.name}: terraform.tfvars names no profile; regenerate it")
            continue
        for name in stale_files(config, stack_dir.name, stacks_dir):
            stale.append(f"{stack_dir.name}/{name}: stale, differs from what "
                         f"`generate` writes now")
    return [
        CheckResult("parse (python-hcl2)", tuple(parse)),
        CheckResult("format (terraform fmt)", tuple(fmt_problems(stacks_dir)) if found else ()),
        CheckResult("provider schema (hcloud 1.68)", tuple(schema)),
        CheckResult("cloud-init schema", tuple(cloud)),
        CheckResult("up to date with templates", tuple(stale)),
    ]

"""`check`: the generated stacks parse, are formatted, fit the provider's
schema, carry valid cloud-init, hold only what the templates render, hold
only files `generate` wrote (or hand-written `*.local.tf`), and are what
`generate` would write now.

Each check returns a list of problems (strings); an empty list is a pass.

"Only what the templates render" does not trust the values in deploy.toml:
the expected shape comes from rendering the stack's profile with benign
stand-in values, and the stack on disk must have exactly that shape (the
same blocks, resources, backend arguments, keys and list lengths; a plain
string where the templates render a plain string). A value that managed to
break out of its string literal shows up there, whatever it added.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import hcl2
import yaml

from errors import ConfigError
from generator import provider_schema
from generator.config import DeployConfig
from generator.manifest import (LOCAL_SUFFIX, MANIFEST_NAME, Manifest, ManifestError,
                                list_stack, protected_resources, read_manifest, sha256)
from generator.profiles import get_profile
from generator.render import STACKS, render_templates, stale_files
from runner import terraform
from runner.process import run

META_ARGUMENTS = {"count", "for_each", "depends_on", "provider", "lifecycle",
                  "connection", "provisioner"}


@dataclass(frozen=True)
class CheckResult:
    name: str
    problems: tuple[str, ...]
    notes: tuple[str, ...] = ()    # worth saying, not a failure (hand-written files)

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
            elif "nested_type" in spec:   # e.g. hcloud_zone_rrset.records = [{ value = ... }]
                items = value if isinstance(value, list) else [value]
                for item in items:
                    if isinstance(item, dict):
                        problems += _check_body(f"{where}.{key}", item, spec["nested_type"])
        elif key == "dynamic" and _is_block(value):
            # dynamic "network" { for_each ... content { ... } }: content is checked as the block.
            for item in value:
                for name, spec in item.items():
                    if name not in block_types:
                        problems.append(f"{where}: unknown block {name!r} in dynamic")
                        continue
                    for content in spec.get("content") or []:
                        problems += _check_body(f"{where}.{name}", content,
                                                block_types[name]["block"])
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


# Keys that run code on the machine that deploys (with the API token in its
# environment) or on the servers: never rendered, refused in every file.
FORBIDDEN_KEYS = {
    "provisioner": "a provisioner runs commands during apply",
    "local-exec": "local-exec runs commands on the deploying machine",
    "remote-exec": "remote-exec runs commands on a server over SSH",
    "connection": "a connection block is only for provisioners",
}
_INTERPOLATION = (re.compile(r"(?<!\$)\$\{"), re.compile(r"(?<!%)%\{"))
# A fixed, valid key for the benign render: its value never matters, only its shape.
_BENIGN_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenignBenignBenignBenignBenignBenignBenign0"


def forbidden_problems(parsed: dict[str, dict], stack_name: str) -> list[str]:
    problems = []

    def walk(node, path: str, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in FORBIDDEN_KEYS:
                    problems.append(f"{where}: {path}{key}: refused: {FORBIDDEN_KEYS[key]}, "
                                    "and hetzner-deploy never renders one")
                walk(value, f"{path}{key}.", where)
        elif isinstance(node, list):
            for item in node:
                walk(item, path, where)

    for filename, doc in parsed.items():
        walk(doc, "", f"{stack_name}/{filename}")
    return problems


def _merged(doc: dict) -> dict:
    """python-hcl2 gives each top-level block as one list item; merge them by label."""
    out: dict = {}
    for key, value in doc.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            merged: dict = {}
            for item in value:
                for label, body in item.items():
                    if label in merged and key in ("resource", "data"):
                        merged[label] = {**merged[label], **body}
                    else:
                        merged[label if label not in merged else f"{label}#{len(merged)}"] = body
            out[key] = merged
        else:
            out[key] = value
    return out


def skeleton(node):
    """The shape of a parsed document: keys, list lengths, and leaf kinds."""
    if isinstance(node, dict):
        return {str(k): skeleton(v) for k, v in node.items()}
    if isinstance(node, list):
        return [skeleton(v) for v in node]
    if isinstance(node, str):
        return "template" if any(p.search(node) for p in _INTERPOLATION) else "string"
    return type(node).__name__


_KIND = {"template": "a template expression", "string": "a plain string"}


def _labels(node) -> str:
    """What an unexpected block holds, e.g. ` (terraform_data.pwn)`."""
    if not isinstance(node, dict) or not node:
        return ""
    names = [f"{k}.{n}" if isinstance(v, dict) and v and all(isinstance(b, dict) for b in
                                                              v.values()) else k
             for k, v in node.items() for n in (v if isinstance(v, dict) else [None])]
    return " (" + ", ".join(sorted(set(names))[:5]) + ")"


def _diff(expected, actual, path: str) -> list[str]:
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = [f"{path}{k}: not rendered by the templates{_labels(actual[k])}"
               for k in actual if k not in expected]
        out += [f"{path}{k}: missing, the templates render it" for k in expected if k not in actual]
        for k in expected:
            if k in actual:
                out += _diff(expected[k], actual[k], f"{path}{k}.")
        return out
    where = path.rstrip(".") or "document"
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{where}: {len(actual)} item(s) where the templates render {len(expected)}"]
        return [p for e, a in zip(expected, actual) for p in _diff(e, a, f"{path}")]
    if expected != actual:
        kind = lambda v: _KIND.get(v, v if isinstance(v, str) else type(v).__name__)  # noqa: E731
        return [f"{where}: {kind(actual)} where the templates render {kind(expected)}"]
    return []


def _benign(config: DeployConfig) -> DeployConfig:
    """Same shape as `config` (backend kind, which settings are given, list
    lengths), with stand-in values that cannot break any template."""
    backend = config.backend
    fields = ("endpoint", "bucket", "key", "region", "schema_name")
    backend = dataclasses.replace(backend, **{f: "benign" if getattr(backend, f) is not None
                                              else None for f in fields})
    allow = config.ssh_allow if isinstance(config.ssh_allow, (list, tuple)) else ()
    return dataclasses.replace(
        config, project="benign", environment="benign", location="nbg1", image="benign",
        ssh_allow=("0.0.0.0/0",) * max(1, len(allow)), volume_size_gb=50,
        backups=config.backups if isinstance(config.backups, bool) else True, backend=backend)


def _parse_text(name: str, text: str):
    if name.endswith(".yaml"):
        return yaml.safe_load(text)
    return _merged(hcl2.loads(text))


def structure_problems(config: DeployConfig, stack_dir: Path, manifest: Manifest,
                       parsed: dict[str, dict]) -> list[str]:
    """The generated files have exactly the shape the templates render."""
    stack = stack_dir.name
    try:
        profile = get_profile(manifest.profile)
        expected = render_templates(_benign(config), profile, _BENIGN_KEY)
    except ConfigError as exc:
        return [f"{stack}/{MANIFEST_NAME}: cannot render profile {manifest.profile!r}: {exc}"]
    problems = []
    for name in manifest.names:
        if name not in expected:
            problems.append(f"{stack}/{name}: listed in {MANIFEST_NAME}, but profile "
                            f"{profile.name} renders no such file")
            continue
        path = stack_dir / name
        if not path.is_file():
            continue  # the manifest check names it
        try:
            actual = (_merged(parsed[name]) if name in parsed
                      else _parse_text(name, path.read_text(encoding="utf-8")))
        except Exception:  # noqa: BLE001 - the parse and cloud-init checks name it
            continue
        problems += [f"{stack}/{name}: {p}"
                     for p in _diff(skeleton(_parse_text(name, expected[name])),
                                    skeleton(actual), "")]
    return problems


def hand_written_problems(parsed: dict[str, dict], stack_name: str) -> list[str]:
    """`*.local.tf` may add hcloud resources and outputs; never a backend,
    a module, or another provider's resources or data sources."""
    problems = []
    for filename, doc in parsed.items():
        if not filename.endswith(LOCAL_SUFFIX):
            continue
        where = f"{stack_name}/{filename}"
        doc = _merged(doc)
        for key in ("module", "terraform"):
            for label in doc.get(key, {}) if key == "module" else ([key] if key in doc else []):
                problems.append(f"{where}: {key} {label!r}: not allowed in a hand-written file")
        for kind in ("resource", "data"):
            for rtype in doc.get(kind, {}):
                if not str(rtype).startswith("hcloud_"):
                    problems.append(f"{where}: {kind} type {rtype!r}: only hcloud_* types "
                                    "may be added by hand")
        for name in doc.get("provider", {}):
            if str(name).split("#")[0] != "hcloud":
                problems.append(f"{where}: provider {name!r}: only hcloud may be configured")
    return problems


def manifest_problems(stack_dir: Path, manifest: Manifest,
                      parsed: dict[str, dict]) -> tuple[list[str], list[str]]:
    """(problems, notes): every file is listed and unchanged, or a *.local.tf;
    the manifest's protected resources are the ones the generated files protect."""
    stack = stack_dir.name
    listing = list_stack(stack_dir, manifest)
    problems = [f"{stack}/{name}: not generated (not in {MANIFEST_NAME}); delete it, or "
                f"rename it to *{LOCAL_SUFFIX} to keep it as hand-written"
                for name in listing.unknown]
    problems += [f"{stack}/{name}: listed in {MANIFEST_NAME} but missing; regenerate"
                 for name in listing.missing]
    for name in listing.generated:
        if sha256((stack_dir / name).read_bytes()) != manifest.sha256(name):
            problems.append(f"{stack}/{name}: edited since `generate` (its sha256 differs "
                            f"from {MANIFEST_NAME})")
    generated = {n: doc for n, doc in parsed.items() if n in manifest.names}
    found = protected_resources(generated)
    if found != manifest.protected:
        addresses = lambda ps: ", ".join(  # noqa: E731
            p.address + "[" + ",".join(k for k in ("delete_protection", "prevent_destroy")
                                       if getattr(p, k)) + "]" for p in ps) or "none"
        problems.append(f"{stack}/{MANIFEST_NAME}: lists protected resources "
                        f"{addresses(manifest.protected)}, the stack protects {addresses(found)}")
    notes = [f"{stack}/{name}: hand-written, kept as is" for name in listing.hand_written]
    return problems, notes


def check_all(config: DeployConfig, stacks_dir: Path = STACKS) -> list[CheckResult]:
    found = stacks(stacks_dir)
    parse, schema, cloud, shape, files, notes, stale = [], [], [], [], [], [], []
    if not found:
        parse.append(f"no stacks under {stacks_dir}: run `hetzner-deploy generate` first")
    for stack_dir in found:
        parsed, problems = parse_stack(stack_dir)
        parse += problems
        schema += schema_problems(parsed, stack_dir.name)
        cloud += cloud_init_problems(stack_dir)
        shape += forbidden_problems(parsed, stack_dir.name)
        shape += hand_written_problems(parsed, stack_dir.name)
        try:
            manifest = read_manifest(stack_dir)
        except ManifestError as exc:
            files.append(str(exc))
            continue
        if manifest is None:
            files.append(f"{stack_dir.name}: no {MANIFEST_NAME}; run `hetzner-deploy generate "
                         f"--env {stack_dir.name}` to write it")
            continue
        env_config = dataclasses.replace(config, environment=stack_dir.name)
        shape += structure_problems(env_config, stack_dir, manifest, parsed)
        more, hand = manifest_problems(stack_dir, manifest, parsed)
        files += more
        notes += hand
        for name in stale_files(config, stack_dir.name, stacks_dir):
            stale.append(f"{stack_dir.name}/{name}: stale, differs from what "
                         f"`generate` writes now")
    return [
        CheckResult("parse (python-hcl2)", tuple(parse)),
        CheckResult("format (terraform fmt)", tuple(fmt_problems(stacks_dir)) if found else ()),
        CheckResult("provider schema (hcloud 1.68)", tuple(schema)),
        CheckResult("cloud-init schema", tuple(cloud)),
        CheckResult("structure (only what the templates render)", tuple(shape)),
        CheckResult("files (manifest.json or *.local.tf)", tuple(files), tuple(notes)),
        CheckResult("up to date with templates", tuple(stale)),
    ]

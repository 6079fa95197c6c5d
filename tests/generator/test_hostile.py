"""No value can change the structure of a generated stack.

For every configurable field that reaches a template, and every hostile
string: the render either refuses with a one-line ConfigError, or the
rendered stack has exactly the shape of a benign render (python-hcl2 and
PyYAML) and Terraform reads the value back exactly. The config objects are
built directly (dataclasses.replace), so this holds even for a value that
config validation would let through.
"""
from __future__ import annotations

import base64
import dataclasses
import json
import re

import hcl2
import pytest
import yaml

from errors import ConfigError
from generator.config import BackendConfig, load_config
from generator.profiles import get_profile
from generator.render import generate, render_stack, render_templates
from generator.validate import check_all
from runner.process import run
from tests.generator.test_escape import HOSTILE, LONG

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILgabWgyYOwl5ML0xE+kLrdPGyD8UKpBGnsuY5uCPVi5"
S3 = BackendConfig(kind="s3", endpoint="https://s3.example", bucket="b", key="k", region="r")
PG = BackendConfig(kind="pg", schema_name="s")


def _backend(base: BackendConfig, **change):
    return lambda c, v: dataclasses.replace(
        c, backend=dataclasses.replace(base, **{k: v for k in change}))


# field -> (how to set it, where it lands: (file, tfvars/backend argument or None, expected))
FIELDS = {
    "project.name": (lambda c, v: dataclasses.replace(c, project=v),
                     [("terraform.tfvars", "project", lambda v: v),
                      ("user-data.yaml", None, lambda v: "/opt/" + v)]),
    "hetzner.location": (lambda c, v: dataclasses.replace(c, location=v),
                         [("terraform.tfvars", "location", lambda v: v)]),
    "hetzner.image": (lambda c, v: dataclasses.replace(c, image=v),
                      [("terraform.tfvars", "image", lambda v: v)]),
    "ssh.allow": (lambda c, v: dataclasses.replace(c, ssh_allow=(v,)),
                  [("terraform.tfvars", "ssh_allow_cidrs", lambda v: [v])]),
    "state.bucket": (_backend(S3, bucket=1), [("versions.tf", "bucket", lambda v: v)]),
    "state.key": (_backend(S3, key=1), [("versions.tf", "key", lambda v: v)]),
    "state.region": (_backend(S3, region=1), [("versions.tf", "region", lambda v: v)]),
    "state.endpoint": (_backend(S3, endpoint=1),
                       [("versions.tf", "endpoints", lambda v: {"s3": v})]),
    "state.schema_name": (_backend(PG, schema_name=1),
                          [("versions.tf", "schema_name", lambda v: v)]),
    # The key file's text, after read_public_key (which another check parses first).
    "ssh.public_key": (lambda c, v: (c, "ssh-ed25519 " + v),
                       [("terraform.tfvars", "ssh_public_key", lambda v: "ssh-ed25519 " + v)]),
}
# Fields that must refuse every hostile value outright (a folder name, typed values).
REFUSED = {
    "project.environment": lambda c, v: dataclasses.replace(c, environment=v),
    "storage.volume_size_gb": lambda c, v: dataclasses.replace(c, volume_size_gb=v),
    "storage.backups": lambda c, v: dataclasses.replace(c, backups=v),
}
# The 100 KB value goes through one field per target (tfvars + YAML, backend):
# the encoder is the same for all, and each 100 KB parse costs about a second.
WITH_LONG = {"project.name", "state.bucket"}


def render(setter, config, value):
    """render_templates with the field set; a setter may also give the public key."""
    out = setter(config, value)
    config, key = out if isinstance(out, tuple) else (out, KEY)
    return render_templates(config, get_profile("ccx33"), key)


@pytest.fixture
def config(make_config):
    return load_config(make_config())


def shape(node):
    """Keys, list lengths and leaf types: the structure, not the values."""
    if isinstance(node, dict):
        return {k: shape(v) for k, v in node.items()}
    if isinstance(node, list):
        return [shape(v) for v in node]
    return type(node).__name__


def parsed(name: str, text: str):
    return yaml.safe_load(text) if name.endswith(".yaml") else hcl2.loads(text)


def literal(text: str, argument: str) -> str:
    """The right-hand side of `argument = ...` (one line: the shape check came first)."""
    found = re.findall(rf"^\s*{re.escape(argument)}\s*=\s*(.*)$", text, re.MULTILINE)
    assert len(found) == 1, (argument, found)
    return found[0]


def read_back(cases: list[tuple[dict[str, str], str, str | None]], tmp_path) -> list:
    """Terraform's reading of each case: an HCL literal, or user-data via templatefile()."""
    exprs = []
    for i, (files, name, argument) in enumerate(cases):
        if argument is None:
            (tmp_path / f"u{i}.yaml").write_text(files[name], encoding="utf-8")
            exprs.append(f'templatefile("u{i}.yaml", {{ volume_device = "/dev/sdb", '
                         f'host_key_private = "", host_key_public = "" }})')
        else:
            exprs.append(literal(files[name], argument))
    body = "\n".join(f"  v{i} = {e}" for i, e in enumerate(exprs))
    (tmp_path / "main.tf").write_text(f"locals {{\n{body}\n}}\n", encoding="utf-8")
    expr = "base64encode(jsonencode([" + ", ".join(f"local.v{i}" for i in range(len(exprs)))
    done = run(["terraform", "console"], cwd=tmp_path, input=expr + "]))\n", timeout=120)
    values = json.loads(base64.b64decode(done.stdout.strip().strip('"')))
    return [yaml.safe_load(v)["runcmd"][-1][2] if a is None else v
            for v, (_, _, a) in zip(values, cases)]


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_hostile_values_are_data_not_structure(field, config, tmp_path):
    setter, lands = FIELDS[field]
    benign = render(setter, config, "benign")
    benign_shape = {n: shape(parsed(n, t)) for n, t in benign.items()}
    cases, expected = [], []
    for value in [*HOSTILE, LONG] if field in WITH_LONG else HOSTILE:
        try:
            files = render(setter, config, value)
        except ConfigError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(field), (value, str(exc))
            continue
        for name, text in files.items():
            if text != benign[name]:
                assert shape(parsed(name, text)) == benign_shape[name], (field, value, name)
        for name, argument, want in lands:
            cases.append((files, name, argument))
            expected.append(want(value))
    assert cases, f"{field}: every value refused; the round trip was never tried"
    assert read_back(cases, tmp_path) == expected


@pytest.mark.parametrize("field", sorted(REFUSED))
@pytest.mark.parametrize("value", ["x\n", '50"\nresource "x" "y" {}', "${x}", "é", "",
                                   "a" * 100_000, 1.5, None])
def test_fields_that_take_no_text_refuse_it(field, value, config):
    with pytest.raises(ConfigError) as info:
        render_templates(REFUSED[field](config, value), get_profile("ccx33"), KEY)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(field)


def test_the_reported_exploit_renders_as_a_bucket_name(config, tmp_path):
    """Issue 9's case: a [state] value that ends the backend block and adds a
    terraform_data resource with a local-exec provisioner."""
    exploit = ('b"\n  }\n}\nresource "terraform_data" "pwn" {\n  provisioner "local-exec" {\n'
               '    command = "env > /tmp/token"\n  }\n}\nterraform {\n  backend "s3" {\n'
               '    bucket = "x')
    hostile = dataclasses.replace(config, backend=dataclasses.replace(S3, bucket=exploit))
    files = render_stack(hostile, get_profile("ccx33"))
    versions = hcl2.loads(files["versions.tf"].decode())
    assert list(versions) == ["terraform"]
    assert list(versions["terraform"][0]["backend"][0]["s3"]) == [
        "bucket", "key", "region", "endpoints", "use_lockfile", "skip_credentials_validation",
        "skip_region_validation", "skip_requesting_account_id", "skip_metadata_api_check",
        "skip_s3_checksum", "use_path_style"]
    assert b"terraform_data" not in files["main.tf"]
    # And `check` passes the stack: the value is data, nothing was added.
    generate(hostile, "ccx33", stacks_dir=tmp_path / "stacks")
    assert all(r.ok for r in check_all(hostile, tmp_path / "stacks"))

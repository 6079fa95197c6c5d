"""deploy.toml as an attacker or a careless user writes it.

- every configurable string field against a table of hostile strings: each is
  refused with one line naming the key, or accepted only where the field's
  documented pattern (deploy.example.toml) allows it; an accepted value that
  reaches the stack is read back unchanged from the rendered HCL by python-hcl2;
- names made from project and environment fit Hetzner's 63-character label,
  with generator/naming.py as the judge of which names are made;
- a deploy.toml that is a directory, a FIFO, a symlink loop, /dev/zero, too big,
  not UTF-8 or not TOML is one line on stderr through the CLI, never a hang.
"""
from __future__ import annotations

import dataclasses
import functools
import ipaddress
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import hcl2
import pytest
from click.testing import CliRunner

from cli import cli
from errors import ConfigError
from generator.config import (LOCATIONS, default_config_path, load_config,
                              with_environment)
from generator.naming import resource_names
from generator.profiles import PROFILE_NAMES, get_profile
from generator import render
from runner.process import Completed
from generator.render import render_stack
from tests.conftest import TEST_PUBLIC_KEY

REPO = Path(__file__).resolve().parents[2]

HOSTILE = [
    "", " ", "\t", '"', 'a"b', "a'b", "a\\b", "${var.x}", "a${b}", "%{ if true }x%{ endif }",
    "{{ x }}", "a\n", "\n", "a\nb", 'x"\n}\nresource "terraform_data" "x" {\n', "a\r\nb",
    "a\x00b", "a\x7f", "a\u2028b", "a\u0085", "x: y", "- a", "&a", "*a", "!!python/object",
    "|", ">", "#c", "a #c", "@a", "`a`", "{a: 1}", "[a]", "yes", "null", "~", "0x10", "1e3",
    "ü", "straße", "\u202eevil", "🙂", "ａｂｃ", "prod\u0131", "../../etc/passwd",
    "/etc/passwd", "a b", "a" * 100_000,
]

# Per field: the pattern documented in deploy.example.toml (or the choices), and values a
# user would really write, which must be accepted (so refusing everything cannot pass).
DOCUMENTED: dict[str, tuple[str | tuple[str, ...], list]] = {
    "project.name": (r"[a-z][a-z0-9-]{0,40}[a-z0-9]", ["a1", "my-app", "a" * 42]),
    "project.environment": (r"[a-z][a-z0-9-]{0,40}[a-z0-9]", ["staging", "prod-2"]),
    "project.domain": (r"(?=.{4,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
                       ["example.com", "App.Example.COM", "xn--bcher-kva.example"]),
    "hetzner.location": (LOCATIONS, ["hel1", "ash"]),
    "hetzner.image": (r"[a-z0-9][a-z0-9.-]{1,62}", ["ubuntu-24.04", "debian-12"]),
    "hetzner.profile": (PROFILE_NAMES, ["ccx43", "3-tier"]),
    "traffic.current_host": (r"[A-Za-z0-9]([A-Za-z0-9 ._()&+-]{0,62}[A-Za-z0-9.)])?",
                             ["Heroku", "Fly.io (EU)", "AWS & Co"]),
    "state.backend": (("local", "pg", "s3"), ["pg", "local"]),
    "state.endpoint": (r"https?://[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(:[0-9]{1,5})?/?",
                       ["https://fsn1.your-objectstorage.com", "http://127.0.0.1:9000"]),
    "state.bucket": (r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", ["tfstate", "my.bucket-1"]),
    "state.key": (r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*", ["app/production/terraform.tfstate"]),
    "state.region": (r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?", ["eu-central-1", "main"]),
    "state.schema_name": (r"[a-z][a-z0-9-]{0,40}[a-z0-9]", ["tfstate"]),
    "ssh.allow": ("CIDR", [["10.0.0.0/8"], ["2001:db8::/32", "203.0.113.7"]]),
    "ssh.public_key": ("existing key file", ["id_test.pub"]),
    "pricing.table": ("existing file", ["prices.toml"]),
}
# Fields whose values are written into the stack (HCL): nothing but these characters.
REACHES_STACK = {"project.name", "project.environment", "hetzner.location", "hetzner.image",
                 "state.endpoint", "state.bucket", "state.key", "state.region",
                 "state.schema_name", "ssh.allow"}
STACK_SAFE = re.compile(r"[A-Za-z0-9._:/-]+")


def base_doc(backend: str = "s3") -> dict:
    state = {"backend": backend}
    if backend == "s3":
        state |= {"endpoint": "https://fsn1.your-objectstorage.com", "bucket": "tfstate"}
    return {
        "project": {"name": "autoscale-ai", "environment": "production",
                    "domain": "app.example.com"},
        "hetzner": {"location": "nbg1", "image": "ubuntu-22.04"},
        "ssh": {"public_key": "id_test.pub", "allow": ["203.0.113.7/32"]},
        "traffic": {"current_host": "Railway"},
        "state": state,
    }


_TOML_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f]')


@functools.lru_cache(maxsize=None)
def toml_string(value: str) -> str:
    text = '"' + _TOML_ESCAPE.sub(lambda m: "\\" + m[0] if m[0] in '"\\'
                                 else f"\\u{ord(m[0]):04x}", value) + '"'
    assert tomllib.loads(f"x = {text}")["x"] == value   # the encoder says what we mean
    return text


def toml_value(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return toml_string(value)


def toml_doc(doc: dict) -> str:
    return "".join(f"[{section}]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in body.items())
                   for section, body in doc.items())


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "id_test.pub").write_text(TEST_PUBLIC_KEY + "\n")
    (tmp_path / "prices.toml").write_text("")
    return tmp_path


def attempt(folder: Path, key: str, value):
    section, name = key.split(".")
    doc = base_doc("pg" if key == "state.schema_name" else "s3")
    doc.setdefault(section, {})[name] = value
    path = folder / "deploy.toml"
    path.write_text(toml_doc(doc), encoding="utf-8")
    try:
        return load_config(path), None
    except ConfigError as exc:
        return None, str(exc)


def accepted_value(config, key: str):
    attr = {"project.name": "project", "project.environment": "environment",
            "project.domain": "domain", "hetzner.location": "location", "hetzner.image": "image",
            "hetzner.profile": "profile", "traffic.current_host": "current_host",
            "ssh.allow": "ssh_allow", "ssh.public_key": "ssh_public_key",
            "pricing.table": "pricing_table"}.get(key)
    if attr:
        return getattr(config, attr)
    return getattr(config.backend, "kind" if key == "state.backend" else key.split(".")[1])


def documented(key: str, value) -> bool:
    rule = DOCUMENTED[key][0]
    if isinstance(rule, tuple):
        return value in rule
    if rule == "CIDR":
        return all(str(ipaddress.ip_network(c, strict=True)) == c for c in value)
    if rule.startswith("existing"):
        return Path(value).is_file()
    return re.fullmatch(rule, value) is not None


def near_misses(good: list) -> list:
    """Each realistic value spoiled at an edge: `^...$` with re.match lets "value\\n" through."""
    out = []
    for value in good:
        if isinstance(value, list):
            out += [[value[0] + "\n"], [" " + value[0]], value + [""]]
        else:
            out += [value + "\n", value + "\r", " " + value, value + " ", value + "\x00",
                    value + '"', value + "${x}"]
    return out


@pytest.mark.parametrize("key", DOCUMENTED)
def test_hostile_strings_are_refused_in_one_line_or_fit_the_documented_pattern(folder, key):
    values = ([[h] for h in HOSTILE] if key == "ssh.allow" else HOSTILE) \
        + near_misses(DOCUMENTED[key][1])
    problems, accepted = [], []
    for value in values + DOCUMENTED[key][1]:
        config, message = attempt(folder, key, value)
        if message is not None:
            if not (message.startswith(f"deploy.toml: {key}") and len(message.splitlines()) == 1
                    and message.isprintable() and len(message) < 600):
                problems.append(f"{value!r:.40}: bad message {message!r:.300}")
            continue
        got = accepted_value(config, key)
        accepted.append(got)
        if not documented(key, got):
            problems.append(f"{value!r:.40}: accepted as {got!r:.40}, outside the documented pattern")
        if key in REACHES_STACK and not all(STACK_SAFE.fullmatch(v) for v in
                                            (got if isinstance(got, tuple) else [got])):
            problems.append(f"{value!r:.40}: accepted a value unsafe for HCL")
    assert not problems, "\n".join(problems)
    assert len(accepted) >= len(DOCUMENTED[key][1])     # every realistic value got through


_FMT_OK = Completed(("terraform", "fmt"), 0, "", "")   # a formatter that changes nothing


@pytest.mark.parametrize("key", sorted(REACHES_STACK))
def test_accepted_values_read_back_unchanged_from_the_rendered_stack(folder, key, monkeypatch):
    """python-hcl2 is the judge: the value is one string in its place, nothing more.

    `terraform fmt` is left out (it only moves whitespace, and costs a process per value)."""
    monkeypatch.setattr(render.terraform, "fmt", lambda paths, **kwargs: _FMT_OK)
    golden_keys = set(hcl2.loads((REPO / "terraform/stacks/production/terraform.tfvars").read_text()))
    candidates = [[h] for h in HOSTILE] if key == "ssh.allow" else HOSTILE
    for value in candidates + DOCUMENTED[key][1]:
        config, message = attempt(folder, key, value)
        if config is None:
            continue
        files = render_stack(config, get_profile("ccx33"))
        got = accepted_value(config, key)
        if key.startswith("state."):
            terraform = hcl2.loads(files["versions.tf"].decode())["terraform"][0]
            assert set(terraform) == {"required_version", "required_providers", "backend"}
            (body,) = terraform["backend"][0].values()
            read = body["endpoints"]["s3"] if key == "state.endpoint" else body[key.split(".")[1]]
            assert read == got
        else:
            tfvars = hcl2.loads(files["terraform.tfvars"].decode())
            assert set(tfvars) == golden_keys
            name = {"project.name": "project", "project.environment": "environment",
                    "hetzner.location": "location", "hetzner.image": "image",
                    "ssh.allow": "ssh_allow_cidrs"}[key]
            assert tfvars[name] == (list(got) if key == "ssh.allow" else got)


# --- names and Hetzner's limits --------------------------------------------------------

RFC1123_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")   # lower case is our choice


def names_fit(config) -> bool:
    """The judge: every name naming.py makes, for every profile, is a valid label <= 63."""
    return all(RFC1123_LABEL.fullmatch(n)
               for p in PROFILE_NAMES
               for names in resource_names(config, get_profile(p)).values() for n in names)


# "<project>-<env>-app-firewall" (3-tier) is the longest name: 63 leaves 49 for the two.
@pytest.mark.parametrize("project_len,env_len,fits", [
    (2, 2, True), (38, 11, True), (37, 12, True), (25, 24, True),
    (38, 12, False), (25, 25, False), (30, 25, False), (42, 42, False)])
def test_project_and_environment_are_refused_exactly_when_a_name_would_not_fit(
        folder, project_len, env_len, fits):
    project, env = "p" * project_len, "e" * env_len
    doc = base_doc()
    doc["project"] |= {"name": project, "environment": env}
    (folder / "deploy.toml").write_text(toml_doc(doc))
    try:
        config = load_config(folder / "deploy.toml")
    except ConfigError as exc:
        refused = str(exc)
        assert len(refused.splitlines()) == 1
        assert refused.startswith(("deploy.toml: project.environment: ", "deploy.toml: project.name: "))
        assert "Hetzner allows 63" in refused
        # refused only when naming.py would really make a name that does not fit
        probe = dataclasses.replace(load_config(_short(folder)), project=project, environment=env)
        assert not names_fit(probe) and not fits
    else:
        assert names_fit(config) and fits


def test_the_length_check_reserves_room_for_ten_app_servers(folder):
    """The check asks naming.py, growing numbered roles: 3-tier may scale to ten app servers."""
    from generator.naming import longest_name
    assert longest_name("p", "e") == "p-e-app-firewall"
    assert longest_name("p" * 40, "e") == "p" * 40 + "-e-app-firewall"
    from generator.profiles import get_profile
    app = get_profile("3-tier").role("app")
    assert app.hostnames("b", 10)[-1] == "b-app-10" and len(app.hostnames("b")) == 2


def _short(folder: Path) -> Path:
    path = folder / "short.toml"
    path.write_text(toml_doc(base_doc()))
    return path


def test_env_option_is_held_to_the_same_rules(folder):
    config = load_config(_short(folder))
    assert with_environment(config, "staging").environment == "staging"
    for env, needle in [("Prod!", "--env: must be lowercase"), ("prod\n", "--env: must be lowercase"),
                        ("e" * 38, "--env: the name 'autoscale-ai-" + "e" * 38 + "-app-firewall' would be 64")]:
        with pytest.raises(ConfigError) as err:
            with_environment(config, env)
        assert str(err.value).startswith(needle) and len(str(err.value).splitlines()) == 1
    assert names_fit(with_environment(config, "e" * 37))


def test_env_option_through_the_cli(folder):
    result = CliRunner().invoke(cli, ["generate", "--dry-run", "--config", str(_short(folder)),
                                      "--stacks-dir", str(folder / "stacks"), "--env", "e" * 42])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: --env: the name")


# --- deploy.toml itself is the fault -------------------------------------------------------

def _huge(path: Path) -> Path:
    with path.open("wb") as f:          # sparse: 2 MiB on paper, nothing on disk
        f.truncate(2 * 1024 * 1024)
    return path


FAULTS = [
    ("directory", lambda p: (p.mkdir(), p)[1], "is a directory"),
    ("symlink loop", lambda p: (p.symlink_to(p), p)[1], "deploy.toml: is a symlink loop"),
    ("too big", _huge, "deploy.toml: is larger than 1 MiB"),
    ("not UTF-8", lambda p: (p.write_bytes(b'[project]\nname = "\xff\xfe"\n'), p)[1],
     "deploy.toml: not UTF-8 text (byte 18)"),
    ("invalid TOML", lambda p: (p.write_text("[project\n"), p)[1], "deploy.toml: invalid TOML"),
    ("nested too deeply", lambda p: (p.write_text("x = " + "[" * 200_000), p)[1],
     "deploy.toml: invalid TOML"),
    ("empty", lambda p: (p.write_text(""), p)[1], "deploy.toml: missing required key project.domain"),
    ("key with a newline", lambda p: (p.write_text('[project]\n"a\\nb" = 1\n'), p)[1],
     "deploy.toml: unknown key project.'a\\nb'"),
]


@pytest.mark.parametrize("make,needle", [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
def test_config_file_faults_are_one_line_through_the_cli(tmp_path, make, needle):
    path = make(tmp_path / "deploy.toml")
    result = CliRunner().invoke(cli, ["generate", "--dry-run", "--config", str(path),
                                      "--stacks-dir", str(tmp_path / "stacks")])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
    assert needle in result.stderr
    assert result.stdout == "" and not (tmp_path / "stacks").exists()


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_fifo_and_dev_zero_do_not_hang_the_real_cli(tmp_path, kind):
    """A separate process with a deadline: a hang fails the test instead of stalling it."""
    if kind == "fifo":
        path = tmp_path / "deploy.toml"
        os.mkfifo(path)
        problem = "is a FIFO, not a regular file"
    else:
        path, problem = Path("/dev/zero"), "is a device, not a regular file"
    done = subprocess.run([sys.executable, str(REPO / "cli.py"), "generate", "--dry-run",
                           "--config", str(path), "--stacks-dir", str(tmp_path / "stacks")],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == f"error: {path}: {problem}\n"
    assert done.stdout == ""


def test_a_broken_deploy_toml_symlink_is_reported_not_replaced_by_the_example(tmp_path):
    (tmp_path / "deploy.toml").symlink_to(tmp_path / "deploy.toml")
    path, from_example = default_config_path(tmp_path)
    assert (path, from_example) == (tmp_path / "deploy.toml", False)
    with pytest.raises(ConfigError, match=r"deploy.toml: is a symlink loop$"):
        load_config(path)

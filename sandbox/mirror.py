"""A Terraform filesystem mirror holding the stand-in hetznercloud/hcloud provider.

Terraform installs providers from a registry or a mirror; offline, the
sandbox points a CLI config at a local mirror (`dev_overrides` would make
`terraform init` try the registry). The mirror uses the unpacked layout:
<mirror>/registry.terraform.io/hetznercloud/hcloud/<version>/<os_arch>/
terraform-provider-hcloud_v<version>, here a small launcher script that runs
`python -m sandbox.provider` with the project's Python.
"""
from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

from generator.provider_schema import PROVIDER_SOURCE, PROVIDER_VERSION

REPO_ROOT = Path(__file__).resolve().parents[1]
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class MirrorInfo:
    mirror_dir: Path
    cli_config_file: Path
    provider_binary: Path
    version: str = PROVIDER_VERSION


def platform_dir() -> str:
    system = platform.system().lower()
    return f"{system}_{_ARCH.get(platform.machine().lower(), platform.machine().lower())}"


def project_python() -> Path:
    """The venv's interpreter when there is one next to the repo, else the running one."""
    venv = REPO_ROOT / ".venv" / "bin" / "python"
    return venv if venv.exists() else Path(sys.executable)


def launcher_text(python: Path, repo_root: Path = REPO_ROOT) -> str:
    # PYTHONPATH makes the repo's packages importable whatever directory
    # Terraform starts the plugin from.
    return ("#!/bin/sh\n"
            "# Stand-in hetznercloud/hcloud provider for the hetzner-deploy sandbox.\n"
            f"PYTHONPATH='{repo_root}'${{PYTHONPATH:+:$PYTHONPATH}}\n"
            "export PYTHONPATH\n"
            f"exec '{python}' -m sandbox.provider \"$@\"\n")


def cli_config_text(mirror_dir: Path) -> str:
    return ("# Written by hetzner-deploy's sandbox: the stand-in provider comes from the\n"
            "# local mirror, every other provider is installed as usual.\n"
            "provider_installation {\n"
            "  filesystem_mirror {\n"
            f"    path    = \"{mirror_dir}\"\n"
            f"    include = [\"{PROVIDER_SOURCE}\"]\n"
            "  }\n"
            "  direct {\n"
            f"    exclude = [\"{PROVIDER_SOURCE}\"]\n"
            "  }\n"
            "}\n")


def _write_if_changed(path: Path, text: str, mode: int) -> None:
    if not (path.is_file() and path.read_text() == text):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    elif (path.stat().st_mode & 0o777) != mode:
        os.chmod(path, mode)


def build_mirror(directory: Path, python: Path | None = None) -> MirrorInfo:
    """Lay out the mirror and CLI config under directory; cheap to call again."""
    directory = Path(directory).resolve()
    mirror_dir = directory / "mirror"
    host, namespace, name = PROVIDER_SOURCE.split("/")
    package_dir = mirror_dir / host / namespace / name / PROVIDER_VERSION / platform_dir()
    package_dir.mkdir(parents=True, exist_ok=True)
    binary = package_dir / f"terraform-provider-{name}_v{PROVIDER_VERSION}"
    _write_if_changed(binary, launcher_text(python or project_python()), 0o755)
    config = directory / "terraform.rc"
    _write_if_changed(config, cli_config_text(mirror_dir), 0o644)
    return MirrorInfo(mirror_dir=mirror_dir, cli_config_file=config, provider_binary=binary)

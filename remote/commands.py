"""Every remote command the app phase runs, as argv lists (pure; tests pin each one).

Nothing here is a shell string: remote/ssh.py joins these with shlex.join. Paths
are built with PurePosixPath from validated names, never from raw user text.
Compose commands use only what Compose v1 (the sandbox's 1.29) and v2 (Ubuntu's
docker-compose-v2) both understand: no `up --wait`, no `ps --format`.
"""
from __future__ import annotations

import re
from pathlib import PurePosixPath

from errors import ConfigError

BASE = PurePosixPath("/opt")
COMPOSE_NAME = "compose.yaml"
ENV_NAME = ".env"
MARKER = ".hetzner-deploy-release"   # only folders holding it are ours to prune
LOCK_NAME = ".deploy-lock"
LABEL = "hetzner-deploy.project"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")   # whole string: fullmatch ($ allows a newline)


def _name(value: str, what: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ConfigError(f"{what} {value!r} is not a safe name (lowercase letters, digits, - and _)")
    return value


def is_release_name(value: str) -> bool:
    return isinstance(value, str) and bool(_NAME.fullmatch(value))


def app_root(project: str) -> PurePosixPath:
    return BASE / _name(project, "project")


def releases_dir(project: str) -> PurePosixPath:
    return app_root(project) / "releases"


def release_dir(project: str, release: str) -> PurePosixPath:
    return releases_dir(project) / _name(release, "release")


def current_link(project: str) -> PurePosixPath:
    return app_root(project) / "current"


def lock_dir(project: str) -> PurePosixPath:
    return app_root(project) / LOCK_NAME


def make_release_dir(project: str, release: str) -> list[str]:
    return ["mkdir", "-p", "-m", "0700", str(release_dir(project, release))]


_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")


def release_file(project: str, release: str, relative: str) -> PurePosixPath:
    """Where one of the app's own files ([app] files) goes in a release; the path is
    relative, made of plain names only (no "..", no leading dot-dot tricks, no slashes
    doubled), or refused."""
    parts = relative.split("/")
    if not parts or len(parts) > 16 or not all(_PART.fullmatch(p) for p in parts):
        raise ValueError(f"not a plain relative path: {relative!r}")
    return release_dir(project, release).joinpath(*parts)


def make_release_subdir(project: str, release: str, relative: str) -> list[str]:
    return ["mkdir", "-p", "-m", "0755", str(release_file(project, release, relative).parent)]


def take_lock(project: str) -> list[str]:
    # mkdir is atomic: of two deploys, exactly one creates the folder.
    return ["mkdir", "-m", "0700", str(lock_dir(project))]


def read_lock(project: str) -> list[str]:
    return ["cat", "--", str(lock_dir(project) / "owner")]


def release_lock(project: str) -> list[str]:
    return ["rm", "-rf", "--", str(lock_dir(project))]


def compose(project: str, release: str, *args: str) -> list[str]:
    """`docker compose` on one release's files, under one Compose project per app
    (so a new release replaces the old containers instead of running beside them)."""
    folder = release_dir(project, release)
    return ["docker", "compose", "--project-name", _name(project, "project"),
            "--project-directory", str(folder), "--file", str(folder / COMPOSE_NAME),
            "--env-file", str(folder / ENV_NAME), *args]


def compose_up(project: str, release: str) -> list[str]:
    return compose(project, release, "up", "--detach", "--remove-orphans")


def compose_container_ids(project: str, release: str) -> list[str]:
    return compose(project, release, "ps", "--quiet")


def compose_logs(project: str, release: str, lines: int = 30) -> list[str]:
    return compose(project, release, "logs", "--no-color", "--tail", str(int(lines)))


def inspect_state(container_ids: list[str]) -> list[str]:
    fmt = "{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}}"
    return ["docker", "inspect", "--format", fmt, "--", *container_ids]


def inspect_services(container_ids: list[str]) -> list[str]:
    """One line per container: its Compose service, state and health ("-" without a
    healthcheck): the 3-tier db server's gate reads it."""
    fmt = ('{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} '
           '{{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}}')
    return ["docker", "inspect", "--format", fmt, "--", *container_ids]


def switch_current(project: str, release: str) -> list[list[str]]:
    """Point `current` at a release atomically: a new link, then rename over the old one."""
    root = app_root(project)
    tmp = str(root / ".current.tmp")
    return [["ln", "-sfn", f"releases/{_name(release, 'release')}", tmp],
            ["mv", "-T", "--", tmp, str(current_link(project))]]


def read_current(project: str) -> list[str]:
    return ["readlink", "--", str(current_link(project))]


def list_releases(project: str) -> list[str]:
    # Only our folders: each release holds MARKER (its creation time and hashes).
    return ["find", str(releases_dir(project)), "-mindepth", "2", "-maxdepth", "2",
            "-name", MARKER, "-printf", "%h\\n"]


def remove_release(project: str, release: str) -> list[str]:
    return ["rm", "-rf", "--", str(release_dir(project, release))]


def env_mode(project: str) -> list[str]:
    return ["stat", "-L", "-c", "%a %U", "--", str(current_link(project) / ENV_NAME)]


BOOT_MARKER = "/var/lib/cloud/instance/boot-finished"


def boot_finished() -> list[str]:
    # cloud-init writes it when every boot stage ran (so Docker is installed and up).
    return ["test", "-e", BOOT_MARKER]


def running_containers(project: str) -> list[str]:
    # The docker CLI, not `docker compose ps`: Compose v1 (Python) costs a second per call,
    # and the no-op check runs on every deploy.
    return ["docker", "ps", "--quiet", "--filter", "status=running",
            "--filter", f"label=com.docker.compose.project={_name(project, 'project')}"]


# What a deploy must know before it decides anything, in ONE round trip (a no-op deploy
# is this command and nothing else): the script is a constant, every path and the
# docker argv come in as positional parameters ($1..$5, then "$@"), so nothing is
# interpolated. One "key value" line per fact; "end" last, so a cut-off answer is
# never read as a complete one. A missing file just leaves its line out.
PROBE_SCRIPT = (
    'if test -e "$1"; then echo boot yes; else echo boot no; fi; '
    'if test -e "$2"; then echo lock yes; else echo lock no; fi; '
    'if t=$(readlink -- "$3"); then echo "current $t"; fi; '
    'if s=$(sha256sum -- "$4" 2>/dev/null); then echo "compose ${s%% *}"; fi; '
    'if s=$(sha256sum -- "$5" 2>/dev/null); then echo "env ${s%% *}"; fi; '
    'shift 5; for id in $("$@" 2>/dev/null); do echo "running $id"; done; '
    'echo end'
)


def probe(project: str) -> list[str]:
    """Booted?, lock held?, current release, sha256 of its compose file and .env, and the
    ids of the project's running containers (running_containers' argv, run as it is)."""
    link = current_link(project)
    return ["sh", "-c", PROBE_SCRIPT, "probe", BOOT_MARKER, str(lock_dir(project)), str(link),
            str(link / COMPOSE_NAME), str(link / ENV_NAME), *running_containers(project)]


def make_app_root(project: str) -> list[str]:
    return ["mkdir", "-p", "-m", "0700", str(app_root(project))]


def read_marker(project: str, release: str) -> list[str]:
    return ["cat", "--", str(release_dir(project, release) / MARKER)]


# --- building on the server from git ([app] image_source = "build") ----------------------
# The deploy key and the git host's known_hosts line live in /opt/<project>/git/ (0700):
# the key is uploaded 0600 to the server it is meant for and used only by git there.
_REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}")    # never an option ("-...")
_REPO = re.compile(r"(?:https://|ssh://|git@)[A-Za-z0-9._@:/~-]{3,250}")
SHA = re.compile(r"[0-9a-f]{40}")
SOURCE_DIR = "src"


def git_dir(project: str) -> PurePosixPath:
    return app_root(project) / "git"


def deploy_key_path(project: str) -> PurePosixPath:
    return git_dir(project) / "deploy_key"


def known_hosts_path(project: str) -> PurePosixPath:
    return git_dir(project) / "known_hosts"


def make_git_dir(project: str) -> list[str]:
    return ["mkdir", "-p", "-m", "0700", str(git_dir(project))]


def _git_env(project: str) -> list[str]:
    # git runs GIT_SSH_COMMAND through a shell: it is built from constants and the two
    # paths above (validated names only), never from user text. The git host's key is
    # pinned (StrictHostKeyChecking=yes with our known_hosts); no agent, no prompts.
    ssh = (f"ssh -i {deploy_key_path(project)} -o IdentitiesOnly=yes -o BatchMode=yes "
           f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={known_hosts_path(project)}")
    return ["env", f"GIT_SSH_COMMAND={ssh}", "GIT_TERMINAL_PROMPT=0"]


def _checked(repo: str, ref: str) -> tuple[str, str]:
    if not isinstance(repo, str) or not _REPO.fullmatch(repo):
        raise ConfigError(f"app.repo {repo!r} is not a git URL like git@github.com:team/app.git")
    if not isinstance(ref, str) or not _REF.fullmatch(ref) or ".." in ref:
        raise ConfigError(f"app.ref {ref!r} is not a branch, tag or commit")
    return repo, ref


def git_ls_remote(project: str, repo: str, ref: str) -> list[str]:
    repo, ref = _checked(repo, ref)
    return [*_git_env(project), "git", "ls-remote", "--exit-code", repo, ref]


def source_dir(project: str, release: str) -> PurePosixPath:
    return release_dir(project, release) / SOURCE_DIR


def git_fetch(project: str, release: str, repo: str, ref: str) -> list[list[str]]:
    """The commit into <release>/src: init, a shallow fetch of the ref, then a checkout of
    exactly the commit the release id names (a ref that moved in between fails the checkout)."""
    repo, ref = _checked(repo, ref)
    src = str(source_dir(project, release))
    return [["git", "init", "--quiet", src],
            [*_git_env(project), "git", "-C", src, "fetch", "--quiet", "--depth", "1", repo, ref]]


def git_checkout(project: str, release: str, commit: str) -> list[str]:
    if not SHA.fullmatch(commit or ""):
        raise ValueError(f"not a commit id: {commit!r}")
    return ["git", "-C", str(source_dir(project, release)), "-c", "advice.detachedHead=false",
            "checkout", "--quiet", "--detach", commit]


def has_source(project: str, release: str) -> list[str]:
    return ["test", "-d", str(source_dir(project, release))]


def compose_build(project: str, release: str) -> list[str]:
    return compose(project, release, "build")

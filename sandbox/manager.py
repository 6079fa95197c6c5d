"""Start, find and stop the local sandbox: the API emulator as a detached
background process, its token, and the stand-in provider's mirror.

Everything lives in one directory (default <repo>/.sandbox, or
$HETZNER_DEPLOY_SANDBOX_DIR): emulator.pid, emulator.port, emulator.log,
token (0600), state/ (the emulator's JSON state), mirror/ and terraform.rc.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import http.client
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import psutil

from errors import SandboxError

REPO_ROOT = Path(__file__).resolve().parents[1]
DIR_ENV = "HETZNER_DEPLOY_SANDBOX_DIR"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
MACHINES_STOP_TIMEOUT = 60.0


@dataclass(frozen=True)
class SandboxInfo:
    directory: Path
    running: bool
    pid: int | None = None
    port: int | None = None
    endpoint: str | None = None
    token: str | None = field(default=None, repr=False)
    cli_config_file: Path | None = None
    mirror_dir: Path | None = None
    counts: Mapping[str, int] = field(default_factory=dict)   # resources per family, from the emulator
    namecheap_endpoint: str | None = None    # the registrar (sandbox/registrar.py)
    dns_server: str | None = None            # host:port of the DNS server for its zones
    acme: Mapping[str, str] | None = None    # pebble (sandbox/acme.py): directory, ca_file, management

    def as_dict(self) -> dict:
        """For `status --json`: everything but the token."""
        return {"directory": str(self.directory), "running": self.running, "pid": self.pid, "port": self.port,
                "endpoint": self.endpoint,
                "cli_config_file": str(self.cli_config_file) if self.cli_config_file else None,
                "mirror_dir": str(self.mirror_dir) if self.mirror_dir else None, "counts": dict(self.counts),
                "namecheap_endpoint": self.namecheap_endpoint, "dns_server": self.dns_server,
                "acme": dict(self.acme) if self.acme else None}


def sandbox_dir(directory: str | os.PathLike | None = None) -> Path:
    if directory is not None:
        return Path(directory).resolve()
    return Path(os.environ.get(DIR_ENV) or REPO_ROOT / ".sandbox").resolve()


def _files(d: Path) -> dict[str, Path]:
    return {"pid": d / "emulator.pid", "port": d / "emulator.port", "log": d / "emulator.log",
            "token": d / "token", "state": d / "state",
            # present while the emulator runs with sandbox machines (`up --machines`)
            "machines_on": d / "emulator.machines", "machines": d / "machines", "images": d / "images"}


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _token(path: Path, create: bool) -> str | None:
    if path.exists():
        return path.read_text().strip() or None
    if not create:
        return None
    token = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token


def _process(pid: int | None) -> psutil.Process | None:
    """The running process with this pid, or None once it is gone or only a
    zombie (reaped here if it is our child). psutil, not /proc, so this works
    on macOS too."""
    if not pid:
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            return proc
    except psutil.NoSuchProcess:  # ZombieProcess is one too
        pass
    except psutil.AccessDenied:
        return None  # another user's process: never ours
    _reap(pid)
    return None


def _alive(pid: int | None) -> bool:
    """True for a live emulator process with this pid. A recycled pid must not
    be mistaken for (or killed as) the emulator, hence the command-line check."""
    proc = _process(pid)
    if proc is None:
        return False
    try:
        return any("sandbox.emulator" in arg for arg in proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _probe(port: int, token: str, timeout: float = 2.0) -> dict | None:
    # http.client, not urllib: this runs on every sandbox command, and urllib's
    # extra imports (ssl, email, ...) cost more than the request.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/_sandbox/state", headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        return json.loads(resp.read()) if resp.status == 200 else None
    except (http.client.HTTPException, OSError, ValueError):
        return None
    finally:
        conn.close()


def _mirror_paths(d: Path) -> tuple[Path | None, Path | None]:
    mirror, config = d / "mirror", d / "terraform.rc"
    return (mirror if mirror.is_dir() else None, config if config.is_file() else None)


def status(directory: str | os.PathLike | None = None) -> SandboxInfo:
    d = sandbox_dir(directory)
    f = _files(d)
    pid, port = _read_int(f["pid"]), _read_int(f["port"])
    token = _token(f["token"], create=False)
    mirror_dir, cli_config = _mirror_paths(d)
    summary = _probe(port, token) if (_alive(pid) and port and token) else None
    if summary is None:
        return SandboxInfo(d, False, token=token, cli_config_file=cli_config, mirror_dir=mirror_dir)
    return SandboxInfo(d, True, pid, port, f"http://127.0.0.1:{port}/v1", token, cli_config, mirror_dir,
                       dict(summary.get("counts", {})), summary.get("namecheap_endpoint"),
                       summary.get("dns"), summary.get("acme"))


def _log_tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "no log"


def _start(d: Path, port: int | None, token: str, machines: bool = False) -> None:
    f = _files(d)
    f["port"].unlink(missing_ok=True)
    env = dict(os.environ, HCLOUD_SANDBOX_TOKEN=token,
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    for secret in ("HCLOUD_TOKEN", "TF_VAR_hcloud_token"):  # a real token has no business in there
        env.pop(secret, None)
    argv = [sys.executable, "-m", "sandbox.emulator", "--state-dir", str(f["state"]),
            "--port", str(port or 0), "--port-file", str(f["port"]),
            "--verbose",  # one line per request in emulator.log; the token is never in it
            "--registrar"]  # Namecheap emulator + DNS server (sandbox/registrar.py)
    if machines:
        argv += ["--machines", str(f["machines"]), "--machine-images", str(f["images"])]
        # Tests (and a second sandbox on one host) pick their own range; the default is 198.51.100.0/24.
        if os.environ.get("HETZNER_DEPLOY_MACHINE_RANGE"):
            argv += ["--machine-range", os.environ["HETZNER_DEPLOY_MACHINE_RANGE"]]
        f["machines_on"].write_text("1\n")
    else:
        f["machines_on"].unlink(missing_ok=True)
    with open(f["log"], "ab") as log:
        proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    f["pid"].write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            f["pid"].unlink(missing_ok=True)
            raise SandboxError(f"the sandbox emulator exited at start (exit {proc.returncode}): "
                               f"{_log_tail(f['log'])} (log: {f['log']})")
        bound = _read_int(f["port"])
        if bound and _probe(bound, token, timeout=0.5) is not None:
            return
        time.sleep(0.05)
    _terminate(proc.pid)
    f["pid"].unlink(missing_ok=True)
    raise SandboxError(f"the sandbox emulator did not answer within {START_TIMEOUT:.0f}s (log: {f['log']})")


def up(directory: str | os.PathLike | None = None, port: int | None = None,
       machines: bool = False) -> SandboxInfo:
    """Start the sandbox unless it already runs; either way return its info.
    machines: boot a real machine per running server (root; see sandbox/machines)."""
    if port is not None and not 0 < port < 65536:
        raise SandboxError(f"invalid port {port}: use 1-65535")
    d = sandbox_dir(directory)
    try:
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        token = _token(_files(d)["token"], create=True)
    except OSError as exc:
        raise SandboxError(f"cannot use sandbox directory {d}: {exc.strerror}") from None
    current = status(d)
    if current.running and port and current.port != port:
        raise SandboxError(f"the sandbox already runs on port {current.port}; "
                           f"run `hetzner-deploy sandbox down` first to move it to {port}")
    if current.running and machines and not _files(d)["machines_on"].exists():
        raise SandboxError("the sandbox already runs without machines; "
                           "run `hetzner-deploy sandbox down` first, then `sandbox up --machines`")
    if machines and not current.running:
        from sandbox.machines import preflight
        preflight.check()
    if not current.running:
        stale = _read_int(_files(d)["pid"])
        if _alive(stale):  # ours, but deaf (hung, or its token file was replaced): replace it
            _terminate(stale)
        _start(d, port, token, machines)
    try:
        from sandbox.mirror import build_mirror
    except ImportError as exc:
        raise SandboxError(f"the provider mirror builder is missing: {exc}") from None
    build_mirror(d)
    info = status(d)
    if not info.running:
        raise SandboxError(f"the sandbox emulator stopped right after starting (log: {_files(d)['log']})")
    return info


def _terminate(pid: int, timeout: float = STOP_TIMEOUT) -> bool:
    """SIGTERM, wait, then SIGKILL; True once the process is gone."""
    try:
        proc = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return True
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 2.0)):
        try:
            # psutil checks the pid still names the same process (start time)
            # before signalling, and its wait() reaps a child of ours. Waiting
            # for the exit, not an empty command line: an exiting process still
            # holds its port until it is fully gone.
            proc.send_signal(sig)
            proc.wait(timeout=wait)
            return True
        except psutil.NoSuchProcess:
            return True
        except psutil.TimeoutExpired:
            continue
    return _process(pid) is None


def down(directory: str | os.PathLike | None = None) -> SandboxInfo:
    """Stop the emulator; keeps its state, token and mirror for the next `up`."""
    d = sandbox_dir(directory)
    f = _files(d)
    pid = _read_int(f["pid"])
    # With machines the emulator stops each one (about 2 s apiece) before it exits.
    timeout = MACHINES_STOP_TIMEOUT if f["machines_on"].exists() else STOP_TIMEOUT
    if _alive(pid) and not _terminate(pid, timeout):
        raise SandboxError(f"could not stop the sandbox emulator (pid {pid})")
    f["pid"].unlink(missing_ok=True)
    f["port"].unlink(missing_ok=True)
    if f["machines"].is_dir():
        # Whatever a killed emulator could not remove: namespaces, routes, cgroups, processes.
        from sandbox.machines.sweep import sweep
        sweep(f["machines"])
    f["machines_on"].unlink(missing_ok=True)
    return status(d)


def shell_env(info: SandboxInfo) -> dict[str, str]:
    if not info.running or not info.endpoint or not info.token:
        raise SandboxError("the sandbox is not running: run `hetzner-deploy sandbox up`")
    # The marker tells hetzner-deploy that this shell points at the sandbox, so a
    # set HCLOUD_TOKEN is not mistaken for a real target (pipeline/target.py).
    env = {"HCLOUD_ENDPOINT": info.endpoint, "HCLOUD_TOKEN": info.token,
           "HETZNER_DEPLOY_SANDBOX": str(info.directory)}
    if info.cli_config_file:
        env["TF_CLI_CONFIG_FILE"] = str(info.cli_config_file)
    return env

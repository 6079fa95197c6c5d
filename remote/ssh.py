"""The one SSH layer (asyncssh): pinned host keys only, argv lists, a timeout on every step.

Why asyncssh: one library for connections, commands and SFTP, with host-key
pinning by a known_hosts text (no ~/.ssh/known_hosts, no trust on first use) and
cancellation that closes the channel cleanly. Paramiko would need threads to
honour per-step deadlines.

Rules this module enforces for every caller:
- the host key must match the known_hosts line built from our own key store
  (remote/hostkeys.py); a mismatch is one RemoteError saying what to check;
- a remote command is an argv list joined by shlex.join, never an interpolated string;
- every step (connect, command, upload) has a deadline;
- Ctrl-C and SIGTERM cancel the running step and close the connection (InterruptedRun);
- an upload writes a temporary file with its mode, then renames it over the target,
  so the server holds the old or the new file, never half of one.
"""
from __future__ import annotations

import asyncio
import errno
import os
import shlex
import signal
import socket
import sys
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import AsyncIterator, Sequence

from errors import InterruptedRun, RemoteError


def _import_asyncssh():
    """asyncssh, imported without its slowest side effect.

    At import asyncssh looks for liboqs (the sntrup761 key exchange) with
    ctypes.util.find_library, which on Linux, when the loader's cache has no such
    library, goes on to run gcc and then ld to search for it: 40-90 ms of child
    processes on every run, the largest single cost of a no-op deploy's SSH check.
    While asyncssh imports, that lookup reads the loader's cache only (the first
    step of find_library, what the dynamic loader itself finds). An installed
    liboqs is found as before; without it the key exchange is mlkem768x25519 or
    curve25519, as it would be anyway."""
    if "asyncssh" in sys.modules:
        return sys.modules["asyncssh"]
    import ctypes.util
    from_cache = getattr(ctypes.util, "_findSoname_ldconfig", None)
    original = ctypes.util.find_library
    if from_cache is None or not sys.platform.startswith("linux"):
        import asyncssh
        return asyncssh

    def find_library(name: str):
        return from_cache(name) if name in ("oqs", "liboqs") else original(name)
    ctypes.util.find_library = find_library
    try:
        import asyncssh
    finally:
        ctypes.util.find_library = original
    return asyncssh


asyncssh = _import_asyncssh()

from remote.hostkeys import fingerprint

CONNECT_TIMEOUT = 20.0
COMMAND_TIMEOUT = 120.0
UPLOAD_TIMEOUT = 60.0
CHUNK = 1 << 20            # a local file goes up a MiB at a time, never whole in memory
_TAIL = 2000   # characters of stderr kept in an error


@dataclass(frozen=True)
class Target:
    """Where to connect and what to trust: the address and the pinned public host key."""
    address: str
    host_public: str           # "ssh-ed25519 AAAA..." from the key store
    client_key: str            # path of the private key matching [ssh] public_key
    user: str = "root"
    port: int = 22
    name: str = ""             # the server's name, for messages

    @property
    def label(self) -> str:
        return f"{self.name} ({self.address})" if self.name else self.address

    def known_hosts(self) -> str:
        host = self.address if self.port == 22 else f"[{self.address}]:{self.port}"
        return f"{host} {self.host_public}\n"


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    exit_status: int
    stdout: str
    stderr: str


def command_line(argv: Sequence[str]) -> str:
    """The one way a remote command line is made: each argument quoted by shlex."""
    if isinstance(argv, (str, bytes)) or not argv:
        raise TypeError("a remote command is a non-empty argv list, never a string")
    return shlex.join(str(a) for a in argv)


def _mismatch(target: Target) -> RemoteError:
    return RemoteError(
        f"{target.label}: host key does not match the pinned key {fingerprint(target.host_public)}; "
        f"check that this address still belongs to the server this stack created (a rebuilt or "
        f"replaced server has a new key: re-pin it with `hetzner-deploy adopt --trust-host-key`)")


class Connection:
    """One open SSH connection; use `connect()`."""

    def __init__(self, target: Target, conn: asyncssh.SSHClientConnection):
        self.target = target
        self._conn = conn

    async def run(self, argv: Sequence[str], *, timeout: float = COMMAND_TIMEOUT,
                  input: str | None = None, check: bool = True) -> Result:
        line = command_line(argv)
        running = asyncio.ensure_future(self._conn.run(line, input=input, check=False))
        try:
            await asyncio.sleep(0)        # asyncssh writes the channel open in this first step
            self._ack_promptly()
            done = await asyncio.wait_for(running, timeout)
        except asyncio.TimeoutError:
            raise RemoteError(f"{self.target.label}: `{_short(line)}` did not finish within "
                              f"{timeout:g} s") from None
        except (asyncssh.Error, OSError) as exc:
            raise RemoteError(f"{self.target.label}: `{_short(line)}` failed: "
                              f"{_reason(exc)}") from None
        finally:
            running.cancel()              # a no-op once done; stops it on a cancel or error
        status = done.exit_status if done.exit_status is not None else 255
        result = Result(tuple(str(a) for a in argv), status, _text(done.stdout), _text(done.stderr))
        if check and status != 0:
            last = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:] or ["no output"]
            raise RemoteError(f"{self.target.label}: `{_short(line)}` exited {status}: "
                              f"{last[0][:300]}")
        return result

    def _ack_promptly(self) -> None:
        """Have the kernel ACK the server's next segment at once instead of 40 ms later.

        sshd sets TCP_NODELAY only for sessions with a pty, so after login its reply to
        our first command waits (Nagle) for our ACK of the host-key notice it sent right
        after authentication, and Linux delays that ACK by 40 ms because the connection
        looks interactive: a 6 ms command took 50. TCP_QUICKACK, set once our request is
        out (a send re-enters the delayed mode), only changes when we acknowledge."""
        quickack = getattr(socket, "TCP_QUICKACK", None)
        sock = self._conn.get_extra_info("socket")
        if quickack is None or sock is None:
            return
        try:
            sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)
        except OSError:
            pass

    async def upload(self, path: str, data: bytes | Path, mode: int, *,
                     timeout: float = UPLOAD_TIMEOUT) -> None:
        """Write `data` (bytes, or a local file read in chunks) to `path` with `mode`,
        atomically (temporary file + rename)."""
        target = PurePosixPath(path)
        if not target.is_absolute() or ".." in target.parts:
            raise RemoteError(f"{self.target.label}: upload path {path!r} must be absolute")
        tmp = str(target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp"))

        async def write() -> None:
            async with self._conn.start_sftp_client() as sftp:
                # The mode is set at open, before any byte is written: a 0600 file is never
                # readable by others, not even for a moment.
                attrs = asyncssh.SFTPAttrs(permissions=mode)
                async with sftp.open(tmp, "wb", attrs) as out:
                    if isinstance(data, Path):
                        with open(data, "rb") as inp:
                            for chunk in iter(lambda: inp.read(CHUNK), b""):
                                await out.write(chunk)
                    else:
                        await out.write(data)
                try:
                    await sftp.chmod(tmp, mode)      # the server's umask may have narrowed it
                    await sftp.posix_rename(tmp, str(target))
                except BaseException:
                    await sftp.remove(tmp)
                    raise
        try:
            await asyncio.wait_for(write(), timeout)
        except asyncio.TimeoutError:
            raise RemoteError(f"{self.target.label}: upload of {path} did not finish within "
                              f"{timeout:g} s") from None
        except (asyncssh.Error, OSError) as exc:
            raise RemoteError(f"{self.target.label}: upload of {path} failed: {_reason(exc)}") from None

    @asynccontextmanager
    async def forward(self, port: int) -> AsyncIterator[int]:
        """A local port (on 127.0.0.1) tunnelled to the server's own 127.0.0.1:`port`: how the
        3-tier health gate reaches an app server whose public port 80 only the load balancer
        may reach (its firewall)."""
        listener = await self._conn.forward_local_port("127.0.0.1", 0, "127.0.0.1", port)
        try:
            yield listener.get_port()
        finally:
            listener.close()
            await listener.wait_closed()

    async def unix_exchange(self, path: str, request: bytes, *,
                            timeout: float = COMMAND_TIMEOUT) -> bytes:
        """Send `request` to the server's Unix socket at `path` over the SSH connection
        (a direct-streamlocal channel) and read until it closes: how the tool talks to
        the 3-tier TLS proxy's admin socket without any client program on the server."""
        async def exchange() -> bytes:
            reader, writer = await self._conn.open_unix_connection(path)
            try:
                writer.write(request)
                writer.write_eof()
                return await reader.read()
            finally:
                writer.close()
        try:
            return await asyncio.wait_for(exchange(), timeout)
        except asyncio.TimeoutError:
            raise RemoteError(f"{self.target.label}: {path} did not answer within "
                              f"{timeout:g} s") from None
        except (asyncssh.Error, OSError) as exc:
            raise RemoteError(f"{self.target.label}: {path}: {_reason(exc)}") from None

    async def close(self) -> None:
        self._conn.close()
        await self._conn.wait_closed()


class _Retryable(RemoteError):
    """The server did not answer (yet): worth another try while it boots."""


async def _open(target: Target, client_key, timeout: float) -> asyncssh.SSHClientConnection:
    try:
        return await asyncio.wait_for(asyncssh.connect(
            target.address, port=target.port, username=target.user, client_keys=[client_key],
            known_hosts=asyncssh.import_known_hosts(target.known_hosts()),
            agent_path=None, config=[], login_timeout=timeout), timeout)
    except asyncssh.HostKeyNotVerifiable:
        raise _mismatch(target) from None
    except asyncio.TimeoutError:
        raise _Retryable(f"{target.label}: SSH did not answer within {timeout:g} s; check that the "
                         f"server is running and port 22 is open to this machine") from None
    except asyncssh.PermissionDenied:
        raise RemoteError(f"{target.label}: SSH refused the key {target.client_key}; check that its "
                          f"public half is [ssh] public_key") from None
    except (ConnectionRefusedError, ConnectionResetError, asyncssh.ConnectionLost) as exc:
        raise _Retryable(f"{target.label}: SSH connection failed: {_reason(exc)}; check that the "
                         f"server is running and port 22 is open to this machine") from None
    except OSError as exc:
        if exc.errno in _UNREACHABLE:   # a server powering on (a rescale, a reboot) is not routed yet
            raise _Retryable(f"{target.label}: SSH connection failed: {_reason(exc)}; check "
                             f"that the server is running") from None
        raise RemoteError(f"{target.label}: SSH connection failed: {_reason(exc)}") from None
    except asyncssh.Error as exc:
        raise RemoteError(f"{target.label}: SSH connection failed: {_reason(exc)}") from None


_UNREACHABLE = (errno.EHOSTUNREACH, errno.ENETUNREACH)


@asynccontextmanager
async def connect(target: Target, *, timeout: float = CONNECT_TIMEOUT,
                  wait_s: float = 0.0) -> AsyncIterator[Connection]:
    """A connection that trusts only the pinned host key; closed on exit, error or cancel.

    wait_s > 0: a server that is still booting (refused, no answer) is tried again
    with backoff until then; a host key mismatch or a refused login is final at once."""
    if not target.host_public:
        raise RemoteError(f"{target.label}: no pinned host key; run `hetzner-deploy generate` "
                          f"before the server is created, or adopt it with --trust-host-key")
    try:
        client_key = asyncssh.read_private_key(os.fspath(target.client_key))
    except (OSError, asyncssh.KeyImportError) as exc:
        raise RemoteError(f"cannot read the SSH private key {target.client_key}: {_reason(exc)}") from None
    loop = asyncio.get_running_loop()
    end, pause = loop.time() + wait_s, 0.2
    while True:
        left = end - loop.time()
        try:
            conn = await _open(target, client_key, timeout if left <= 0 else max(2.0, min(timeout, left)))
            break
        except _Retryable as exc:
            if loop.time() + pause >= end:
                raise RemoteError(exc.message) from None
            await asyncio.sleep(pause)
            pause = min(pause * 2, 3.0)
    connection = Connection(target, conn)
    try:
        yield connection
    finally:
        conn.close()   # no await on the way out of a cancel: closing is enough


async def fetch_host_key(address: str, port: int = 22, timeout: float = CONNECT_TIMEOUT) -> str:
    """The ed25519 host key a server presents, UNVERIFIED: only for `adopt --trust-host-key`,
    which prints its fingerprint for the user to compare before anything trusts it."""
    try:
        key = await asyncio.wait_for(asyncssh.get_server_host_key(
            address, port, server_host_key_algs=["ssh-ed25519"], config=[]), timeout)
    except asyncio.TimeoutError:
        raise RemoteError(f"{address}: SSH did not answer within {timeout:g} s") from None
    except (asyncssh.Error, OSError) as exc:
        raise RemoteError(f"{address}: could not read the SSH host key: {_reason(exc)}") from None
    if key is None:
        raise RemoteError(f"{address}: the server offered no ed25519 host key")
    return " ".join(key.export_public_key().decode("ascii").split()[:2])   # type and key, no comment


def run_sync(coro, *, what: str = "remote step"):
    """Run a coroutine to completion; SIGINT/SIGTERM cancel it cleanly (InterruptedRun, 130)."""
    async def main():
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        caught: list[str] = []

        def stop(sig: signal.Signals) -> None:
            caught.append(sig.name)
            task.cancel()
        installed = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                previous = signal.getsignal(sig)
                loop.add_signal_handler(sig, stop, sig)
                installed[sig] = previous
            except (RuntimeError, ValueError):   # not the main thread: the caller handles signals
                pass
        try:
            return await coro
        except asyncio.CancelledError:
            if caught:
                raise InterruptedRun(f"{what} stopped by {caught[0]}; the connection was "
                                     f"closed, rerun to converge") from None
            raise
        finally:
            for sig, previous in installed.items():
                loop.remove_signal_handler(sig)
                # asyncio resets to the default; the caller's own handler (the pipeline's) goes back.
                if previous is not None:
                    signal.signal(sig, previous)
    return asyncio.run(main())


def _text(value) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _short(line: str) -> str:
    return line if len(line) <= 120 else line[:117] + "..."


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "reason", "") or exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


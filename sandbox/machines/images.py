"""Container images without a registry: root filesystems made from the
host's own files (busybox-static, Python with its standard library and
psycopg2, redis, PostgreSQL 15, caddy),
as tarballs every sandbox machine `docker import`s at boot as sandbox/NAME.

    python -m sandbox.machines.images [--out DIR] [NAME ...]   (or scripts/sandbox-images.sh)

An imported image has no CMD: give `command:` in the Compose file.
"""
from __future__ import annotations

import argparse
import io
import os
import re
import sys
import tarfile
from pathlib import Path

from errors import DeployError, SandboxError
from runner.process import run

BUSYBOX = "/bin/busybox"
LDD_PATH = re.compile(r"(/\S+) \(0x")
# Parts of the standard library no server app needs, left out to keep the image small.
STDLIB_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "site-packages",
               "dist-packages", "__pycache__", "config-3.11-x86_64-linux-gnu", "pydoc_data"}
PASSWD = (b"root:x:0:0:root:/root:/bin/sh\npostgres:x:999:999:postgres:/data:/bin/sh\n"
          b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
GROUP = b"root:x:0:\npostgres:x:999:\nnogroup:x:65534:\n"
PG = "/usr/lib/postgresql/15"
PG_SHARE = "/usr/share/postgresql/15"
# The postgres image's entry point. PostgreSQL refuses to run as root, and the
# data directory is a bind mount root created: chown it, initdb once (the data
# dir survives container and machine restarts), then exec postgres as its user
# so the stop signal reaches it. Host connections need a password (scram).
PG_START = b"""#!/bin/sh
set -eu
export PATH="/usr/lib/postgresql/15/bin:/usr/local/bin:/usr/bin:/bin"
PGDATA="${PGDATA:-/data/postgres}"
mkdir -p "$PGDATA"
chown postgres:postgres "$PGDATA"
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
  umask 077
  printf '%s\\n' "$POSTGRES_PASSWORD" > /tmp/pwfile
  chown postgres /tmp/pwfile
  su -s /bin/sh postgres -c "initdb -D '$PGDATA' -U '${POSTGRES_USER:-app}' --pwfile=/tmp/pwfile \\
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C" >/tmp/initdb.log 2>&1 \\
    || { cat /tmp/initdb.log >&2; exit 1; }
  rm -f /tmp/pwfile
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  echo "CREATE DATABASE \\"${POSTGRES_DB:-app}\\";" | su -s /bin/sh postgres -c \\
    "postgres --single -D '$PGDATA' -c jit=off postgres" >/dev/null
fi
exec su -s /bin/sh postgres -c "exec postgres -D '$PGDATA' -c listen_addresses='*' -c jit=off \\
    -c unix_socket_directories=/tmp $*"
"""


def libraries(binary: str) -> list[str]:
    """The shared objects `ldd` says a binary loads (none for static ones)."""
    done = run(["ldd", binary], check=False)
    return sorted(set(LDD_PATH.findall(done.stdout)))


class Image:
    def __init__(self) -> None:
        self.files: dict[str, str] = {}       # path in image -> host file
        self.links: dict[str, str] = {}       # path in image -> link target
        self.dirs: set[str] = {"/tmp", "/root", "/etc", "/bin", "/data"}
        self.texts: dict[str, tuple[bytes, int]] = {}   # path in image -> (content, mode)

    def add_text(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self.texts[path] = (data, mode)

    def add(self, path: str, source: str | None = None) -> None:
        self.files[path] = os.path.realpath(source or path)

    def add_binary(self, binary: str, at: str | None = None) -> None:
        self.add(at or binary, binary)
        for lib in libraries(binary):
            self.add(lib)

    def add_busybox(self) -> None:
        self.add("/bin/busybox", BUSYBOX)
        for applet in run([BUSYBOX, "--list"]).stdout.split():
            if applet != "busybox":
                self.links.setdefault(f"/bin/{applet}", "busybox")

    def add_tree(self, top: str) -> None:
        for folder, subdirs, names in os.walk(top):
            subdirs[:] = [s for s in subdirs if s not in STDLIB_SKIP]
            for name in names:
                path = os.path.join(folder, name)
                if os.path.isfile(path):
                    self.add(path)
                    if name.endswith(".so"):
                        for lib in libraries(path):
                            self.add(lib)

    def write(self, out: Path) -> int:
        tmp = out.with_suffix(".tmp")
        with tarfile.open(tmp, "w") as tar:
            dirs = set(self.dirs)
            for path in [*self.files, *self.links, *self.texts]:
                parent = os.path.dirname(path)
                while parent not in ("/", ""):
                    dirs.add(parent)
                    parent = os.path.dirname(parent)
            for d in sorted(dirs):
                info = tarfile.TarInfo(d.lstrip("/"))
                info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "/tmp" else 0o755
                tar.addfile(info)
            for path, source in sorted(self.files.items()):
                tar.add(source, arcname=path.lstrip("/"), recursive=False)
            for path, target in sorted(self.links.items()):
                info = tarfile.TarInfo(path.lstrip("/"))
                info.type, info.linkname = tarfile.SYMTYPE, target
                tar.addfile(info)
            texts = {"/etc/passwd": (PASSWD, 0o644), "/etc/group": (GROUP, 0o644), **self.texts}
            for path, (data, mode) in sorted(texts.items()):
                info = tarfile.TarInfo(path.lstrip("/"))
                info.size, info.mode = len(data), mode
                tar.addfile(info, io.BytesIO(data))
        os.replace(tmp, out)
        return out.stat().st_size


def busybox() -> Image:
    image = Image()
    image.add_busybox()
    return image


def python() -> Image:
    """Debian's python3 (whatever interpreter runs this script), with the
    standard library that interpreter reports for itself."""
    image = busybox()
    python3 = "/usr/bin/python3"
    image.add_binary(python3)
    stdlib = run([python3, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"]).stdout.strip()
    image.add_tree(stdlib)
    # psycopg2 (Debian python3-psycopg2) for apps that talk to PostgreSQL; the
    # .so brings libpq and its libraries through ldd.
    image.add_tree("/usr/lib/python3/dist-packages/psycopg2")
    return image


def redis() -> Image:
    image = busybox()
    image.add_binary("/usr/bin/redis-server")
    image.add_binary("/usr/bin/redis-cli")      # for Compose healthchecks
    image.add_binary("/usr/bin/redis-check-rdb")  # backups check each RDB copy with it
    return image


def postgres() -> Image:
    """Debian's postgresql-15: the server, initdb and pg_isready, the share tree
    initdb reads, the modules initdb loads (no LLVM JIT: it would pull in
    100 MB of libLLVM, and jit is off), UTC zone data. Entry: pg-start."""
    image = busybox()
    for name in ("postgres", "initdb", "pg_isready", "psql", "pg_dump", "pg_restore"):
        image.add_binary(f"{PG}/bin/{name}")
    for name in sorted(os.listdir(f"{PG}/lib")):
        if name.endswith(".so") and not name.startswith("llvmjit"):
            image.add_binary(f"{PG}/lib/{name}")
    for folder, subdirs, names in os.walk(PG_SHARE):
        subdirs[:] = [s for s in subdirs if s != "man"]
        for name in names:
            image.add(os.path.join(folder, name))
    for zone in ("UTC", "Etc/UTC"):
        image.add(f"/usr/share/zoneinfo/{zone}")
    image.add_text("/usr/local/bin/pg-start", PG_START, 0o755)
    image.dirs.add("/data/postgres")
    return image


def caddy() -> Image:
    """Debian's caddy (2.6), the TLS proxy the tool adds to an app's stack ([tls], app/proxy.py);
    the official image on real servers is caddy:2. The system CA bundle lets it reach Let's
    Encrypt; the sandbox's pebble is trusted through acme_ca_root instead."""
    image = busybox()
    image.add_binary("/usr/bin/caddy")
    image.add("/etc/ssl/certs/ca-certificates.crt")
    image.dirs.update({"/data", "/config", "/etc/caddy"})
    return image


BUILDERS = {"busybox": busybox, "python": python, "redis": redis, "postgres": postgres,
            "caddy": caddy}
NEEDS = {"busybox": [(BUSYBOX, "busybox-static")],
         "python": [("/usr/bin/python3", "python3"),
                    ("/usr/lib/python3/dist-packages/psycopg2", "python3-psycopg2")],
         "redis": [("/usr/bin/redis-server", "redis-server")],
         "postgres": [(f"{PG}/bin/postgres", "postgresql-15")],
         "caddy": [("/usr/bin/caddy", "caddy")]}


def build(out: Path, names: list[str]) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    missing = [pkg for name in names for path, pkg in NEEDS[name] if not os.path.exists(path)]
    if missing:
        raise SandboxError(f"building sandbox images needs: apt-get install {' '.join(sorted(set(missing)))}")
    return {name: BUILDERS[name]().write(out / f"{name}.tar") for name in names}


def default_out() -> Path:
    from sandbox.manager import sandbox_dir
    return sandbox_dir() / "images"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sandbox-images", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="where the tarballs go (default <sandbox dir>/images)")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"images to build: {', '.join(BUILDERS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(BUILDERS))
    if unknown:
        parser.error(f"unknown image {unknown[0]!r}: choose from {', '.join(BUILDERS)}")
    out = args.out or default_out()
    try:
        sizes = build(out, args.names or list(BUILDERS))
    except (DeployError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, size in sizes.items():
        print(f"sandbox/{name}: {out / (name + '.tar')} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Container images without a registry: root filesystems made from the
host's own files (busybox-static, Python with its standard library, redis),
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
PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = b"root:x:0:\nnogroup:x:65534:\n"


def libraries(binary: str) -> list[str]:
    """The shared objects `ldd` says a binary loads (none for static ones)."""
    done = run(["ldd", binary], check=False)
    return sorted(set(LDD_PATH.findall(done.stdout)))


class Image:
    def __init__(self) -> None:
        self.files: dict[str, str] = {}       # path in image -> host file
        self.links: dict[str, str] = {}       # path in image -> link target
        self.dirs: set[str] = {"/tmp", "/root", "/etc", "/bin", "/data"}

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
            for path in [*self.files, *self.links]:
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
            for path, data in (("etc/passwd", PASSWD), ("etc/group", GROUP)):
                info = tarfile.TarInfo(path)
                info.size = len(data)
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
    return image


def redis() -> Image:
    image = busybox()
    image.add_binary("/usr/bin/redis-server")
    return image


BUILDERS = {"busybox": busybox, "python": python, "redis": redis}
NEEDS = {"busybox": (BUSYBOX, "busybox-static"), "python": ("/usr/bin/python3", "python3"),
         "redis": ("/usr/bin/redis-server", "redis-server")}


def build(out: Path, names: list[str]) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    missing = [pkg for name in names for path, pkg in [NEEDS[name]] if not os.path.exists(path)]
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

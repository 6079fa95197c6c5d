"""A new machine's sandbox images, hard-linked from a machine that already imported them.

Every machine `docker import`s the image tarballs at boot (rootfs.BOOT). With 20
machines booting on two shared cores that is most of a 3-tier deploy's time: the
same bytes unpacked, hashed and written 20 times (on Hetzner each server pulls on
its own cores). An imported image is immutable on disk, so a fresh machine can
start with the very same files instead: hard links of the donor's image layers
(overlay2/<cache-id>, its overlay2/l/ short link), the layer and image records
(image/overlay2/layerdb, imagedb) and a repositories.json naming only the sandbox
images, plus the boot script's stamps, so its import loop finds nothing to do.

Exactly the images from the tarballs, nothing else of the donor's: no image it
built or pulled, no container, no network. Docker rewrites its metadata files
by rename (never in place) and never writes into an image layer (containers
copy up), so a link shared with the donor is never changed under it. Anything
unexpected (a multi-layer image, a missing record, a stamp older than its
tarball) means no seed: the machine imports as before.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

STAMPS = ".sandbox-images"
META = Path("image/overlay2")


class _NoSeed(Exception):
    pass


def _donor_images(donor: Path, images: Path) -> dict[str, str] | None:
    """name -> image id for every tarball, if `donor` has imported them all since."""
    tars = sorted(images.glob("*.tar"))
    if not tars:
        return None
    try:
        repos = json.loads((donor / META / "repositories.json").read_text())["Repositories"]
        out = {}
        for tar in tars:
            name = tar.stem
            stamp = donor / STAMPS / name
            if stamp.stat().st_mtime < tar.stat().st_mtime:
                return None
            out[name] = repos[f"sandbox/{name}"][f"sandbox/{name}:latest"]
        return out
    except (OSError, ValueError, KeyError, TypeError):
        return None


def has_images(donor: Path, images: Path) -> bool:
    """Whether `donor` has imported every tarball in `images` (since it last changed)."""
    return _donor_images(donor, images) is not None


def _link_tree(src: Path, dst: Path) -> None:
    """`src` recreated at `dst`: directories with their mode and owner, files as hard links."""
    shutil.copytree(src, dst, copy_function=os.link, symlinks=True)
    for folder, _, _ in os.walk(src):
        rel = Path(folder).relative_to(src)
        st = os.lstat(folder)
        os.chown(dst / rel, st.st_uid, st.st_gid)


def _seed(donor: Path, target: Path, images: dict[str, str]) -> None:
    meta_src, meta_dst = donor / META, target / META
    repos = {}
    for name, image_id in images.items():
        hexid = image_id.split(":", 1)[1]
        config = json.loads((meta_src / "imagedb/content/sha256" / hexid).read_text())
        diff_ids = config["rootfs"]["diff_ids"]
        if len(diff_ids) != 1:
            raise _NoSeed(f"{name} has {len(diff_ids)} layers")
        # One layer: its chain id is its diff id.
        layer_hex = diff_ids[0].split(":", 1)[1]
        layer = meta_src / "layerdb/sha256" / layer_hex
        cache_id = (layer / "cache-id").read_text().strip()
        short = (donor / "overlay2" / cache_id / "link").read_text().strip()
        if not (cache_id.isalnum() and short.isalnum()):
            raise _NoSeed("unexpected layer names")
        _link_tree(layer, meta_dst / "layerdb/sha256" / layer_hex)
        _link_tree(donor / "overlay2" / cache_id, target / "overlay2" / cache_id)
        (target / "overlay2/l").mkdir(parents=True, exist_ok=True)
        os.symlink(f"../{cache_id}/diff", target / "overlay2/l" / short)
        content = meta_dst / "imagedb/content/sha256"
        content.mkdir(parents=True, exist_ok=True)
        os.link(meta_src / "imagedb/content/sha256" / hexid, content / hexid)
        repos[f"sandbox/{name}"] = {f"sandbox/{name}:latest": image_id}
        (target / STAMPS).mkdir(exist_ok=True)
        os.link(donor / STAMPS / name, target / STAMPS / name)
    (meta_dst / "repositories.json").write_text(json.dumps({"Repositories": repos}))


def seed(target: Path, donors: list[Path], images: Path | None) -> bool:
    """Give the fresh docker data root `target` the sandbox images of the first donor that
    has them all; False (target left empty) when none does or anything is unexpected."""
    if images is None or not images.is_dir() or (target / "image").exists():
        return False
    for donor in donors:
        found = _donor_images(donor, images)
        if found is None:
            continue
        try:
            target.mkdir(parents=True, exist_ok=True)
            _seed(donor, target, found)
            return True
        except (OSError, ValueError, KeyError, TypeError, _NoSeed):
            # Half a seed is no seed: the machine imports from scratch.
            for part in ("image", "overlay2", STAMPS):
                shutil.rmtree(target / part, ignore_errors=True)
    return False

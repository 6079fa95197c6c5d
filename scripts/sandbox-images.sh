#!/bin/sh
# Build the sandbox machines' container images from host files (no registry):
# busybox, python (python3 + stdlib + the libraries ldd names) and redis, as
# tarballs in <sandbox dir>/images that every machine's Docker imports at boot
# as sandbox/busybox, sandbox/python and sandbox/redis.
# Needs the Debian packages busybox-static and redis-server (and python3).
#   scripts/sandbox-images.sh [--out DIR] [busybox|python|redis ...]
set -eu
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" -m sandbox.machines.images "$@"

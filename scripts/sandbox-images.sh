#!/bin/sh
# Build the sandbox machines' container images from host files (no registry):
# busybox, python (python3 + stdlib + psycopg2 + the libraries ldd names),
# redis, postgres (Debian postgresql-15, initdb on first start) and caddy, as
# tarballs in <sandbox dir>/images that every machine's Docker imports at boot
# as sandbox/busybox, sandbox/python, sandbox/redis, sandbox/postgres, sandbox/caddy.
# Needs the Debian packages busybox-static, redis-server, postgresql-15 and
# python3-psycopg2, caddy (scripts/sandbox-machine-deps.sh installs them).
#   scripts/sandbox-images.sh [--out DIR] [busybox|python|redis|postgres|caddy ...]
set -eu
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" -m sandbox.machines.images "$@"

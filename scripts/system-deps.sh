#!/usr/bin/env bash
# Installs the Debian packages one job needs, when missing; a no-op when all are there.
#   scripts/system-deps.sh run    what running the tool needs (make generate/check/deploy)
#   scripts/system-deps.sh test   that, plus what only the tests use (make test, .ci/run)
set -euo pipefail

run_packages=(
  cloud-init       # `check`: cloud-init schema --config-file
  openssh-client   # ssh-keygen, for the passphrase check
  graphviz         # `diagram`: dot renders the topology to SVG
)
test_packages=(
  hcloud-cli       # conformance tests: an independent client of the sandbox API
  postgresql       # tests of the pg state backend and of backups against a real server
  rclone           # backups' off-site copy, tested against a local S3 server (moto)
)

case "${1:-}" in
  run)  packages=("${run_packages[@]}") ;;
  test) packages=("${run_packages[@]}" "${test_packages[@]}") ;;
  *)    echo "usage: $0 run|test" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing Debian packages: ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
  echo "error: need root (or sudo) to install: ${missing[*]}" >&2; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q >/dev/null
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null

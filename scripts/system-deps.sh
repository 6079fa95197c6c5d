#!/usr/bin/env bash
# Installs the Debian packages the tool and its tests use, when missing.
# Called by `make` and by .ci/run; a no-op when everything is there.
set -euo pipefail

packages=(
  cloud-init       # `check`: cloud-init schema --config-file
  hcloud-cli       # conformance tests: an independent client of the sandbox API
  postgresql       # tests of the pg state backend against a real server
  openssh-client   # ssh-keygen, for the passphrase check
)

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

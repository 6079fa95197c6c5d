#!/usr/bin/env bash
# Debian packages sandbox machines need (`sandbox up --machines`, the e2e tests
# under tests/sandbox/machines), installed without starting any of their
# services on this host: a policy-rc.d that exits 101 is in place during the
# install (and removed again if this script put it there). A no-op when all
# are installed. Needs root.
set -euo pipefail

packages=(openssh-server docker.io docker-compose tini busybox-static redis-server postgresql-15 python3-psycopg2 nftables iptables caddy pebble haproxy)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "error: need root to install: ${missing[*]}" >&2; exit 1
fi

policy=/usr/sbin/policy-rc.d
ours=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# hetzner-deploy: no service starts during this install\nexit 101\n' > "$policy"
  chmod 0755 "$policy"
  ours=1
fi
trap '[ "$ours" -eq 1 ] && rm -f "$policy"' EXIT

echo "installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null

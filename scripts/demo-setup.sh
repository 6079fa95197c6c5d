#!/usr/bin/env bash
# What `make deploy` needs for the example app on the sandbox, made once and never
# committed: an ed25519 key pair for the app phase's SSH (.sandbox/ssh/, 0600 in
# 0700) and examples/app/.env from .env.example with random passwords (0600).
# The machines' packages and images come from scripts/sandbox-machine-deps.sh and
# scripts/sandbox-images.sh (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
umask 077
mkdir -p .sandbox/ssh
chmod 700 .sandbox .sandbox/ssh
[ -f .sandbox/ssh/id_ed25519 ] || ssh-keygen -q -t ed25519 -N "" -C "hetzner-deploy sandbox" -f .sandbox/ssh/id_ed25519
env=examples/app/.env
if [ ! -f "$env" ]; then
  pg=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
  rd=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
  sed -e "s/^POSTGRES_PASSWORD=.*/POSTGRES_PASSWORD=$pg/" -e "s/^REDIS_PASSWORD=.*/REDIS_PASSWORD=$rd/" \
      -e "s/^PROJECT=.*/PROJECT=autoscale-ai/" examples/app/.env.example > "$env.tmp"
  chmod 600 "$env.tmp"
  mv "$env.tmp" "$env"
fi

#!/usr/bin/env bash
# Installs the npm packages when node_modules is missing or older than package-lock.json. Shared by
# scripts/prepare.sh and `npm run test:unit` (which needs packages but no Docker engine).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  printf '[prepare] %s\n' "installing npm packages" >&2
  npm ci --no-audit --no-fund >&2
fi

#!/usr/bin/env bash
# Sets up everything `npm start`, `npm test` and `npm run bench` need, on a fresh Debian machine too:
# npm packages, the TypeScript build, a Docker engine, the execution images. Idempotent: a second run
# only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[prepare] %s\n' "$*" >&2; }

bash scripts/ensure-npm.sh

stamp=dist/.build-stamp
if [ ! -f "$stamp" ] || [ -n "$(find src scripts tsconfig.json package.json -newer "$stamp" -print -quit)" ]; then
  log "compiling TypeScript"
  rm -rf dist
  npx tsc -p tsconfig.json
  log "bundling the playground page"
  node dist/scripts/build-web.js
  touch "$stamp"
fi

bash scripts/ensure-docker.sh
bash scripts/ensure-compose.sh
bash scripts/build-images.sh

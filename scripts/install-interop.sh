#!/usr/bin/env bash
# Installs LibreChat's client packages for the interop tier (test/interop) into test/interop/node_modules,
# apart from the root install because they are heavy. Skips the install when the lockfile's hash matches
# the one recorded by the last install, so CI caches (or a second run) cost nothing.
set -euo pipefail
cd "$(dirname "$0")/../test/interop"

stamp=node_modules/.codecell-lock-sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
printf '[interop] %s\n' "installing @librechat/agents (test/interop/package-lock.json)" >&2
start=$(date +%s)
# --ignore-scripts: the tier needs no package's install hook, and none should run on a CI machine.
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2
printf '%s' "$want" > "$stamp"
printf '[interop] %s\n' "installed in $(( $(date +%s) - start )) s, $(du -sm node_modules | cut -f1) MB" >&2

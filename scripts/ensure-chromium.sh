#!/usr/bin/env bash
# The playground's browser tests drive Debian's Chromium (test/playground/): install it when missing.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then exit 0; fi
printf '[prepare] %s\n' "installing chromium (browser tests of the playground)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends chromium >&2

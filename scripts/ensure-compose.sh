#!/usr/bin/env bash
# Makes sure `docker-compose` runs (the deploy tests drive docker-compose.yml with it): Debian's
# docker-compose 1.29 when missing. Idempotent.
set -euo pipefail
command -v docker-compose >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ]; then
  printf '[ensure-compose] docker-compose is not installed and installing it needs root\n' >&2
  exit 1
fi
printf '[ensure-compose] installing docker-compose from Debian\n' >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq docker-compose >/dev/null || { apt-get update -qq >/dev/null && apt-get install -y -qq docker-compose >/dev/null; }

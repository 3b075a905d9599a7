#!/usr/bin/env bash
# Makes sure a Docker engine answers on /var/run/docker.sock.
# Installs docker.io from Debian when missing and starts dockerd without a bridge or iptables:
# execution containers run with NetworkMode none, so the engine needs no network of its own.
# Idempotent: does nothing when an engine already answers.
set -euo pipefail

log() { printf '[ensure-docker] %s\n' "$*" >&2; }

if docker info >/dev/null 2>&1; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    log "no Docker engine answers and dockerd is not installed; install Docker or run as root"
    exit 1
  fi
  log "installing docker.io from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq docker.io >/dev/null
fi

if [ "$(id -u)" != 0 ]; then
  log "dockerd is installed but not running, and starting it needs root"
  exit 1
fi

# Register gVisor as an optional runtime when runsc is installed (CODECELL_RUNTIME=runsc).
if command -v runsc >/dev/null 2>&1 && [ ! -f /etc/docker/daemon.json ]; then
  mkdir -p /etc/docker
  cat > /etc/docker/daemon.json <<JSON
{ "runtimes": { "runsc": { "path": "$(command -v runsc)", "runtimeArgs": ["--platform=ptrace", "--network=none"] } } }
JSON
fi

log "starting dockerd (--bridge=none --iptables=false)"
mkdir -p /var/log
nohup dockerd --bridge=none --iptables=false --ip6tables=false >/var/log/codecell-dockerd.log 2>&1 &
for _ in $(seq 1 120); do
  if docker info >/dev/null 2>&1; then
    log "engine is up"
    exit 0
  fi
  sleep 0.5
done
log "dockerd did not come up; see /var/log/codecell-dockerd.log"
tail -n 30 /var/log/codecell-dockerd.log >&2 || true
exit 1

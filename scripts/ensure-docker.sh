#!/usr/bin/env bash
# Makes sure a Docker engine answers (at DOCKER_HOST, else /var/run/docker.sock), with gVisor (runsc) registered as an
# optional runtime (CODECELL_RUNTIME=runsc).
# Installs docker.io (and runsc) from Debian when missing and starts dockerd without a bridge or
# iptables: execution containers run with NetworkMode none, so the engine needs no network of its own.
# Idempotent: an engine that already answers is left running; only a missing runsc is registered.
set -euo pipefail

# The engine is where Docker's own clients look: DOCKER_HOST (unix:// or tcp://); Codecell's older
# DOCKER_SOCKET (a socket path) when only that is set.
if [ -z "${DOCKER_HOST:-}" ] && [ -n "${DOCKER_SOCKET:-}" ]; then export DOCKER_HOST="unix://$DOCKER_SOCKET"; fi

log() { printf '[ensure-docker] %s\n' "$*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "${apt_updated:-}" ]; then apt-get update -qq >/dev/null; apt_updated=1; fi
  apt-get install -y -qq "$@" >/dev/null
}

# gVisor runtime: register it in daemon.json (only when we own that file's content).
register_runsc() {
  is_root || return 0
  command -v runsc >/dev/null 2>&1 || apt_install runsc || { log "runsc not installable; gVisor runtime unavailable"; return 0; }
  mkdir -p /etc/docker
  if [ ! -s /etc/docker/daemon.json ]; then
    printf '{ "runtimes": { "runsc": { "path": "%s", "runtimeArgs": ["--platform=ptrace", "--network=none"] } } }\n' \
      "$(command -v runsc)" > /etc/docker/daemon.json
  elif ! grep -q '"runsc"' /etc/docker/daemon.json; then
    log "/etc/docker/daemon.json exists without a runsc runtime; add it by hand to use CODECELL_RUNTIME=runsc"
  fi
}

engine_has_runsc() { docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; }

# An engine that answers but lacks runsc (started before daemon.json named it, e.g. by systemd right
# after `apt-get install docker.io`): register it and have dockerd reload its runtimes (SIGHUP), then
# wait until the engine lists it. Without runsc only the gVisor tests and CODECELL_RUNTIME=runsc fail.
load_runsc() {
  engine_has_runsc && return 0
  register_runsc
  if is_root && grep -q '"runsc"' /etc/docker/daemon.json 2>/dev/null && pid=$(pidof dockerd); then
    kill -HUP $pid
    for _ in $(seq 1 40); do
      engine_has_runsc && { log "runsc registered"; return 0; }
      sleep 0.25
    done
  fi
  log "the engine has no runsc runtime: gVisor (CODECELL_RUNTIME=runsc) is unavailable"
}

if docker info >/dev/null 2>&1; then
  load_runsc
  exit 0
fi

# An engine named elsewhere (a remote host, a socket proxy) is not this script's to start.
case "${DOCKER_HOST:-unix:///var/run/docker.sock}" in
  unix:///var/run/docker.sock) ;;
  *) log "no Docker engine answers at DOCKER_HOST=$DOCKER_HOST"; exit 1 ;;
esac

if ! command -v dockerd >/dev/null 2>&1; then
  if ! is_root; then
    log "no Docker engine answers and dockerd is not installed; install Docker or run as root"
    exit 1
  fi
  log "installing docker.io from Debian"
  apt_install docker.io
  # Some hosts start the packaged engine (systemd) during the install: use it.
  if docker info >/dev/null 2>&1; then
    log "the installed engine is already running"
    load_runsc
    exit 0
  fi
fi

if ! is_root; then
  log "dockerd is installed but not running, and starting it needs root"
  exit 1
fi

register_runsc

log "starting dockerd (--bridge=none --iptables=false)"
nohup dockerd --bridge=none --iptables=false --ip6tables=false >/var/log/codecell-dockerd.log 2>&1 &
for _ in $(seq 1 120); do
  if docker info >/dev/null 2>&1; then
    log "engine is up"
    load_runsc
    exit 0
  fi
  sleep 0.5
done
log "dockerd did not come up; see /var/log/codecell-dockerd.log"
tail -n 30 /var/log/codecell-dockerd.log >&2 || true
exit 1

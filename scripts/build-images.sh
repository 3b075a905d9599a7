#!/usr/bin/env bash
# Builds the execution images: every images/<name>/ with a Dockerfile becomes
# ${CODECELL_IMAGE_PREFIX:-codecell}-<name>:latest.
#
#   scripts/build-images.sh [-v|--verbose] [name...]     (default: all images)
#
# Incremental: each image is labelled with a hash of its directory and of the base image it was
# built on, and is skipped while that hash still matches. Build output goes to a log file, shown
# when a build fails (or live with --verbose).
#
# Base image: debian:bookworm-slim when it is present or can be pulled. Where no registry can be
# reached, a local equivalent is made once from Debian's archive with mmdebstrap
# (codecell-base:bookworm) and the Dockerfiles get it through their BASE_IMAGE build argument.
# Builds use the host's network (--network host): the engine may have no bridge network at all.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${CODECELL_IMAGE_PREFIX:-codecell}"
UPSTREAM_BASE="debian:bookworm-slim"
LOCAL_BASE="codecell-base:bookworm"
DEBIAN_MIRROR="${CODECELL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PULL_TIMEOUT_SECONDS="${CODECELL_PULL_TIMEOUT:-20}"
HASH_LABEL="codecell.contenthash"

log() { printf '[build-images] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

verbose=0
names=()
for arg in "$@"; do
  case "$arg" in
    -v | --verbose) verbose=1 ;;
    -h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option: $arg" ;;
    *) names+=("$arg") ;;
  esac
done

docker info >/dev/null 2>&1 || die "no Docker engine answers (scripts/ensure-docker.sh starts one)"

now() { date +%s.%N; }
seconds_since() { awk -v start="$1" -v end="$(now)" 'BEGIN { printf "%.1f", end - start }'; }
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# Prints the base image to build on, making the local one when nothing else is available.
resolve_base() {
  if image_exists "$UPSTREAM_BASE"; then
    echo "$UPSTREAM_BASE"
    return
  fi
  if timeout "$PULL_TIMEOUT_SECONDS" docker pull -q "$UPSTREAM_BASE" >/dev/null 2>&1; then
    echo "$UPSTREAM_BASE"
    return
  fi
  if ! image_exists "$LOCAL_BASE"; then
    make_local_base
  fi
  echo "$LOCAL_BASE"
}

make_local_base() {
  log "$UPSTREAM_BASE cannot be pulled; making $LOCAL_BASE from $DEBIAN_MIRROR with mmdebstrap"
  if ! command -v mmdebstrap >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "mmdebstrap is not installed and installing it needs root"
    log "installing mmdebstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null \
      || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null; } \
      || die "could not install mmdebstrap"
  fi
  [ "$(id -u)" = 0 ] || die "making the base image with mmdebstrap --mode=root needs root"
  local started
  started="$(now)"
  mmdebstrap --quiet --variant=minbase --mode=root bookworm - "$DEBIAN_MIRROR" \
    | docker import - "$LOCAL_BASE" >/dev/null \
    || die "could not make $LOCAL_BASE (is $DEBIAN_MIRROR reachable?)"
  log "made $LOCAL_BASE in $(seconds_since "$started")s"
}

# Hash of everything that goes into an image: the files of its directory (names, modes and
# contents, in a fixed order, without Python caches) and the id of the base image.
content_hash() {
  local dir="$1" base_id="$2"
  {
    printf 'base %s\n' "$base_id"
    tar -C "$dir" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
      --exclude='__pycache__' --exclude='*.pyc' -cf - .
  } | sha256sum | cut -d' ' -f1
}

build_image() {
  local dir="$1" base="$2" base_id="$3"
  local name tag hash current started log_file previous_id
  name="$(basename "$dir")"
  tag="${PREFIX}-${name}:latest"
  started="$(now)"
  hash="$(content_hash "$dir" "$base_id")"
  current="$(docker image inspect -f "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$tag" 2>/dev/null || true)"
  if [ "$current" = "$hash" ]; then
    printf '%-28s up to date  (%ss)\n' "$tag" "$(seconds_since "$started")"
    return
  fi
  previous_id="$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)"
  log_file="$(mktemp "${TMPDIR:-/tmp}/codecell-build-${name}.XXXXXX.log")"
  local build=(docker build --network host --force-rm --build-arg "BASE_IMAGE=$base"
    --label "$HASH_LABEL=$hash" --tag "$tag" "$dir")
  if [ "$verbose" = 1 ]; then
    "${build[@]}" 2>&1 | tee "$log_file" >&2 || build_failed "$tag" "$log_file"
  else
    "${build[@]}" >"$log_file" 2>&1 || build_failed "$tag" "$log_file"
  fi
  rm -f "$log_file"
  # The image this one replaces is now untagged; drop it unless a container still uses it.
  if [ -n "$previous_id" ] && [ "$previous_id" != "$(docker image inspect -f '{{.Id}}' "$tag")" ]; then
    docker image rm "$previous_id" >/dev/null 2>&1 || true
  fi
  printf '%-28s built       (%ss)\n' "$tag" "$(seconds_since "$started")"
}

build_failed() {
  local tag="$1" log_file="$2"
  [ "$verbose" = 1 ] || tail -n 40 "$log_file" >&2
  die "building $tag failed; full log: $log_file"
}

dirs=()
if [ "${#names[@]}" -eq 0 ]; then
  for dir in "$ROOT"/images/*/; do
    [ -f "$dir/Dockerfile" ] && dirs+=("${dir%/}")
  done
  [ "${#dirs[@]}" -gt 0 ] || die "no images/<name>/Dockerfile found under $ROOT"
else
  for name in "${names[@]}"; do
    [ -f "$ROOT/images/$name/Dockerfile" ] || die "no such image: images/$name/Dockerfile"
    dirs+=("$ROOT/images/$name")
  done
fi

base="$(resolve_base)"
base_id="$(docker image inspect -f '{{.Id}}' "$base")"
for dir in "${dirs[@]}"; do
  build_image "$dir" "$base" "$base_id"
done

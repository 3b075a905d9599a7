#!/usr/bin/env bash
# Builds the execution images: every images/<name>/ with a Dockerfile (its own, or the
# image.Dockerfile of a directory its `shared` file names) becomes ${CODECELL_IMAGE_PREFIX:-codecell}-<name>:latest.
#
#   scripts/build-images.sh [-v|--verbose] [name...]     (default: all images)
#
# Incremental: each image is labelled with a hash of its directory (plus the shared directories its
# `shared` file names) and of the base image it was built on, and is skipped while that hash still
# matches. Images build in parallel, CODECELL_BUILD_JOBS (default 3) at a time. Build output goes to a log file, shown
# when a build fails (or live with --verbose).
#
# Base image: debian:bookworm-slim when it is present or can be pulled. Where no registry can be
# reached, a local equivalent is made once from Debian's archive with mmdebstrap
# (codecell-base:bookworm) and the Dockerfiles get it through their BASE_IMAGE build argument.
# Builds use the host's network (--network host): the engine may have no bridge network at all.
#
# Extra packages (README, "Extra packages"): $CODECELL_EXTRA_PACKAGES_FILE, or images/extra-packages.json
# when it exists, names Debian/npm packages and pip wheels per image. Each image is built from a
# staged copy of its directory plus extras/ (written by dist/scripts/stage-extras.js), and that
# copy is what the content hash covers, so editing the file rebuilds the images it touches.
set -euo pipefail

# The engine is where Docker's own clients look: DOCKER_HOST (unix:// or tcp://); Codecell's older
# DOCKER_SOCKET (a socket path) when only that is set.
if [ -z "${DOCKER_HOST:-}" ] && [ -n "${DOCKER_SOCKET:-}" ]; then export DOCKER_HOST="unix://$DOCKER_SOCKET"; fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${CODECELL_IMAGE_PREFIX:-codecell}"
UPSTREAM_BASE="debian:bookworm-slim"
LOCAL_BASE="codecell-base:bookworm"
DEBIAN_MIRROR="${CODECELL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PULL_TIMEOUT_SECONDS="${CODECELL_PULL_TIMEOUT:-20}"
HASH_LABEL="codecell.contenthash"
EXTRAS_FILE="${CODECELL_EXTRA_PACKAGES_FILE:-}"
if [ -z "$EXTRAS_FILE" ] && [ -f "$ROOT/images/extra-packages.json" ]; then
  EXTRAS_FILE="$ROOT/images/extra-packages.json"
fi

log() { printf '[build-images] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

verbose=0
names=()
JOBS="${CODECELL_BUILD_JOBS:-3}"
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || die "CODECELL_BUILD_JOBS must be a positive whole number"

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

# Hash of everything that goes into an image: the files of its staged build context (names, modes
# and contents, in a fixed order) and the id of the base image.
content_hash() {
  local dir="$1" base_id="$2"
  {
    printf 'base %s\n' "$base_id"
    tar -C "$dir" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - .
  } | sha256sum | cut -d' ' -f1
}

# The extras' stager is TypeScript (scripts/extra-packages.ts); compiled when dist/ lags behind it.
ensure_stager() {
  local stager="$ROOT/dist/scripts/stage-extras.js"
  if [ ! -f "$stager" ] || [ -n "$(find "$ROOT/scripts/extra-packages.ts" "$ROOT/scripts/stage-extras.ts" -newer "$stager" -print -quit)" ]; then
    log "compiling the extra packages stager"
    (cd "$ROOT" && npx tsc -p tsconfig.json) || die "could not compile scripts/stage-extras.ts"
  fi
}

# Copies images/<name> (without caches or a local node_modules) into $2 and adds extras/: the
# admin's extra packages for this image, empty lists when there are none.
stage_context() {
  local dir="$1" staged="$2" name
  name="$(basename "$dir")"
  tar -C "$dir" --exclude='__pycache__' --exclude='*.pyc' --exclude='node_modules' --exclude='./shared' -cf - . | tar -C "$staged" -xf -
  # images/<name>/shared names directories of images/ that several images use (the one-shot
  # runner): each is copied to shared/<dir>/ in the context, so the content hash covers it too.
  if [ -f "$dir/shared" ]; then
    local part
    while IFS= read -r part; do
      [ -n "$part" ] || continue
      [[ "$part" =~ ^[a-z0-9-]+$ ]] && [ -d "$ROOT/images/$part" ] || die "images/$name/shared names no directory of images/: $part"
      mkdir -p "$staged/shared/$part"
      tar -C "$ROOT/images/$part" -cf - . | tar -C "$staged/shared/$part" -xf -
      # An image without a Dockerfile of its own is built by its shared directory's image.Dockerfile.
      if [ ! -f "$staged/Dockerfile" ] && [ -f "$staged/shared/$part/image.Dockerfile" ]; then
        cp "$staged/shared/$part/image.Dockerfile" "$staged/Dockerfile"
      fi
    done <"$dir/shared"
  fi
  mkdir -p "$staged/extras/wheels"
  : >"$staged/extras/debian.txt"
  : >"$staged/extras/npm.txt"
  if [ -n "$EXTRAS_FILE" ]; then
    node "$ROOT/dist/scripts/stage-extras.js" "$EXTRAS_FILE" "$name" "$staged/extras" || die "bad extra packages file"
  fi
}

# An image with packages/package-lock.json (node) gets its npm packages installed here, with this
# machine's npm, into the staged packages/node_modules that its Dockerfile copies: pure JavaScript
# (install scripts off), so where npm runs does not matter, and the image needs no npm of its own.
# Runs after the content hash is taken (the lockfile and extras/npm.txt stand for the result),
# so an image that is up to date costs no install.
install_npm_packages() {
  local staged="$1"
  [ -f "$staged/packages/package-lock.json" ] || return 0
  command -v npm >/dev/null 2>&1 || die "npm is needed to build $(basename "$staged") (scripts/ensure-npm.sh installs it)"
  local npm_flags=(--prefix "$staged/packages" --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
  npm ci "${npm_flags[@]}" >&2 || die "npm ci failed for $staged/packages"
  if [ -s "$staged/extras/npm.txt" ]; then
    # Each line (name@exact-version, checked by scripts/extra-packages.ts) is one argument.
    xargs -d '\n' -a "$staged/extras/npm.txt" npm install --save-exact "${npm_flags[@]}" >&2 \
      || die "installing the extra npm packages failed"
  fi
}

build_image() {
  local dir="$1" base="$2" base_id="$3"
  local name tag hash current started log_file previous_id staged
  name="$(basename "$dir")"
  tag="${PREFIX}-${name}:latest"
  started="$(now)"
  staged="$STAGING_ROOT/$name"
  mkdir -p "$staged"
  stage_context "$dir" "$staged"
  hash="$(content_hash "$staged" "$base_id")"
  current="$(docker image inspect -f "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$tag" 2>/dev/null || true)"
  if [ "$current" = "$hash" ]; then
    printf '%-28s up to date  (%ss)\n' "$tag" "$(seconds_since "$started")"
    return
  fi
  install_npm_packages "$staged"
  previous_id="$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)"
  log_file="$(mktemp "${TMPDIR:-/tmp}/codecell-build-${name}.XXXXXX.log")"
  local build=(docker build --network host --force-rm --build-arg "BASE_IMAGE=$base"
    --label "$HASH_LABEL=$hash" --tag "$tag" "$staged")
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

# An image directory has a Dockerfile, or a `shared` file naming a directory with image.Dockerfile.
is_image() {
  local dir="${1%/}" part
  [ -f "$dir/Dockerfile" ] && return 0
  [ -f "$dir/shared" ] || return 1
  while IFS= read -r part; do
    [ -n "$part" ] && [ -f "$ROOT/images/$part/image.Dockerfile" ] && return 0
  done <"$dir/shared"
  return 1
}

dirs=()
if [ "${#names[@]}" -eq 0 ]; then
  for dir in "$ROOT"/images/*/; do
    is_image "$dir" && dirs+=("${dir%/}")
  done
  [ "${#dirs[@]}" -gt 0 ] || die "no images/<name>/Dockerfile found under $ROOT"
else
  for name in "${names[@]}"; do
    is_image "$ROOT/images/$name" || die "no such image: images/$name (it has no Dockerfile, nor a shared one)"
    dirs+=("$ROOT/images/$name")
  done
fi

if [ -n "$EXTRAS_FILE" ]; then
  [ -f "$EXTRAS_FILE" ] || die "extra packages file not found: $EXTRAS_FILE"
  EXTRAS_FILE="$(cd "$(dirname "$EXTRAS_FILE")" && pwd)/$(basename "$EXTRAS_FILE")"
  log "extra packages from $EXTRAS_FILE"
  ensure_stager
fi
STAGING_ROOT="$(mktemp -d "${TMPDIR:-/tmp}/codecell-images.XXXXXX")"
trap 'rm -rf "$STAGING_ROOT"' EXIT

base="$(resolve_base)"
base_id="$(docker image inspect -f '{{.Id}}' "$base")"
# Up to $JOBS images build at once (each build mostly waits on the mirror or on one CPU), the
# longest (python) first, so the smaller ones finish while it still runs.
ordered=()
for dir in "${dirs[@]}"; do [ "$(basename "$dir")" = python ] && ordered=("$dir" "${ordered[@]}") || ordered+=("$dir"); done
pids=()
for dir in "${ordered[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  build_image "$dir" "$base" "$base_id" &
  pids+=("$!")
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
[ "$failed" = 0 ] || die "some images failed to build (see above)"

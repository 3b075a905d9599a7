#!/bin/bash
# The versions this image's toolchain reports, as JSON (images/oneshot/image.Dockerfile).
set -euo pipefail
jq -n --arg v "$(php -r "echo PHP_VERSION;")" '{php: $v}'

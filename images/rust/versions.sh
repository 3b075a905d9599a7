#!/bin/bash
# The versions this image's toolchain reports, as JSON (images/oneshot/image.Dockerfile).
set -euo pipefail
jq -n --arg v "$(rustc --version | cut -d" " -f2)" '{rust: $v}'

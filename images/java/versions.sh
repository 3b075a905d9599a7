#!/bin/bash
# The versions this image's toolchain reports, as JSON (images/oneshot/image.Dockerfile).
set -euo pipefail
jq -n --arg v "$(javac -version 2>&1 | sed "s/^javac //")" '{java: $v}'

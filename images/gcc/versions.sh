#!/bin/bash
# The versions this image's toolchain reports, as JSON (images/oneshot/image.Dockerfile).
set -euo pipefail
v=$(gcc -dumpfullversion)
jq -n --arg v "$v" '{c: $v, cpp: $v, fortran: $v, d: $v}'

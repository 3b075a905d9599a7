#!/bin/sh
# Starts Codecell in the Space. Data goes to the Space's Storage Bucket when one is mounted at /data
# (writable), else to the container's own disk, which a restart wipes. CODECELL_DATA_DIR wins over both.
set -eu
if [ -z "${CODECELL_DATA_DIR:-}" ]; then
  if [ -d /data ] && [ -w /data ]; then
    CODECELL_DATA_DIR=/data/codecell
  else
    CODECELL_DATA_DIR="$HOME/codecell-data"
    echo "codecell: no writable /data (no Storage Bucket mounted): sessions live on the ephemeral disk" >&2
  fi
  export CODECELL_DATA_DIR
fi
exec /opt/codecell-server/bin/node /opt/codecell-server/dist/src/cli.js serve

# Development images for the process executor (test/executor/process-executor.test.ts): the three
# runtimes and runners of the execution images in one file system, laid out as the Hugging Face
# Space image lays them out (see docs/security.md, "Process executor"), plus Node 20 for the server.
# Built from the local execution images only (no registry).
ARG PREFIX=codecell
# An image with Node 20 at /usr/local/bin/node (test/deploy/server-image.ts nodeImage()).
ARG NODE_IMAGE=codecell-node20:bookworm
FROM ${PREFIX}-node:latest AS node
FROM ${PREFIX}-bash:latest AS bash
FROM ${NODE_IMAGE} AS node20
FROM ${PREFIX}-python:latest AS space-like
USER root
RUN set -eux; export DEBIAN_FRONTEND=noninteractive; apt-get update; \
    apt-get install -y --no-install-recommends nodejs node-acorn python3-seccomp bubblewrap procps \
      jq bc file psmisc tree time curl git zip unzip xz-utils sqlite3; \
    apt-get clean; rm -rf /var/lib/apt/lists/*
COPY --from=node20 /usr/local/bin/node /usr/local/bin/node20
COPY --from=node /opt/codecell/ /opt/codecell/node/
COPY --from=node /mnt/node_modules/ /mnt/node_modules/
COPY --from=bash /opt/codecell/runner /opt/codecell/bash/runner
RUN mkdir -p /opt/codecell/python && ln -s /opt/codecell/runner /opt/codecell/python/runner
COPY launcher.py codecell_slot_fds.py /opt/codecell/sandbox/
RUN site="$(python3 -c 'import site; print(site.getsitepackages()[0])')" \
 && echo 'import codecell_slot_fds' > "$site/codecell-slot-fds.pth" \
 && cp /opt/codecell/sandbox/codecell_slot_fds.py "$site/" \
 && rm -rf /mnt/data /home/sandbox /run/codecell /tmp && mkdir -p /home /run \
 && ln -s /proc/self/fd/3 /mnt/data && ln -s /proc/self/fd/4 /home/sandbox \
 && mkdir /run/codecell && ln -s /proc/self/fd/5 /run/codecell/in && ln -s /proc/self/fd/6 /run/codecell/out \
 && ln -s /proc/self/fd/7 /run/codecell/artifacts && ln -s /proc/self/fd/8 /tmp \
 && mkdir -p /var/tmp/server && chmod 1777 /var/tmp/server \
 && useradd --uid 1000 --create-home --home-dir /srv/user user
ENV TMPDIR=/var/tmp/server HOME=/srv/user
USER 1000
WORKDIR /srv/user
ENTRYPOINT []

# A normal Linux box instead of a Space: a real /tmp (bubblewrap mounts its new root there), for the
# bubblewrap mode of the test, which runs it where user namespaces work.
FROM space-like AS bwrap-box
USER root
RUN rm /tmp && mkdir -m 1777 /tmp
USER 1000

# The Dockerfile of every one-shot image (images/gcc, go, java, rust, php, r): scripts/build-images.sh
# uses it for an image directory that has none of its own but names `oneshot` in its `shared` file.
# The directory gives `packages` (its Debian toolchain, one package a line) and `versions.sh` (prints
# the toolchain's versions as JSON, {"language": "version"}). The shared runner (runner, beside this
# file) compiles where the language needs it and runs each job, keeping nothing between runs.
# See images/PROTOCOL.md, "One-shot runner".
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

COPY packages /tmp/toolchain/packages
RUN set -eux; \
    export DEBIAN_FRONTEND=noninteractive; \
    apt-get update; \
    xargs -d '\n' -a /tmp/toolchain/packages apt-get install -y --no-install-recommends jq; \
    apt-get clean; \
    rm -rf /tmp/toolchain /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/* /usr/share/info/*

# The admin's extra Debian packages (extras/debian.txt, staged by scripts/build-images.sh; one
# checked name a line, each handed to apt-get as one argument).
COPY extras/debian.txt /tmp/extras/debian.txt
RUN if [ -s /tmp/extras/debian.txt ]; then \
      set -eux; \
      apt-get update; \
      DEBIAN_FRONTEND=noninteractive xargs -d '\n' -a /tmp/extras/debian.txt apt-get install -y --no-install-recommends; \
      apt-get clean; \
      rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin; \
    fi; \
    rm -rf /tmp/extras

# The build directory is a tmpfs at run time that takes this directory's mode (1777), not its owner.
# The toolchain's versions are read once here: the ready frame and get_system_info show them.
COPY versions.sh /tmp/toolchain/versions.sh
RUN set -eux; \
    groupadd --gid 10001 sandbox; \
    useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin sandbox; \
    mkdir -p /mnt/data /run/codecell/in /run/codecell/out /run/codecell/artifacts /run/codecell/build /opt/codecell; \
    chown 10001:10001 /mnt/data /run/codecell/out /run/codecell/artifacts; \
    chmod 1777 /run/codecell/build; \
    bash /tmp/toolchain/versions.sh > /opt/codecell/versions.json; \
    jq -e 'length > 0 and all(.[]; type == "string" and length > 0)' /opt/codecell/versions.json; \
    rm -rf /tmp/toolchain

# Last, in a layer of its own: the same runner in every one-shot image.
COPY shared/oneshot/runner /opt/codecell/runner
RUN chmod 0755 /opt/codecell/runner

ENV HOME=/tmp LANG=C.UTF-8
USER 10001:10001
WORKDIR /mnt/data
ENTRYPOINT ["/opt/codecell/runner"]

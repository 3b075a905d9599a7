# The Codecell server (last stage, the default) and two companions, all from one build:
#   target `images`: the one-shot builder of the execution images (docker compose run --rm images);
#                    it alone carries Debian's docker.io (for its CLI) and mmdebstrap, and talks to the
#                    raw engine socket, since building needs what the socket proxy refuses.
#   default        : the server, without any Docker engine or CLI (it speaks the engine API through
#                    dockerode). The same image runs Codecell's Docker socket proxy
#                    (node dist/src/docker-proxy/main.js), as uid 1000. See docker-compose.yml and docs/security.md.
ARG NODE_IMAGE=node:20-bookworm-slim
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY scripts ./scripts
RUN npx tsc -p tsconfig.json && node dist/scripts/build-web.js && npm prune --omit=dev

FROM ${NODE_IMAGE} AS images
RUN apt-get update \
 && apt-get install -y --no-install-recommends docker.io mmdebstrap ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY images ./images
COPY scripts ./scripts
CMD ["bash", "scripts/build-images.sh"]

FROM ${NODE_IMAGE} AS server
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
ENV HOST=0.0.0.0 PORT=7860 CODECELL_DATA_DIR=/var/lib/codecell NODE_ENV=production
EXPOSE 7860
# Root in its container, but without the socket and (docker-compose.yml) with only CHOWN, DAC_OVERRIDE
# and FOWNER: it hands session files to the sandbox's uid 10001 and hard-links the snapshots that uid
# wrote (protected_hardlinks), which an ordinary uid may not.
CMD ["node", "dist/src/cli.js", "serve"]

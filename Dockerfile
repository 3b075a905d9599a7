# The Codecell server itself (not an execution image: those are in images/).
# It drives the host's Docker engine through its socket, so run it with the socket mounted and the
# data directory mounted at the SAME path inside and outside (the engine bind-mounts slot
# directories by host path). See docker-compose.yml and the README's "Security model".
ARG NODE_IMAGE=node:20-bookworm-slim
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY scripts ./scripts
RUN npx tsc -p tsconfig.json && node dist/scripts/build-web.js && npm prune --omit=dev

FROM ${NODE_IMAGE}
# docker.io for the CLI that scripts/build-images.sh uses to build the execution images on start-up;
# mmdebstrap for hosts that cannot pull debian:bookworm-slim.
RUN apt-get update \
 && apt-get install -y --no-install-recommends docker.io mmdebstrap ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY images ./images
COPY scripts ./scripts
ENV HOST=0.0.0.0 PORT=7860 CODECELL_DATA_DIR=/var/lib/codecell NODE_ENV=production
EXPOSE 7860
# Builds whichever execution image is missing or stale, then serves.
CMD ["sh", "-c", "bash scripts/build-images.sh && exec node dist/src/cli.js serve"]

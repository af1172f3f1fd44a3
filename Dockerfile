# syntax=docker/dockerfile:1
#
# One image build for the gateway and the simulator: they are npm workspaces that share one
# node_modules, and both run their TypeScript sources with tsx (no compile step).
#
#   docker build -t iot-gateway .                                  # the gateway (default target)
#   docker build --target simulator -t iot-gateway-simulator .     # the simulator CLI
#
# docker-compose.yml builds both.

# Node 20 is past its end of life; the image runs the current LTS (the sources also run on 20).
ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: install dependencies; the compilers stay in this stage -------------------------------
FROM ${NODE_IMAGE} AS build
# better-sqlite3 compiles its native addon when no prebuilt binary fits the platform.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Manifests first, so the dependency layer is rebuilt only when they change.
COPY package.json package-lock.json .npmrc ./
COPY schemas/package.json schemas/
COPY testing/package.json testing/
COPY gateway/package.json gateway/
COPY device-sim/package.json device-sim/
RUN npm ci --no-audit --no-fund \
  && npm prune --omit=dev --no-audit --no-fund
# Sources (.dockerignore keeps tests, docs and local data out).
COPY schemas schemas
COPY gateway gateway
COPY device-sim device-sim

# --- runtime: no compilers, no root -------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app /app
# A named volume mounted here starts with this ownership, so the node user can write to it.
RUN mkdir -p /data && chown node:node /data
USER node

# --- the simulator: `docker run iot-gateway-simulator --help` -----------------------------------
FROM runtime AS simulator
WORKDIR /app/device-sim
ENTRYPOINT ["node", "--import", "tsx", "src/cli.ts"]
CMD ["--help"]

# --- the gateway (last, so it is the default target) --------------------------------------------
FROM runtime AS gateway
ENV HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
# /healthz needs no API key; Node's fetch avoids adding curl to the image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
WORKDIR /app/gateway
# `npm start` runs `tsx src/main.ts`; running node directly lets SIGTERM reach the gateway, which
# then drains sessions (close code 1001) and flushes the sink before it exits.
CMD ["node", "--import", "tsx", "src/main.ts"]

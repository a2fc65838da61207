# syntax=docker/dockerfile:1
# kafka-kinesis-gateway container image.
#
#   docker build -t kafka-kinesis-gateway .
#   docker run --rm -p 9092:9092 -p 11001:11001 kafka-kinesis-gateway          # embedded stand-ins
#   docker run --rm -e KKG_REGION=eu-west-1 -e KKG_ADVERTISED_HOST=... kafka-kinesis-gateway
#
# Stages: "toolchain" (Node plus what native add-ons need to compile), "build" (all
# dependencies, TypeScript compiled to dist/), "prod-deps" (production dependencies only) and
# the runtime image, which gets dist/ and the production node_modules and nothing else.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS toolchain
# Native add-ons (zstd-napi, snappy, lz4-napi, leveldown) build from source when no prebuilt
# binary fits the platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app

FROM toolchain AS build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM toolchain AS prod-deps
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
# tini is PID 1: it forwards SIGTERM to the gateway (which then drains and exits 0) and reaps
# zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    KKG_DATA_DIR=/var/lib/kafka-kinesis-gateway
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The "node" user (uid 1000) of the official image; the data folder is the only writable path
# the gateway needs (cluster id, and the embedded stand-ins when no AWS settings are given).
RUN mkdir -p /var/lib/kafka-kinesis-gateway && chown node:node /var/lib/kafka-kinesis-gateway
USER node
EXPOSE 9092 11001
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.KKG_METRICS_PORT || 11001) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/src/cli.js"]

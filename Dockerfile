# syntax=docker/dockerfile:1
#
# loopback4-hardened-mtls: multi-stage image.
#   build   : Node 20 on Debian bookworm; npm ci, tsc, prune dev dependencies.
#   runtime : distroless Node 20 (no shell, no package manager), uid/gid 10001, read-only app.
#
# Base images are build arguments pinned by digest, so the build is reproducible and tests can
# substitute local stand-ins (`--build-arg BUILDER_IMAGE=... --build-arg RUNTIME_IMAGE=...
# --pull=never`). See README "Container image" for how the digests were chosen and refreshed.
#
# Nothing secret is baked in: certificates and keys are mounted at run time (read-only).

ARG BUILDER_IMAGE=docker.io/library/node:20-bookworm@sha256:8f693eaa7e0a8e71560c9a82b55fd54c2ae920a2ba5d2cde28bac7d1c01c9ba5
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs20-debian12@sha256:a68373cb68a08c63bc5523d06e4c2dcd6cb0d04d1a3f8558cb5ace6fc901d27b

# ---------------------------------------------------------------------------------------------
FROM ${BUILDER_IMAGE} AS build

# A TLS-inspecting proxy between the build and the npm registry needs its CA; pass the path of
# a bundle that exists in the builder image (e.g. /etc/ssl/certs/ca-certificates.crt). Build
# arguments are not kept in the runtime image.
ARG NODE_EXTRA_CA_CERTS

WORKDIR /src
ENV NODE_ENV=development \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

COPY package.json package-lock.json ./
RUN npm ci --prefer-offline --ignore-scripts

COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json \
 && npm prune --omit=dev --ignore-scripts \
 && rm -rf dist/.tsbuildinfo node_modules/.cache node_modules/.package-lock.json \
 && find dist node_modules package.json -exec chmod u+rwX,go+rX,go-w {} +

# ---------------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime

LABEL org.opencontainers.image.title="loopback4-hardened-mtls" \
      org.opencontainers.image.description="Reference hardened LoopBack 4 service: mutual TLS 1.3, certificate checks, guards, locked-down container" \
      org.opencontainers.image.licenses="MIT"

WORKDIR /app

# Application files are owned by root and not writable by the runtime user (CIS 4.1).
COPY --from=build --chown=0:0 /src/package.json /app/package.json
COPY --from=build --chown=0:0 /src/node_modules /app/node_modules
COPY --from=build --chown=0:0 /src/dist/src /app/dist/src

ENV NODE_ENV=production \
    POSTURE_MODE=enforce \
    HOST=0.0.0.0 \
    PORT=8443 \
    TLS_CERT_FILE=/etc/hardened-mtls/tls/server.crt \
    TLS_KEY_FILE=/etc/hardened-mtls/tls/server.key \
    TLS_CA_FILE=/etc/hardened-mtls/tls/ca-bundle.crt \
    HEALTHCHECK_CERT_FILE=/etc/hardened-mtls/health/client.crt \
    HEALTHCHECK_KEY_FILE=/etc/hardened-mtls/health/client.key \
    PRINT_BANNER=false

# Numeric user and group: runAsNonRoot can verify it without /etc/passwd.
USER 10001:10001

EXPOSE 8443

# Distroless has no shell and no curl: the health check is a node script speaking mTLS with the
# mounted health-client certificate (its identity must be allowed by MTLS_ALLOWED_SUBJECTS).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/nodejs/bin/node", "/app/dist/src/posture/healthcheck.js"]

ENTRYPOINT ["/nodejs/bin/node", "/app/dist/src/index.js"]

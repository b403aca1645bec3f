# syntax=docker/dockerfile:1
#
# loopback4-hardened-mtls: multi-stage image.
#   build   : Node 24 on Debian bookworm; npm ci, tsc, prune dev dependencies, strip what the
#             service does not run (escape suite, demo, PKI generator CLI, source maps,
#             dependency test folders); tini-static from Debian's `tini` package.
#   runtime : distroless Node 24 (`:nonroot`; no shell, no package manager), uid/gid 10001,
#             read-only app, tini as PID 1 (reaps orphans, forwards SIGTERM/SIGHUP to node).
#   escape  : `--target escape`: the escape-attempt suite (QA runs it against a deployment
#             without cloning the repository) plus its static syscall probe (compiled in the
#             build stage, or prebuilt via `--build-context syscall-probe=DIR`). Never deployed.
#
# Base images are build arguments, so tests substitute local stand-ins (`--build-arg
# BUILDER_IMAGE=... --build-arg RUNTIME_IMAGE=... --pull=never`). RELEASE BUILDS MUST PIN THEM
# BY DIGEST: this repository's build environment has no access to Docker Hub or gcr.io, so the
# defaults below are tags, not digests (docs/container.md "Pinning": `crane digest
# node:24-bookworm`, `crane digest gcr.io/distroless/nodejs24-debian12:nonroot`, then
# `--build-arg BUILDER_IMAGE=docker.io/library/node:24-bookworm@sha256:...`).
#
# Build with `--format docker` (podman/buildah): the OCI image format has no HEALTHCHECK and
# drops it silently. Kubernetes ignores HEALTHCHECK in any format (the manifests' probes stand
# on their own).
#
# Nothing secret is baked in: certificates and keys are mounted at run time (read-only).

ARG BUILDER_IMAGE=docker.io/library/node:24-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

# ---------------------------------------------------------------------------------------------
# The escape image's static syscall probe, prebuilt: EMPTY by default (the build stage compiles
# the probe with the builder's C compiler). A builder without one (the test tier's stand-in)
# gets a static build of src/escape/syscall-probe/syscall-probe.c from a named build context:
#   podman build --target escape --build-context syscall-probe=DIR ...   (DIR/syscall-probe)
# Only the escape image uses it; the service image never contains it.
FROM scratch AS syscall-probe

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

# tini-static (Debian `tini`): statically linked, so it runs in distroless. A builder that
# already has it (the test tier's stand-in) skips apt.
RUN if [ ! -x /usr/bin/tini-static ]; then \
      apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*; \
    fi \
 && /usr/bin/tini-static --version

COPY package.json package-lock.json ./
RUN npm ci --prefer-offline --ignore-scripts

COPY tsconfig.json ./
COPY src ./src
COPY --from=syscall-probe / /prebuilt-probe/
# The escape stage's copy of the build (attack tool: never in the runtime image), then the
# service's own tree: dev dependencies pruned; no escape suite, demo, PKI generator CLI, source
# maps, TypeScript declarations of our own, or dependency test/example folders.
RUN npx tsc -p tsconfig.json \
 && mkdir -p /escape \
 && if command -v cc >/dev/null; then cc -static -O2 -o /escape/syscall-probe src/escape/syscall-probe/syscall-probe.c; \
    elif [ -f /prebuilt-probe/syscall-probe ]; then cp /prebuilt-probe/syscall-probe /escape/syscall-probe; \
    else echo 'no C compiler in the builder and no --build-context syscall-probe: the escape image has no syscall probe' >&2; fi \
 && rm -rf /prebuilt-probe \
 && mkdir -p /escape/dist && cp -a dist/src /escape/dist/src \
 && npm prune --omit=dev --ignore-scripts \
 && cp -a node_modules /escape/node_modules && cp package.json /escape/ \
 && rm -rf dist/.tsbuildinfo dist/test dist/bench dist/src/escape dist/src/demo dist/src/pki \
           node_modules/.cache node_modules/.package-lock.json \
 && find dist node_modules \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.ts.map' \) -type f -delete \
 && find node_modules -type d \( -name test -o -name tests -o -name __tests__ -o -name example -o -name examples -o -name benchmark -o -name .github \) -prune -print \
      | grep -E '(^|/)node_modules/(@[^/]+/)?[^@/][^/]*/[^/]+$' | xargs -r rm -rf \
 && if [ -e node_modules/source-map-support ]; then echo 'source-map-support must not be a production dependency' >&2; exit 1; fi \
 && find dist node_modules package.json /escape -exec chmod u+rwX,go+rX,go-w {} +

# ---------------------------------------------------------------------------------------------
# The escape-attempt suite as an image (QA; defined before `runtime` so that a build without
# --target produces the service image): `podman build --target escape -t hardened-mtls-escape:0.1.0 .`
#   podman run --rm -v ./certs/escape:/certs:ro hardened-mtls-escape:0.1.0 --target https://HOST:8443 ...
# Its runtime cases need the probe INSIDE the target: copy /escape/syscall-probe out of this
# image and mount it at /escape-probe/syscall-probe of the target (docs/container.md).
FROM ${RUNTIME_IMAGE} AS escape
WORKDIR /escape
COPY --from=build --chown=0:0 /escape /escape
USER 10001:10001
ENV NODE_ENV=production
ENTRYPOINT ["/nodejs/bin/node", "/escape/dist/src/escape/cli.js"]

# ---------------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime

# Provenance (set by the release build: --build-arg VERSION=$(node -p "require('./package.json').version")
# --build-arg REVISION=$(git rev-parse HEAD) --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)).
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=https://github.com/example/loopback4-hardened-mtls

LABEL org.opencontainers.image.title="loopback4-hardened-mtls" \
      org.opencontainers.image.description="Reference hardened LoopBack 4 service: mutual TLS 1.3, certificate checks, guards, locked-down container" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}"

WORKDIR /app

# Application files are owned by root and not writable by the runtime user (CIS 4.1).
COPY --from=build --chown=0:0 /usr/bin/tini-static /usr/bin/tini
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

# tini is PID 1: it reaps orphaned children (node never does) and forwards every signal
# (SIGTERM: graceful shutdown, SIGHUP: certificate reload) to node. `-s` registers it as a child
# subreaper, so it also works under an outer init (compose `init: true`).
ENTRYPOINT ["/usr/bin/tini", "-s", "--"]
CMD ["/nodejs/bin/node", "/app/dist/src/index.js"]


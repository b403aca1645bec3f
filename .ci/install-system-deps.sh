#!/usr/bin/env bash
# Installs the Debian packages the sandbox and container tiers need, only when missing
# (idempotent; called by .ci/run, safe to run by hand as root):
#   bubblewrap            bwrap: the sandbox tier's hardened runtime
#   util-linux            setpriv, unshare, nsenter (normally present)
#   podman runc uidmap    the container tier (podman with the runc OCI runtime)
#   openssl curl          real independent TLS clients and test PKIs made at test time
#   nginx-light wrk gcc   npm run bench: variant (d) (nginx as the mTLS sidecar), the load generator,
#                         the C compiler that builds the wrk client-certificate shim and the handshake client
set -euo pipefail

declare -A need=(
  [bwrap]=bubblewrap
  [setpriv]=util-linux
  [unshare]=util-linux
  [nsenter]=util-linux
  [podman]=podman
  [runc]=runc
  [newuidmap]=uidmap
  [openssl]=openssl
  [curl]=curl
  [tar]=tar
  [ldd]=libc-bin
  [nginx]=nginx-light
  [wrk]=wrk
  [cc]=gcc
)

missing=()
for tool in "${!need[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${need[$tool]}")
done
# podman also needs a network backend and conmon; their absence shows only at run time.
command -v conmon >/dev/null 2>&1 || [ -x /usr/libexec/podman/conmon ] || [ -x /usr/bin/conmon ] || missing+=(conmon)
if [ ! -x /usr/lib/podman/netavark ] && [ ! -x /usr/libexec/podman/netavark ] && [ ! -d /usr/lib/cni ]; then
  missing+=(containernetworking-plugins)
fi

if [ "${#missing[@]}" -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi

mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "system packages: installing ${pkgs[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-deps: must run as root to install ${pkgs[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${pkgs[@]}"

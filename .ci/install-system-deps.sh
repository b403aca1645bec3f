#!/usr/bin/env bash
# Makes sure the Debian tools the tests need are present, installing the missing ones from
# Debian's packages when it runs as root (idempotent). `npm test` runs it first (pretest, tier
# `test`); .ci/run runs it for every tier.
#
#   bash .ci/install-system-deps.sh [test|container|bench|all]     (default: all)
#
# tier `test` (npm test):
#   bubblewrap            bwrap: the sandbox tier's hardened runtime
#   util-linux            setpriv, unshare, nsenter, taskset
#   openssl curl python3  real independent TLS clients and test PKIs made at test time
#   libc-bin tar          ldd (the sandbox's library list), getconf, tar
#   bsdutils              script: a real pseudo-terminal for the start-up screen test
#   gcc libc6-dev         the escape suite's static syscall probe (src/escape/syscall-probe, cc -static)
# tier `container` (npm run test:container), in addition:
#   podman runc uidmap conmon containernetworking-plugins
#   tini                  /usr/bin/tini-static: the stand-in builder copies it (the image's init)
# tier `bench` (npm run bench), in addition to `test`:
#   nginx-light wrk       variant (d) (nginx as the mTLS sidecar) and the load generator
#
# Exit status: 0 when everything is present (after installing); 1 with a message naming the
# missing tools, their packages and the command to install them when something is missing and
# it cannot install (not root, no apt-get, apt-get failed). A missing tool never means "skip".
set -euo pipefail

tier=${1:-all}
case "$tier" in
  test | container | bench | all) ;;
  *)
    echo "install-system-deps: unknown tier '$tier' (test, container, bench or all)" >&2
    exit 2
    ;;
esac

# tool -> Debian package
declare -A need=(
  [bwrap]=bubblewrap
  [setpriv]=util-linux
  [unshare]=util-linux
  [nsenter]=util-linux
  [taskset]=util-linux
  [openssl]=openssl
  [curl]=curl
  [python3]=python3
  [ldd]=libc-bin
  [getconf]=libc-bin
  [tar]=tar
  [script]=bsdutils
  [cc]=gcc
)
if [ "$tier" = bench ] || [ "$tier" = all ]; then
  need[nginx]=nginx-light
  need[wrk]=wrk
fi
if [ "$tier" = container ] || [ "$tier" = all ]; then
  need[podman]=podman
  need[runc]=runc
  need[newuidmap]=uidmap
  need[tini-static]=tini
fi

missing_tools=()
missing_pkgs=()
check() {
  missing_tools=()
  missing_pkgs=()
  local tool
  for tool in "${!need[@]}"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      missing_tools+=("$tool")
      missing_pkgs+=("${need[$tool]}")
    fi
  done
  # cc -static needs the static C library (libc6-dev), which has no command of its own.
  if [ ! -e /usr/lib/x86_64-linux-gnu/libc.a ] && [ ! -e /usr/lib/aarch64-linux-gnu/libc.a ] && [ ! -e /usr/lib/libc.a ]; then
    missing_tools+=(libc.a)
    missing_pkgs+=(libc6-dev)
  fi
  if [ "$tier" = container ] || [ "$tier" = all ]; then
    # podman also needs conmon and a network backend; their absence shows only at run time.
    if ! command -v conmon >/dev/null 2>&1 && [ ! -x /usr/libexec/podman/conmon ] && [ ! -x /usr/bin/conmon ]; then
      missing_tools+=(conmon)
      missing_pkgs+=(conmon)
    fi
    if [ ! -x /usr/lib/podman/netavark ] && [ ! -x /usr/libexec/podman/netavark ] && [ ! -d /usr/lib/cni ]; then
      missing_tools+=(netavark/cni)
      missing_pkgs+=(containernetworking-plugins)
    fi
  fi
}

check
if [ "${#missing_tools[@]}" -eq 0 ]; then
  echo "system packages ($tier): all present"
  exit 0
fi

mapfile -t pkgs < <(printf '%s\n' "${missing_pkgs[@]}" | sort -u)
mapfile -t tools < <(printf '%s\n' "${missing_tools[@]}" | sort -u)
cannot() {
  {
    echo "install-system-deps: missing tools the tests need: ${tools[*]} (Debian packages: ${pkgs[*]}); $1."
    echo "  Install them as root, then run the tests again:"
    echo "    sudo apt-get update && sudo apt-get install -y ${pkgs[*]}"
    echo "  (or: sudo bash .ci/install-system-deps.sh $tier)"
  } >&2
  exit 1
}

if [ "$(id -u)" -ne 0 ]; then
  cannot "this is not root, so they cannot be installed here"
fi
if ! command -v apt-get >/dev/null 2>&1; then
  cannot "there is no apt-get to install them with"
fi

echo "system packages ($tier): ${tools[*]} missing; installing the Debian packages ${pkgs[*]} (apt-get, as root)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || cannot "apt-get update failed"
apt-get install -y -qq "${pkgs[@]}" || cannot "apt-get install failed"

check
if [ "${#missing_tools[@]}" -ne 0 ]; then
  mapfile -t tools < <(printf '%s\n' "${missing_tools[@]}" | sort -u)
  cannot "they are still missing after apt-get install"
fi
echo "system packages ($tier): installed ${pkgs[*]}"

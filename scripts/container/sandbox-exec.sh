#!/bin/sh
# Runs bubblewrap the way the sandbox tier needs it. Called as root by
# src/posture/sandbox/sandbox.ts inside `unshare --mount --propagation private`, so the
# tmpfs below lives only in this private mount namespace and vanishes with it.
#
# usage: sandbox-exec.sh TMPFS_DIR CGROUP_PROCS_FILES SETPRIV_MODE -- BWRAP_ARGS...
#   TMPFS_DIR           directory to mount a small noexec,nosuid,nodev tmpfs on (bound at /tmp)
#   CGROUP_PROCS_FILES  colon-separated cgroup.procs files to move this process into ("" = none)
#   SETPRIV_MODE        "drop" = become uid/gid 10001 with no capabilities, no bounding set,
#                       no_new_privs (then bwrap runs unprivileged in a user namespace);
#                       "keep-root" = stay real root (only used to show that root is refused)
set -eu
tmpfs_dir=$1
cgroup_procs=$2
mode=$3
shift 3
[ "$1" = "--" ] && shift

mount -t tmpfs -o size=16m,mode=1777,noexec,nosuid,nodev posture-sandbox-tmp "$tmpfs_dir"

# SANDBOX_PREBINDS: lines "SOURCE<TAB>STAGE". Sources that uid 10001 could not reach (a checkout
# under a private directory, say) are bind-mounted as root onto world-traversable staging paths,
# from which the unprivileged bwrap binds them into the sandbox.
if [ -n "${SANDBOX_PREBINDS:-}" ]; then
  tab=$(printf '\t')
  printf '%s\n' "$SANDBOX_PREBINDS" | while IFS="$tab" read -r src stage; do
    [ -n "$src" ] || continue
    mount --bind "$src" "$stage"
  done
fi
unset SANDBOX_PREBINDS

if [ -n "$cgroup_procs" ]; then
  old_ifs=$IFS
  IFS=:
  for f in $cgroup_procs; do
    echo $$ > "$f"
  done
  IFS=$old_ifs
fi

case "$mode" in
  drop)
    exec setpriv --reuid=10001 --regid=10001 --clear-groups --inh-caps=-all --ambient-caps=-all \
      --bounding-set=-all --no-new-privs -- bwrap "$@"
    ;;
  keep-root)
    exec bwrap "$@"
    ;;
  *)
    echo "sandbox-exec.sh: unknown mode $mode" >&2
    exit 64
    ;;
esac

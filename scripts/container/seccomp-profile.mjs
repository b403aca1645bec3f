#!/usr/bin/env node
/**
 * Regenerates deploy/seccomp/hardened-mtls.json: the container runtime's default seccomp profile
 * (containers-common's /usr/share/containers/seccomp.json, the same rules as Docker's default)
 * with explicit denies for the escape primitives that default ALLOWS to an unprivileged
 * process (podman's default lets uid 10001 unshare(CLONE_NEWUSER), ptrace, process_vm_readv,
 * keyctl, ...):
 *   - every rule that would allow one of DENY_EPERM / DENY_ENOSYS is removed, then one explicit
 *     ERRNO rule names them (EPERM; ENOSYS for clone3 and io_uring_*, so glibc and libuv fall
 *     back to clone and epoll: clone3's flags live in memory a filter cannot read);
 *   - clone is allowed only without namespace flags (CLONE_NEW*), masked on the flags argument
 *     (argument 1 on s390/s390x, 0 elsewhere); any other clone falls to the default action.
 * memfd_create stays allowed (V8 uses it). Usage:
 *   node scripts/container/seccomp-profile.mjs [BASE] > deploy/seccomp/hardened-mtls.json
 * test/unit/container-policy/seccomp.test.ts checks the committed file keeps these properties.
 */
import fs from 'node:fs';

export const DENY_EPERM = [
  'unshare',
  'setns',
  'mount',
  'umount',
  'umount2',
  'pivot_root',
  'chroot',
  'fsopen',
  'fsconfig',
  'fsmount',
  'fspick',
  'move_mount',
  'open_tree',
  'mount_setattr',
  'ptrace',
  'process_vm_readv',
  'process_vm_writev',
  'kcmp',
  'process_madvise',
  'pidfd_getfd',
  'keyctl',
  'add_key',
  'request_key',
  'bpf',
  'perf_event_open',
  'userfaultfd',
  'lookup_dcookie',
  'fanotify_init',
  'kexec_load',
  'kexec_file_load',
  'init_module',
  'finit_module',
  'delete_module',
  'query_module',
  'open_by_handle_at',
  'name_to_handle_at',
  'acct',
  'swapon',
  'swapoff',
  'reboot',
  'syslog',
  'quotactl',
  'quotactl_fd',
  'settimeofday',
  'clock_settime',
  'clock_settime64',
  'stime',
  'clock_adjtime',
  'clock_adjtime64',
  'adjtimex',
  'iopl',
  'ioperm',
  'vhangup',
  'sethostname',
  'setdomainname',
  'nfsservctl',
  'bdflush',
  'uselib',
  'ustat',
  'sysfs',
];
export const DENY_ENOSYS = ['clone3', 'io_uring_setup', 'io_uring_enter', 'io_uring_register'];
/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME */
export const CLONE_NS_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080;

export function hardenProfile(base) {
  const denied = new Set([...DENY_EPERM, ...DENY_ENOSYS, 'clone']);
  const syscalls = [];
  for (const rule of base.syscalls) {
    const names = rule.names.filter(n => !denied.has(n));
    if (names.length > 0) syscalls.push({...rule, names});
  }
  syscalls.push(
    {
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{index: 0, value: CLONE_NS_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ'}],
      excludes: {arches: ['s390', 's390x']},
      comment: 'clone without namespace flags',
    },
    {
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{index: 1, value: CLONE_NS_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ'}],
      includes: {arches: ['s390', 's390x']},
      comment: 's390: clone flags are the second argument',
    },
    {
      names: DENY_EPERM,
      action: 'SCMP_ACT_ERRNO',
      errnoRet: 1,
      comment: 'hardened-mtls: namespaces, mounts, cross-process access, keyring, BPF, perf, kernel loading, host clock',
    },
    {names: DENY_ENOSYS, action: 'SCMP_ACT_ERRNO', errnoRet: 38, comment: 'hardened-mtls: ENOSYS so glibc/libuv fall back to clone and epoll'},
  );
  return {defaultAction: base.defaultAction, defaultErrnoRet: base.defaultErrnoRet, archMap: base.archMap, syscalls};
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const base = JSON.parse(fs.readFileSync(process.argv[2] ?? '/usr/share/containers/seccomp.json', 'utf8'));
  process.stdout.write(JSON.stringify(hardenProfile(base), null, 2) + '\n');
}

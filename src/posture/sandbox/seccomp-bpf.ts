/**
 * A small classic-BPF seccomp filter for the bubblewrap sandbox (sandbox.ts), built in TypeScript (no compiler,
 * no libseccomp): bubblewrap loads it with `--seccomp FD` (the raw `struct sock_filter[]`).
 *
 * It mirrors what the container runtimes' default profiles do for an unprivileged workload:
 * namespace creation and mounting (unshare, setns, clone with CLONE_NEW* flags, mount,
 * pivot_root), cross-process access (ptrace, process_vm_*), the kernel keyring, BPF,
 * perf, module and kexec loading, open_by_handle_at (the "shocker" escape), userfaultfd,
 * and a few host-clock / swap / reboot calls => EPERM. clone3 and io_uring => ENOSYS, so
 * glibc and libuv fall back to clone and epoll (the argument flags of clone3 live in memory a
 * seccomp filter cannot read, as in Docker's profile). Any other architecture => kill.
 *
 * With it the sandboxed process shows `Seccomp: 2`, and `unshare(CLONE_NEWUSER)` fails.
 */

const BPF_LD_W_ABS = 0x20;
const BPF_JMP_JEQ_K = 0x15;
const BPF_JMP_JGE_K = 0x35;
const BPF_JMP_JSET_K = 0x45;
const BPF_RET_K = 0x06;

const SECCOMP_RET_KILL_PROCESS = 0x80000000;
const SECCOMP_RET_ERRNO = 0x00050000;
const SECCOMP_RET_ALLOW = 0x7fff0000;
const EPERM = 1;
const ENOSYS = 38;

/** offsetof(struct seccomp_data, ...) */
const OFF_NR = 0;
const OFF_ARCH = 4;
const OFF_ARG0_LO = 16; // args[0], low 32 bits (little-endian)

/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME */
const CLONE_NS_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080;

interface ArchTable {
  auditArch: number;
  /** syscall numbers at or above this are another ABI (x32) => EPERM */
  abiLimit?: number;
  clone: number;
  eperm: Record<string, number>;
  enosys: Record<string, number>;
}

const X86_64: ArchTable = {
  auditArch: 0xc000003e,
  abiLimit: 0x40000000,
  clone: 56,
  eperm: {
    unshare: 272,
    setns: 308,
    mount: 165,
    umount2: 166,
    pivot_root: 155,
    chroot: 161,
    ptrace: 101,
    process_vm_readv: 310,
    process_vm_writev: 311,
    keyctl: 250,
    add_key: 248,
    request_key: 249,
    bpf: 321,
    perf_event_open: 298,
    kexec_load: 246,
    kexec_file_load: 320,
    init_module: 175,
    finit_module: 313,
    delete_module: 176,
    open_by_handle_at: 304,
    name_to_handle_at: 303,
    userfaultfd: 323,
    acct: 163,
    swapon: 167,
    swapoff: 168,
    reboot: 169,
    settimeofday: 164,
    clock_settime: 227,
    fsopen: 430,
    fsmount: 432,
    fsconfig: 431,
    move_mount: 429,
    open_tree: 428,
    mount_setattr: 442,
  },
  enosys: {clone3: 435, io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427},
};

const AARCH64: ArchTable = {
  auditArch: 0xc00000b7,
  clone: 220,
  eperm: {
    unshare: 97,
    setns: 268,
    mount: 40,
    umount2: 39,
    pivot_root: 41,
    chroot: 51,
    ptrace: 117,
    process_vm_readv: 270,
    process_vm_writev: 271,
    keyctl: 219,
    add_key: 217,
    request_key: 218,
    bpf: 280,
    perf_event_open: 241,
    kexec_load: 104,
    kexec_file_load: 294,
    init_module: 105,
    finit_module: 273,
    delete_module: 106,
    open_by_handle_at: 265,
    name_to_handle_at: 264,
    userfaultfd: 282,
    acct: 89,
    swapon: 224,
    swapoff: 225,
    reboot: 142,
    settimeofday: 170,
    clock_settime: 112,
    fsopen: 430,
    fsmount: 432,
    fsconfig: 431,
    move_mount: 429,
    open_tree: 428,
    mount_setattr: 442,
  },
  enosys: {clone3: 435, io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427},
};

interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

const stmt = (code: number, k: number): Insn => ({code, jt: 0, jf: 0, k});
const jump = (code: number, k: number, jt: number, jf: number): Insn => ({code, jt, jf, k});

export function seccompTableFor(arch: string): ArchTable {
  if (arch === 'x64') return X86_64;
  if (arch === 'arm64') return AARCH64;
  throw new Error(`no seccomp syscall table for architecture ${arch}`);
}

/** The filter as the bytes of a `struct sock_filter[]` (host byte order: little-endian). */
export function buildSeccompFilter(arch: string = process.arch): Buffer {
  const t = seccompTableFor(arch);
  const prog: Insn[] = [
    stmt(BPF_LD_W_ABS, OFF_ARCH),
    jump(BPF_JMP_JEQ_K, t.auditArch, 1, 0),
    stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS),
    stmt(BPF_LD_W_ABS, OFF_NR),
  ];
  if (t.abiLimit !== undefined) {
    prog.push(jump(BPF_JMP_JGE_K, t.abiLimit, 0, 1), stmt(BPF_RET_K, SECCOMP_RET_ERRNO | EPERM));
  }
  for (const nr of Object.values(t.eperm)) {
    prog.push(jump(BPF_JMP_JEQ_K, nr, 0, 1), stmt(BPF_RET_K, SECCOMP_RET_ERRNO | EPERM));
  }
  for (const nr of Object.values(t.enosys)) {
    prog.push(jump(BPF_JMP_JEQ_K, nr, 0, 1), stmt(BPF_RET_K, SECCOMP_RET_ERRNO | ENOSYS));
  }
  // clone(flags, ...): deny namespace flags; the accumulator is reloaded, so both outcomes return here.
  prog.push(
    jump(BPF_JMP_JEQ_K, t.clone, 0, 4),
    stmt(BPF_LD_W_ABS, OFF_ARG0_LO),
    jump(BPF_JMP_JSET_K, CLONE_NS_FLAGS, 0, 1),
    stmt(BPF_RET_K, SECCOMP_RET_ERRNO | EPERM),
    stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
  );
  prog.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
  if (prog.length > 4096) throw new Error('seccomp program too long');
  const buf = Buffer.alloc(prog.length * 8);
  prog.forEach((insn, i) => {
    buf.writeUInt16LE(insn.code, i * 8);
    buf.writeUInt8(insn.jt, i * 8 + 2);
    buf.writeUInt8(insn.jf, i * 8 + 3);
    buf.writeUInt32LE(insn.k >>> 0, i * 8 + 4);
  });
  return buf;
}

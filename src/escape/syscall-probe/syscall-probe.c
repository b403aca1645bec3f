/*
 * escape-syscall-probe: attempts each escape primitive of the runtime cases RT-013 (namespaces,
 * mount) and RT-014 (ptrace, cross-process memory, keyring, ...) and prints what the kernel (or
 * the seccomp filter) answered, as one JSON document on stdout.
 *
 * Built static (`cc -static -O2 -o syscall-probe syscall-probe.c`) so that the escape harness can
 * bind-mount it into any target (distroless image, sandbox) without a libc there; it is NEVER
 * part of the service image. Each attempt runs in a forked child (a successful unshare must not
 * change what the next attempt sees) that reports errno through its exit status; a child that
 * has not answered within 5 s is killed (timeout). It refuses to run as uid 0: as root the
 * attempts would really mount over /tmp and attach to pid 1. Arguments are chosen so that a call that
 * passes the filter fails in the kernel with an errno other than EPERM/ENOSYS where possible
 * (bad fd => EBADF, bad address => EFAULT), so the verdict "blocked" (EPERM/ENOSYS) is the
 * filter's or a missing capability's, not an argument error; a 0 is the primitive working.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

typedef long (*attempt_fn)(void);

static long a_unshare_user(void) { return syscall(SYS_unshare, CLONE_NEWUSER); }
static long a_unshare_ns(void) { return syscall(SYS_unshare, CLONE_NEWNS); }
static long a_unshare_user_ns_mount(void) {
  /* the CVE-2022-0492 route: a user namespace, then a mount namespace and a tmpfs mount in it */
  if (syscall(SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS) != 0) return -1;
  return syscall(SYS_mount, "none", "/tmp", "tmpfs", 0UL, NULL);
}
static long a_clone_newuser(void) {
  long pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), NULL, NULL, NULL, NULL);
  if (pid == 0) _exit(0);
  if (pid > 0) { waitpid((pid_t)pid, NULL, 0); return 0; }
  return -1;
}
static long a_clone3(void) {
  /* size 0 is invalid for clone3 itself (EINVAL when the call reaches the kernel) */
  return syscall(SYS_clone3, NULL, 0UL);
}
static long a_setns(void) { return syscall(SYS_setns, -1, 0); }
static long a_mount(void) { return syscall(SYS_mount, "none", "/tmp", "tmpfs", 0UL, NULL); }
static long a_umount2(void) { return syscall(SYS_umount2, "/nonexistent-probe", 0); }
static long a_pivot_root(void) { return syscall(SYS_pivot_root, "/nonexistent-probe", "/nonexistent-probe"); }
/* PTRACE_SEIZE: the same permission check as PTRACE_ATTACH, without stopping pid 1 if it works */
static long a_ptrace_pid1(void) { return syscall(SYS_ptrace, 0x4206 /* PTRACE_SEIZE */, 1, NULL, NULL); }
static long a_process_vm_readv(void) {
  char buf[8];
  struct iovec local = {buf, sizeof buf};
  struct iovec remote = {(void *)0x10000, sizeof buf};
  return syscall(SYS_process_vm_readv, 1, &local, 1UL, &remote, 1UL, 0UL);
}
static long a_process_vm_writev(void) {
  char buf[8] = {0};
  struct iovec local = {buf, sizeof buf};
  struct iovec remote = {(void *)0x10000, sizeof buf};
  return syscall(SYS_process_vm_writev, 1, &local, 1UL, &remote, 1UL, 0UL);
}
static long a_keyctl(void) { return syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0); }
static long a_add_key(void) { return syscall(SYS_add_key, "user", "escape-probe", "x", 1UL, -2 /* process keyring */); }
static long a_request_key(void) { return syscall(SYS_request_key, "user", "escape-probe", NULL, 0); }
static long a_bpf(void) { return syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, NULL, 0U); }
static long a_userfaultfd(void) { return syscall(SYS_userfaultfd, 0); }
static long a_io_uring_setup(void) { return syscall(SYS_io_uring_setup, 1U, NULL); }
static long a_perf_event_open(void) { return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0UL); }
static long a_kexec_load(void) { return syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0UL); }
static long a_init_module(void) { return syscall(SYS_init_module, NULL, 0UL, ""); }
static long a_open_by_handle_at(void) { return syscall(SYS_open_by_handle_at, -1, NULL, 0); }

struct attempt {
  const char *name;
  const char *covers;
  attempt_fn fn;
};

static const struct attempt ATTEMPTS[] = {
  {"unshare(CLONE_NEWUSER)", "RT-013", a_unshare_user},
  {"unshare(CLONE_NEWNS)", "RT-013", a_unshare_ns},
  {"unshare(CLONE_NEWUSER|CLONE_NEWNS)+mount(tmpfs)", "RT-013", a_unshare_user_ns_mount},
  {"clone(CLONE_NEWUSER)", "RT-013", a_clone_newuser},
  {"clone3", "RT-013", a_clone3},
  {"setns", "RT-013", a_setns},
  {"mount(tmpfs)", "RT-013", a_mount},
  {"umount2", "RT-013", a_umount2},
  {"pivot_root", "RT-013", a_pivot_root},
  {"ptrace(PTRACE_SEIZE, 1)", "RT-014", a_ptrace_pid1},
  {"process_vm_readv(1)", "RT-014", a_process_vm_readv},
  {"process_vm_writev(1)", "RT-014", a_process_vm_writev},
  {"keyctl", "RT-014", a_keyctl},
  {"add_key", "RT-014", a_add_key},
  {"request_key", "RT-014", a_request_key},
  {"bpf", "RT-014", a_bpf},
  {"userfaultfd", "RT-014", a_userfaultfd},
  {"io_uring_setup", "RT-014", a_io_uring_setup},
  {"perf_event_open", "RT-014", a_perf_event_open},
  {"kexec_load", "RT-014", a_kexec_load},
  {"init_module", "RT-014", a_init_module},
  {"open_by_handle_at", "RT-014", a_open_by_handle_at},
};

int main(void) {
  size_t n = sizeof ATTEMPTS / sizeof ATTEMPTS[0];
  /* As root (on a host, or in a container running as root) the primitives are real: mount over
   * /tmp, attach to pid 1. The probe is for unprivileged targets only. */
  if (geteuid() == 0 || getuid() == 0) {
    printf("{\"tool\":\"escape-syscall-probe\",\"error\":\"refusing to run as uid 0 (the attempts would act on the host)\"}\n");
    return 2;
  }
  printf("{\"tool\":\"escape-syscall-probe\",\"attempts\":[");
  for (size_t i = 0; i < n; i++) {
    fflush(stdout);
    pid_t pid = fork();
    int result; /* errno, 0 = the call succeeded, -1 = no answer */
    if (pid == 0) {
      alarm(5);
      errno = 0;
      long rc = ATTEMPTS[i].fn();
      _exit(rc == -1 ? (errno > 0 && errno < 255 ? errno : 254) : 0);
    }
    if (pid < 0) {
      result = -1;
    } else {
      int st = 0;
      if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st)) result = -1;
      else result = WEXITSTATUS(st);
    }
    printf("%s{\"name\":\"%s\",\"covers\":\"%s\",\"errno\":%d,\"error\":\"%s\"}", i ? "," : "", ATTEMPTS[i].name, ATTEMPTS[i].covers,
           result, result > 0 ? strerrorname_np(result) ? strerrorname_np(result) : "?" : result == 0 ? "" : "no-answer");
  }
  printf("]}\n");
  return 0;
}

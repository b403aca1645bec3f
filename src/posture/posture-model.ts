/**
 * Runtime posture self-check: the model (types, reference helpers, known paths and patterns,
 * the pure /proc and cgroup parsers) shared by the checks table (posture-checks.ts) and the
 * evaluator (posture.ts). Pure module: no LoopBack imports, no fs/process access.
 */

export type Severity = 'high' | 'medium' | 'low';

/**
 * `pass`: proven from what the process can see; `fail`: proven bad, or a fact missing (fail
 * closed); `unproven`: nothing seen is wrong, but what the check needs to prove it is out of
 * this process's sight (e.g. a seccomp filter's rules, a pod cgroup above the container's
 * cgroup namespace). An unproven high/medium finding blocks compliance unless the operator
 * accepts it by id (PostureOptions.acceptUnproven / POSTURE_ACCEPT_UNPROVEN), i.e. states that
 * the deployment provides it (the shipped seccomp profile, the kubelet's podPidsLimit).
 */
export type FindingStatus = 'pass' | 'fail' | 'unproven';

export interface PostureFinding {
  /** Stable id (kebab-case); tests and the POSTURE_NONCOMPLIANT error list these. */
  id: string;
  /** status === 'pass'. */
  ok: boolean;
  status: FindingStatus;
  /** An unproven finding the operator accepted (acceptUnproven). */
  accepted?: boolean;
  severity: Severity;
  /** One line for humans: what was seen. Never contains secret values. */
  detail: string;
  /** CIS Docker Benchmark / Pod Security Standards items this finding implements. */
  references: string[];
  /** Escape-catalog runtime cases (RT-*) this finding answers. */
  covers: string[];
}

export interface PostureReport {
  compliant: boolean;
  findings: PostureFinding[];
  /** ids of the findings that block compliance (severity high/medium: failed, or unproven and not accepted). */
  failed: string[];
  /** ids of the unproven findings (accepted or not). */
  unproven: string[];
}

export type EntryType = 'file' | 'dir' | 'socket' | 'block' | 'char' | 'fifo' | 'symlink' | 'other' | 'missing';

/**
 * Probe functions (injected; posture-io binds them to the real filesystem). Each answers a
 * question about the process's view of the filesystem. `undefined` from readText means
 * "missing or unreadable".
 */
export interface PostureProbe {
  /** Text of a (small) file, or undefined when missing/unreadable. */
  readText(p: string): string | undefined;
  /** access(p, W_OK) for this process: true when the path is writable (EROFS/EACCES/ENOENT => false). */
  writable(p: string): boolean;
  /** lstat type of a path ('missing' when it does not exist). */
  entryType(p: string): EntryType;
}

export interface FilesystemScan {
  /** Unix socket files found by walking the filesystem (pseudo filesystems excluded). */
  socketPaths: string[];
  /** Regular files with the setuid/setgid bit on mounts that honour it (no `nosuid`). */
  setuidFiles: string[];
  /** Block and character device nodes found under /dev (paths and types). */
  devices: {path: string; type: 'block' | 'char'}[];
  /** False when the walk stopped at its entry budget: fail closed. */
  complete: boolean;
  /** Number of entries visited (for the detail line). */
  visited: number;
}

export interface PostureInput {
  /** Text of /proc/self/status. */
  status: string;
  /** Text of /proc/self/mountinfo. */
  mountinfo: string;
  /** process.getuid() / process.getgid(). */
  uid: number;
  gid: number;
  /** fs.existsSync-like (no symlink following needed). */
  exists: (p: string) => boolean;
  /** Unix sockets found by the I/O layer (mount targets that are sockets and a walk of the filesystem). */
  socketPaths?: string[];
  /** The process environment (names are checked; values are only pattern-matched, never reported). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Further probes. Every check that needs one fails closed when it is absent. */
  probe?: PostureProbe;
  /** Result of the filesystem walk (sockets, setuid files, devices). */
  scan?: FilesystemScan;
  /** Text of /proc/net/unix (unix sockets of this network namespace). */
  netUnix?: string;
  /** Text of /proc/self/cgroup. */
  cgroup?: string;
  /** Numeric entries of /proc (visible pids). */
  pids?: number[];
  /** Text of /etc/group, to name supplementary groups (docker, podman, ...). */
  etcGroup?: string;
  /** Other visible processes' environ texts (NUL-separated), for the secrets check. */
  otherEnvirons?: string[];
  /** The working directory (the application directory, checked for writability). */
  cwd?: string;
  /** Text of /proc/net/tcp followed by /proc/net/tcp6 (sockets of this network namespace). */
  netTcp?: string;
  /** Inodes of the sockets held open by the processes visible here (from /proc/<pid>/fd). */
  ownSocketInodes?: number[];
}

export interface PostureOptions {
  /** Allow CAP_NET_BIND_SERVICE (and only it) in the capability sets. */
  allowNetBindService?: boolean;
  /** Visible process count above which the advisory `pid-count` finding fails (default 64). */
  maxVisibleProcesses?: number;
  /**
   * Ids of findings the operator accepts as `unproven` (the deployment provides what the
   * process cannot see). An id that is not an unprovable check fails `posture-options`.
   */
  acceptUnproven?: readonly string[];
}

/** Checks that can end `unproven` (the only ids acceptUnproven may name). */
export const UNPROVABLE_CHECKS: readonly string[] = ['userns-restricted', 'ptrace-restricted', 'cgroup-limits-set'];

// ---------------------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------------------

export const CIS = (n: string, title: string) => `CIS Docker Benchmark v1.6.0 §${n} ${title}`;
export const PSS = (level: 'baseline' | 'restricted', control: string) => `Pod Security Standards ${level}: ${control}`;

// ---------------------------------------------------------------------------------------
// Known paths and patterns
// ---------------------------------------------------------------------------------------

/** Container-runtime API sockets (RT-007). `/run/user/<uid>/...` entries are added per uid. */
export const RUNTIME_SOCKET_PATHS: readonly string[] = [
  '/var/run/docker.sock',
  '/run/docker.sock',
  '/run/containerd/containerd.sock',
  '/run/containerd/containerd.sock.ttrpc',
  '/var/run/containerd/containerd.sock',
  '/var/run/crio/crio.sock',
  '/run/crio/crio.sock',
  '/run/podman/podman.sock',
  '/var/run/podman/podman.sock',
  '/var/run/cri-dockerd.sock',
  '/run/cri-dockerd.sock',
  '/var/run/dockershim.sock',
  '/run/k3s/containerd/containerd.sock',
  '/run/buildkit/buildkitd.sock',
  '/var/run/docker/containerd/containerd.sock',
  '/run/docker/containerd/containerd.sock',
  '/run/firecracker-containerd/containerd.sock',
  '/var/snap/docker/common/run/docker.sock',
  '/var/lib/kubelet/pod-resources/kubelet.sock',
  '/var/lib/kubelet/device-plugins/kubelet.sock',
];

/** Per-user (rootless) runtime sockets, relative to /run/user/<uid>/. */
export const USER_RUNTIME_SOCKETS = ['docker.sock', 'podman/podman.sock', 'containerd/containerd.sock', 'buildkit/buildkitd.sock'];

/** Words in a mount path or socket name that betray a container runtime or the host's init/bus (RT-008). */
export const RUNTIME_NAME_PATTERN =
  /docker\.sock|dockershim|cri-dockerd|containerd|crio\.sock|\/crio\/|podman\.sock|\/podman\/|buildkitd?\.sock|kubelet|firecracker/i;

/** Host service sockets that only show in /proc/net/unix when the host's network namespace is shared. */
export const HOST_NETNS_SOCKET_PATTERN = /docker|containerd|crio|podman|kubelet|dockershim|buildkit|systemd|dbus|snapd|journal|udev/i;

/** Service-account token locations (RT-016). */
export const SERVICE_ACCOUNT_TOKEN_PATHS: readonly string[] = [
  '/var/run/secrets/kubernetes.io/serviceaccount/token',
  '/run/secrets/kubernetes.io/serviceaccount/token',
  '/var/run/secrets/kubernetes.io/serviceaccount',
  '/run/secrets/kubernetes.io/serviceaccount',
  '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
  '/var/run/secrets/tokens',
];

/** Host directories that must not be bind-mounted into the container (RT-010; CIS 5.6). */
export const SENSITIVE_HOST_PATHS: readonly string[] = [
  '/',
  '/boot',
  '/dev',
  '/etc',
  '/lib',
  '/lib64',
  '/proc',
  '/sys',
  '/usr',
  '/bin',
  '/sbin',
  '/root',
  '/home',
  '/run',
  '/var/run',
  '/var/lib/kubelet',
  '/var/log',
  '/var/lib/docker',
  '/var/lib/containers',
  '/var/lib/containerd',
  '/etc/kubernetes',
];

/** Filesystem types backed by host storage: their root at a non-root mount point exposes the host. */
export const HOST_BACKED_FS = new Set([
  'ext2',
  'ext3',
  'ext4',
  'xfs',
  'btrfs',
  'zfs',
  'f2fs',
  'vfat',
  'exfat',
  'ntfs',
  'ntfs3',
  'jfs',
  'reiserfs',
  'devtmpfs',
  '9p',
  'virtiofs',
  'nfs',
  'nfs4',
  'cifs',
  'fuse.sshfs',
]);

/** Kernel pseudo filesystems the filesystem walk does not enter. */
export const PSEUDO_FS = new Set([
  'proc',
  'sysfs',
  'cgroup',
  'cgroup2',
  'devpts',
  'mqueue',
  'debugfs',
  'tracefs',
  'securityfs',
  'pstore',
  'bpf',
  'configfs',
  'fusectl',
  'hugetlbfs',
  'binfmt_misc',
  'autofs',
  'nsfs',
  'efivarfs',
  'selinuxfs',
  'rpc_pipefs',
]);

/** System directories that must not be writable (RT-006). The working directory is added. */
export const SYSTEM_DIRS: readonly string[] = [
  '/',
  '/etc',
  '/usr',
  '/usr/local',
  '/usr/bin',
  '/bin',
  '/sbin',
  '/lib',
  '/var',
  '/opt',
  '/root',
  '/home',
  '/app',
];

/** pid 1 names that mean "the host's init", i.e. the host PID namespace is shared (RT-015). */
export const HOST_INIT_NAMES = new Set([
  'systemd',
  'init',
  'upstart',
  'launchd',
  'openrc-init',
  'runit',
  'runit-init',
  'busybox-init',
  'process_api',
  'firecracker-init',
]);

/** Character devices a hardened container may have. */
export const ALLOWED_CHAR_DEVICES = /^\/dev\/(null|zero|full|random|urandom|tty|console|ptmx|pts\/(ptmx|\d+))$/;

/**
 * Environment variable names that hold secrets (RT-020): a name whose words (split on `_`/`-`
 * and camelCase) include one of these. *_FILE/_PATH/_DIR indirections are the recommended
 * pattern and are fine.
 */
export const SECRET_ENV_WORDS = new Set([
  'pass',
  'password',
  'passwd',
  'passphrase',
  'pwd',
  'secret',
  'secrets',
  'token',
  'tokens',
  'apikey',
  'key',
  'privatekey',
  'credential',
  'credentials',
]);
export const SECRET_ENV_INDIRECTION = /[_-](FILE|FILES|PATH|DIR)$/i;

export function isSecretEnvName(name: string): boolean {
  if (SECRET_ENV_INDIRECTION.test(name)) return false;
  if (name === 'PWD' || name === 'OLDPWD') return false; // shell working directories
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[_\-.]+/)
    .filter(w => w !== '');
  return words.some(w => SECRET_ENV_WORDS.has(w));
}

// ---------------------------------------------------------------------------------------
// Capabilities
// ---------------------------------------------------------------------------------------

/** Linux capability names by bit number (capability.h). */
export const CAPABILITY_NAMES: readonly string[] = [
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
  'PERFMON',
  'BPF',
  'CHECKPOINT_RESTORE',
];
export const CAP_NET_BIND_SERVICE = 10;
export const CAP_SYS_PTRACE = 19;
export const CAP_SYS_ADMIN = 21;

export function capabilityNames(mask: bigint): string[] {
  const out: string[] = [];
  for (let bit = 0; bit < 64; bit++) {
    if ((mask >> BigInt(bit)) & 1n) out.push(CAPABILITY_NAMES[bit] ?? `CAP_${bit}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Parsers (exported for tests and for posture-io)
// ---------------------------------------------------------------------------------------

/** /proc/<pid>/status as a key => value map (values trimmed). */
export function parseStatus(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    m.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return m;
}

export interface MountEntry {
  id: number;
  parent: number;
  /** Root of the mount within its filesystem (e.g. the host path of a bind mount). */
  root: string;
  mountPoint: string;
  /** Per-mount options (ro/rw, nosuid, nodev, noexec, ...). */
  options: string[];
  fsType: string;
  source: string;
  superOptions: string[];
}

export function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** /proc/<pid>/mountinfo (proc(5)); throws on a malformed line (callers fail closed). */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const sep = line.indexOf(' - ');
    if (sep < 0) throw new Error('mountinfo line without separator');
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    if (left.length < 6 || right.length < 2) throw new Error('mountinfo line too short');
    const id = Number(left[0]);
    const parent = Number(left[1]);
    if (!Number.isInteger(id) || !Number.isInteger(parent)) throw new Error('mountinfo ids not numeric');
    out.push({
      id,
      parent,
      root: unescapeMount(left[3]),
      mountPoint: unescapeMount(left[4]),
      options: left[5].split(','),
      fsType: right[0],
      source: unescapeMount(right[1]),
      superOptions: (right[2] ?? '').split(','),
    });
  }
  if (out.length === 0) throw new Error('mountinfo is empty');
  return out;
}

/** The mount that is visible at `/` (the last one mounted there). */
export function rootMount(mounts: readonly MountEntry[]): MountEntry | undefined {
  let found: MountEntry | undefined;
  for (const m of mounts) if (m.mountPoint === '/') found = m;
  return found;
}

/**
 * The mount a path lives on: the last-mounted entry with the longest mount point that is a
 * prefix of the path.
 */
export function mountOf(mounts: readonly MountEntry[], p: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const m of mounts) {
    const mp = m.mountPoint;
    const inside = mp === '/' || p === mp || p.startsWith(mp + '/');
    if (!inside) continue;
    if (!best || mp.length >= best.mountPoint.length) best = m;
  }
  return best;
}

/**
 * Mount points whose subtrees the filesystem walk skips (pseudo filesystems), and the set of
 * mounts that honour setuid bits. Used by posture-io.
 */
export function walkPlan(mounts: readonly MountEntry[]): {skip: Set<string>} {
  const skip = new Set<string>();
  for (const m of mounts) if (PSEUDO_FS.has(m.fsType)) skip.add(m.mountPoint);
  return {skip};
}

export function hexMask(v: string | undefined): bigint | undefined {
  if (v === undefined || !/^[0-9a-f]{1,16}$/i.test(v)) return undefined;
  return BigInt('0x' + v);
}

export function ids(v: string | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(/\s+/).filter(x => x !== '');
  if (parts.length === 0) return [];
  const n = parts.map(Number);
  return n.every(x => Number.isInteger(x) && x >= 0) ? n : undefined;
}

export function parentDir(p: string): string {
  if (p === '/') return '/';
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

export function within(p: string, base: string): boolean {
  return base === '/' || p === base || p.startsWith(base + '/');
}

// ---------------------------------------------------------------------------------------
// Cgroup limits (RT-022)
// ---------------------------------------------------------------------------------------

interface CgroupLine {
  controllers: string[];
  path: string;
  v2: boolean;
}

export function parseProcCgroup(text: string): CgroupLine[] {
  const out: CgroupLine[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) throw new Error('unparseable /proc/self/cgroup line');
    out.push({controllers: m[2] === '' ? [] : m[2].split(','), path: m[3] || '/', v2: m[1] === '0' && m[2] === ''});
  }
  return out;
}

/**
 * Directories (most specific first) that hold the limit files of the cgroup this process is
 * in, for one controller: the cgroup's own directory under the matching cgroup mount, then its
 * ancestors up to the mount's root. The mount's `root` field maps cgroup paths (of
 * /proc/self/cgroup, v1 `N:controller:path` or v2 `0::path`) to directories: containers
 * usually mount their own cgroup at the hierarchy's mount point (root = the container's
 * cgroup), a cgroup namespace shows its own root as `/`; a mount of the whole hierarchy shows
 * every ancestor. A mount that does not contain our cgroup is skipped.
 */
export function cgroupDirs(mounts: readonly MountEntry[], lines: readonly CgroupLine[], controller: 'memory' | 'pids'): string[] {
  const v1 = lines.find(l => !l.v2 && l.controllers.includes(controller));
  const line = v1 ?? lines.find(l => l.v2);
  if (!line) return [];
  const candidates = mounts.filter(m => (v1 ? m.fsType === 'cgroup' && m.superOptions.includes(controller) : m.fsType === 'cgroup2'));
  const dirs: string[] = [];
  for (const m of candidates) {
    const root = m.root === '' ? '/' : m.root;
    // a mount whose root is not our cgroup or one of its ancestors does not show our cgroup
    if (!within(line.path, root)) continue;
    let rel = root === '/' ? line.path : line.path.slice(root.length);
    if (rel === '') rel = '/';
    // walk from the cgroup's directory up to the mount point
    let cur = rel;
    for (;;) {
      dirs.push(cur === '/' ? m.mountPoint : m.mountPoint.replace(/\/$/, '') + cur);
      if (cur === '/') break;
      cur = parentDir(cur);
    }
  }
  return [...new Set(dirs)];
}

export const V1_UNLIMITED = 2n ** 60n;

export type CgroupLimit =
  | {status: 'limited'; value: string; dir: string; ancestor: boolean}
  /** No limit on the visible cgroups, and the hierarchy's root is visible: nothing above limits us. */
  | {status: 'unlimited'; top: string}
  /** No limit on the visible cgroups; ancestors above `top` exist but are not visible here. */
  | {status: 'hidden'; top: string}
  | {status: 'not-visible'};

/**
 * The effective limit of one controller: the first limited cgroup from ours up the visible
 * hierarchy (a parent's limit bounds every child: Kubernetes puts podPidsLimit on the pod
 * cgroup, not on the container's). When none is limited, tells whether the hierarchy's root
 * was reached: the root cgroup has no pids.max (v1 and v2) and no memory.max (v2); so a
 * topmost visible directory that has one is a non-root cgroup whose ancestors are hidden
 * (cgroup namespace, or the container's cgroup bind-mounted). For v1 memory (the root has
 * memory.limit_in_bytes) the mount's root says it.
 */
export function cgroupLimit(
  probe: PostureProbe,
  mounts: readonly MountEntry[],
  lines: readonly CgroupLine[],
  controller: 'memory' | 'pids',
): CgroupLimit {
  const dirs = cgroupDirs(mounts, lines, controller);
  let seen = false;
  for (const [i, dir] of dirs.entries()) {
    const l = limitOf(probe, dir, controller);
    if (!l) continue;
    seen = true;
    if (l.limited) return {status: 'limited', value: l.value, dir, ancestor: i > 0};
  }
  if (!seen) return {status: 'not-visible'};
  // several mounts of one hierarchy: judge by the topmost directory of the first (the walk order)
  const top = dirs.find(d => mounts.some(m => m.mountPoint === d)) ?? dirs[dirs.length - 1];
  const mount = mounts.find(m => m.mountPoint === top);
  const v1Memory = controller === 'memory' && probe.readText(`${top}/memory.limit_in_bytes`) !== undefined;
  const hidden = v1Memory
    ? (mount?.root ?? '/') !== '/'
    : probe.readText(`${top}/${controller === 'memory' ? 'memory.max' : 'pids.max'}`) !== undefined;
  return hidden ? {status: 'hidden', top} : {status: 'unlimited', top};
}

export function limitOf(probe: PostureProbe, dir: string, controller: 'memory' | 'pids'): {limited: boolean; value: string} | undefined {
  const files = controller === 'memory' ? ['memory.max', 'memory.limit_in_bytes'] : ['pids.max'];
  for (const f of files) {
    const t = probe.readText(`${dir}/${f}`)?.trim();
    if (t === undefined) continue;
    if (t === 'max') return {limited: false, value: t};
    if (/^\d+$/.test(t)) {
      const n = BigInt(t);
      return {limited: f === 'memory.limit_in_bytes' ? n < V1_UNLIMITED : true, value: t};
    }
    return undefined;
  }
  return undefined;
}

export function groupNames(etcGroup: string): Map<number, string> {
  const m = new Map<number, string>();
  for (const line of etcGroup.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name && gid && /^\d+$/.test(gid)) m.set(Number(gid), name);
  }
  return m;
}

/** Paths (named) and '@names' (abstract) of the unix sockets listed in /proc/net/unix. */
export function unixSocketNames(text: string): string[] {
  const out: string[] = [];
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const cols = lines[i].trim().split(/\s+/);
    if (cols.length >= 8) out.push(cols.slice(7).join(' '));
  }
  return out;
}

/** Listening sockets (state 0A) of /proc/net/tcp and /proc/net/tcp6 texts. */
export function tcpListeners(text: string): {port: number; inode: number}[] {
  const out: {port: number; inode: number}[] = [];
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 10 || !/^\d+:$/.test(cols[0])) continue;
    if (cols[3] !== '0A') continue;
    const port = parseInt(cols[1].split(':')[1] ?? '', 16);
    const inode = Number(cols[9]);
    if (Number.isInteger(port) && Number.isInteger(inode)) out.push({port, inode});
  }
  return out;
}

export function secretEnvNames(entries: [string, string | undefined][]): string[] {
  return entries.filter(([k, v]) => v !== undefined && v !== '' && isSecretEnvName(k)).map(([k]) => k);
}

export function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`${what} not available`);
  return v;
}

/** What a check sees: the gathered input and the parsed facts the evaluator prepares once. */
export interface CheckContext {
  readonly input: PostureInput;
  /** /proc/self/status as a map. */
  readonly status: Map<string, string>;
  /** Parsed mountinfo (throws when unparseable: the check fails closed). */
  mounts(): MountEntry[];
  /** The filesystem probe (throws when absent: the check fails closed). */
  probe(): PostureProbe;
  /** A capability mask of /proc/self/status, undefined when missing/unparseable. */
  capMask(field: string): bigint | undefined;
  /** Capabilities allowed to remain (NET_BIND_SERVICE when opted in). */
  readonly allowedCaps: bigint;
  /** Advisory limit of visible processes. */
  readonly maxProcs: number;
}

/**
 * One row of the checks table: the finding's identity and references (data) and a pure predicate
 * over the context: `[true | false | 'unproven', detail]`. A thrown error fails the finding.
 */
export interface PostureCheck {
  readonly id: string;
  readonly severity: Severity;
  readonly covers: string[];
  readonly references: string[];
  evaluate(c: CheckContext): [boolean | 'unproven', string];
}

/**
 * Runtime posture self-check (pure policy).
 *
 * `assessPosture()` turns facts about the running process (the text of /proc/self/status and
 * /proc/self/mountinfo, ids, and answers from injected probe functions) into a report of
 * findings. It performs no I/O of its own: `posture-io.ts` gathers the real inputs, the unit
 * tests feed captured /proc fixture texts.
 *
 * Every finding has a stable id, a severity, and the references it implements:
 *  - CIS Docker Benchmark v1.6.0 §4 (images) / §5 (container runtime), numbered as in
 *    docker-bench-security v1.6.0;
 *  - Kubernetes Pod Security Standards (PSS) "baseline" / "restricted" controls;
 *  - the escape-attempt catalog's runtime cases (`covers`: RT-001 … RT-023), each of which
 *    the posture check answers.
 *
 * Fail closed: a fact that is missing, unreadable or unparseable makes its finding fail.
 * `compliant` is true only when every finding of severity `high` or `medium` is ok;
 * `low` findings are advisory (they are reported, never block start-up).
 *
 * Pure module: no LoopBack imports, no fs/process access.
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

const CIS = (n: string, title: string) => `CIS Docker Benchmark v1.6.0 §${n} ${title}`;
const PSS = (level: 'baseline' | 'restricted', control: string) => `Pod Security Standards ${level}: ${control}`;

// ---------------------------------------------------------------------------------------
// Known paths and patterns
// ---------------------------------------------------------------------------------------

/** Container-runtime API sockets (RT-007). `/run/user/<uid>/...` entries are added per uid. */
export const RUNTIME_SOCKET_PATHS: readonly string[] = [
  '/var/run/docker.sock', '/run/docker.sock',
  '/run/containerd/containerd.sock', '/run/containerd/containerd.sock.ttrpc',
  '/var/run/containerd/containerd.sock',
  '/var/run/crio/crio.sock', '/run/crio/crio.sock',
  '/run/podman/podman.sock', '/var/run/podman/podman.sock',
  '/var/run/cri-dockerd.sock', '/run/cri-dockerd.sock', '/var/run/dockershim.sock',
  '/run/k3s/containerd/containerd.sock', '/run/buildkit/buildkitd.sock',
  '/var/run/docker/containerd/containerd.sock', '/run/docker/containerd/containerd.sock',
  '/run/firecracker-containerd/containerd.sock', '/var/snap/docker/common/run/docker.sock',
  '/var/lib/kubelet/pod-resources/kubelet.sock', '/var/lib/kubelet/device-plugins/kubelet.sock',
];

/** Per-user (rootless) runtime sockets, relative to /run/user/<uid>/. */
const USER_RUNTIME_SOCKETS = ['docker.sock', 'podman/podman.sock', 'containerd/containerd.sock', 'buildkit/buildkitd.sock'];

/** Words in a mount path or socket name that betray a container runtime or the host's init/bus (RT-008). */
export const RUNTIME_NAME_PATTERN = /docker\.sock|dockershim|cri-dockerd|containerd|crio\.sock|\/crio\/|podman\.sock|\/podman\/|buildkitd?\.sock|kubelet|firecracker/i;

/** Host service sockets that only show in /proc/net/unix when the host's network namespace is shared. */
const HOST_NETNS_SOCKET_PATTERN = /docker|containerd|crio|podman|kubelet|dockershim|buildkit|systemd|dbus|snapd|journal|udev/i;

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
  '/', '/boot', '/dev', '/etc', '/lib', '/lib64', '/proc', '/sys', '/usr', '/bin', '/sbin', '/root', '/home',
  '/run', '/var/run', '/var/lib/kubelet', '/var/log', '/var/lib/docker', '/var/lib/containers',
  '/var/lib/containerd', '/etc/kubernetes',
];

/** Filesystem types backed by host storage: their root at a non-root mount point exposes the host. */
const HOST_BACKED_FS = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'zfs', 'f2fs', 'vfat', 'exfat', 'ntfs', 'ntfs3',
  'jfs', 'reiserfs', 'devtmpfs', '9p', 'virtiofs', 'nfs', 'nfs4', 'cifs', 'fuse.sshfs']);

/** Kernel pseudo filesystems the filesystem walk does not enter. */
export const PSEUDO_FS = new Set(['proc', 'sysfs', 'cgroup', 'cgroup2', 'devpts', 'mqueue', 'debugfs', 'tracefs',
  'securityfs', 'pstore', 'bpf', 'configfs', 'fusectl', 'hugetlbfs', 'binfmt_misc', 'autofs', 'nsfs',
  'efivarfs', 'selinuxfs', 'rpc_pipefs']);

/** System directories that must not be writable (RT-006). The working directory is added. */
export const SYSTEM_DIRS: readonly string[] = ['/', '/etc', '/usr', '/usr/local', '/usr/bin', '/bin', '/sbin', '/lib', '/var', '/opt', '/root', '/home', '/app'];

/** pid 1 names that mean "the host's init", i.e. the host PID namespace is shared (RT-015). */
const HOST_INIT_NAMES = new Set(['systemd', 'init', 'upstart', 'launchd', 'openrc-init', 'runit', 'runit-init', 'busybox-init', 'process_api', 'firecracker-init']);

/** Character devices a hardened container may have. */
const ALLOWED_CHAR_DEVICES = /^\/dev\/(null|zero|full|random|urandom|tty|console|ptmx|pts\/(ptmx|\d+))$/;

/**
 * Environment variable names that hold secrets (RT-020): a name whose words (split on `_`/`-`
 * and camelCase) include one of these. *_FILE/_PATH/_DIR indirections are the recommended
 * pattern and are fine.
 */
const SECRET_ENV_WORDS = new Set(['pass', 'password', 'passwd', 'passphrase', 'pwd', 'secret', 'secrets', 'token', 'tokens',
  'apikey', 'key', 'privatekey', 'credential', 'credentials']);
const SECRET_ENV_INDIRECTION = /[_-](FILE|FILES|PATH|DIR)$/i;

export function isSecretEnvName(name: string): boolean {
  if (SECRET_ENV_INDIRECTION.test(name)) return false;
  if (name === 'PWD' || name === 'OLDPWD') return false; // shell working directories
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase().split(/[_\-.]+/).filter(w => w !== '');
  return words.some(w => SECRET_ENV_WORDS.has(w));
}

// ---------------------------------------------------------------------------------------
// Capabilities
// ---------------------------------------------------------------------------------------

/** Linux capability names by bit number (capability.h). */
export const CAPABILITY_NAMES: readonly string[] = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
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

function unescapeMount(s: string): string {
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
      id, parent,
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

function hexMask(v: string | undefined): bigint | undefined {
  if (v === undefined || !/^[0-9a-f]{1,16}$/i.test(v)) return undefined;
  return BigInt('0x' + v);
}

function ids(v: string | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(/\s+/).filter(x => x !== '');
  if (parts.length === 0) return [];
  const n = parts.map(Number);
  return n.every(x => Number.isInteger(x) && x >= 0) ? n : undefined;
}

function parentDir(p: string): string {
  if (p === '/') return '/';
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

function within(p: string, base: string): boolean {
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
  const candidates = mounts.filter(m => (v1
    ? m.fsType === 'cgroup' && m.superOptions.includes(controller)
    : m.fsType === 'cgroup2'));
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

const V1_UNLIMITED = 2n ** 60n;

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
export function cgroupLimit(probe: PostureProbe, mounts: readonly MountEntry[], lines: readonly CgroupLine[], controller: 'memory' | 'pids'): CgroupLimit {
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

function limitOf(probe: PostureProbe, dir: string, controller: 'memory' | 'pids'): {limited: boolean; value: string} | undefined {
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

// ---------------------------------------------------------------------------------------
// The assessment
// ---------------------------------------------------------------------------------------

type Check = Omit<PostureFinding, 'ok' | 'detail' | 'status' | 'accepted'> & {evaluate: () => [boolean | 'unproven', string]};

function run(check: Check, accept: ReadonlySet<string>): PostureFinding {
  let status: FindingStatus, detail: string;
  try {
    const [v, d] = check.evaluate();
    status = v === 'unproven' ? 'unproven' : v ? 'pass' : 'fail';
    detail = d;
  } catch (e) {
    status = 'fail';
    detail = `could not be assessed: ${(e as Error).message ?? String(e)}`;
  }
  const f: PostureFinding = {id: check.id, ok: status === 'pass', status, severity: check.severity, detail, references: check.references, covers: check.covers};
  if (status === 'unproven' && accept.has(check.id)) f.accepted = true;
  return f;
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`${what} not available`);
  return v;
}

export function assessPosture(input: PostureInput, opts: PostureOptions = {}): PostureReport {
  const status = parseStatus(input.status ?? '');
  let mountsCache: MountEntry[] | undefined;
  const mounts = (): MountEntry[] => (mountsCache ??= parseMountinfo(input.mountinfo ?? ''));
  const probe = (): PostureProbe => need(input.probe, 'filesystem probe');
  const allowedCaps = opts.allowNetBindService ? 1n << BigInt(CAP_NET_BIND_SERVICE) : 0n;
  const maxProcs = opts.maxVisibleProcesses ?? 64;

  const capCheck = (field: string, id: string, extraRefs: string[] = []): Check => ({
    id, severity: 'high', covers: ['RT-003'],
    references: [CIS('5.4', 'Restrict Linux kernel capabilities within containers'), CIS('5.5', 'Do not use privileged containers'),
      PSS('restricted', 'Capabilities (drop ALL; add only NET_BIND_SERVICE)'), ...extraRefs],
    evaluate: () => {
      const mask = need(hexMask(status.get(field)), `${field} in /proc/self/status`);
      const extra = mask & ~allowedCaps;
      return extra === 0n
        ? [true, `${field} ${status.get(field)}${mask ? ' (NET_BIND_SERVICE allowed)' : ''}`]
        : [false, `${field} ${status.get(field)}: ${capabilityNames(extra).join(',')}`];
    },
  });

  const capMask = (field: string): bigint | undefined => hexMask(status.get(field));

  const checks: Check[] = [
    {
      id: 'user-non-root', severity: 'high', covers: ['RT-001'],
      references: [CIS('4.1', 'Ensure that a user for the container has been created'), PSS('restricted', 'Running as Non-root'),
        PSS('restricted', 'Running as Non-root user (runAsUser != 0)')],
      evaluate: () => {
        const u = need(ids(status.get('Uid')), 'Uid in /proc/self/status');
        if (u.length !== 4) throw new Error('Uid line malformed');
        const bad = u.includes(0) || input.uid === 0;
        return [!bad, `uid ${input.uid}; real/effective/saved/fs ${u.join('/')}`];
      },
    },
    {
      id: 'group-non-root', severity: 'high', covers: ['RT-002'],
      references: [CIS('4.1', 'Ensure that a user for the container has been created'), PSS('restricted', 'Running as Non-root user (runAsGroup/supplementalGroups)')],
      evaluate: () => {
        const g = need(ids(status.get('Gid')), 'Gid in /proc/self/status');
        if (g.length !== 4) throw new Error('Gid line malformed');
        const groups = need(ids(status.get('Groups') ?? ''), 'Groups in /proc/self/status');
        const problems: string[] = [];
        if (g.includes(0) || input.gid === 0) problems.push(`gid ${input.gid}; real/effective/saved/fs ${g.join('/')}`);
        if (groups.includes(0)) problems.push('supplementary group 0');
        if (input.etcGroup !== undefined) {
          const names = groupNames(input.etcGroup);
          for (const id of [...groups, ...g]) {
            const n = names.get(id);
            if (n && /^(docker|podman|containerd|crio|kvm|disk|libvirt|lxd|wheel|sudo|adm|shadow)$/.test(n)) problems.push(`member of group ${n} (${id})`);
          }
        }
        return problems.length === 0
          ? [true, `gid ${input.gid}; groups [${groups.join(',')}]`]
          : [false, problems.join('; ')];
      },
    },
    capCheck('CapEff', 'caps-effective-empty'),
    capCheck('CapPrm', 'caps-permitted-empty'),
    capCheck('CapBnd', 'caps-bounding-empty'),
    capCheck('CapAmb', 'caps-ambient-empty'),
    capCheck('CapInh', 'caps-inheritable-empty'),
    {
      id: 'no-new-privs', severity: 'high', covers: ['RT-004'],
      references: [CIS('5.26', 'Ensure that the container is restricted from acquiring additional privileges'),
        PSS('restricted', 'Privilege Escalation (allowPrivilegeEscalation: false)')],
      evaluate: () => {
        const v = need(status.get('NoNewPrivs'), 'NoNewPrivs in /proc/self/status');
        return [v === '1', `NoNewPrivs ${v}`];
      },
    },
    {
      id: 'seccomp-filter', severity: 'high', covers: ['RT-005'],
      references: [CIS('5.22', 'Ensure that the default seccomp profile is not disabled'), PSS('restricted', 'Seccomp (RuntimeDefault or Localhost)'),
        PSS('baseline', 'Seccomp (not Unconfined)')],
      evaluate: () => {
        const mode = need(status.get('Seccomp'), 'Seccomp in /proc/self/status');
        const filters = status.get('Seccomp_filters');
        const nFilters = filters === undefined ? undefined : Number(filters);
        const ok = mode === '2' && (nFilters === undefined || nFilters >= 1);
        return [ok, `Seccomp ${mode}${filters === undefined ? '' : `, ${filters} filter(s)`}`];
      },
    },
    {
      id: 'rootfs-read-only', severity: 'high', covers: ['RT-006'],
      references: [CIS('5.13', "Mount container's root filesystem as read only"), 'Kubernetes securityContext readOnlyRootFilesystem: true'],
      evaluate: () => {
        const root = need(rootMount(mounts()), 'a mount at / in mountinfo');
        const ro = root.options.includes('ro') || root.superOptions.includes('ro');
        return [ro, `/ is ${root.fsType} mounted ${ro ? 'ro' : 'rw'} (${root.options.join(',')})`];
      },
    },
    {
      id: 'system-dirs-unwritable', severity: 'high', covers: ['RT-006'],
      references: [CIS('5.13', "Mount container's root filesystem as read only"), CIS('4.1', 'application files not writable by the runtime user')],
      evaluate: () => {
        const p = probe();
        const dirs = [...SYSTEM_DIRS, ...(input.cwd ? [input.cwd] : [])];
        const writable = [...new Set(dirs)].filter(d => p.entryType(d) === 'dir' && p.writable(d));
        return writable.length === 0 ? [true, `none of ${dirs.length} system/application directories is writable`]
          : [false, `writable: ${writable.join(', ')}`];
      },
    },
    {
      id: 'runtime-socket-absent', severity: 'high', covers: ['RT-007'],
      references: [CIS('5.32', 'Ensure that the Docker socket is not mounted inside any containers'), PSS('baseline', 'HostPath Volumes')],
      evaluate: () => {
        const paths = [...RUNTIME_SOCKET_PATHS];
        for (const uid of new Set([input.uid, 0])) for (const s of USER_RUNTIME_SOCKETS) paths.push(`/run/user/${uid}/${s}`);
        const env = input.env ?? {};
        for (const name of ['DOCKER_HOST', 'CONTAINER_HOST', 'CONTAINERD_ADDRESS', 'BUILDKIT_HOST']) {
          const v = env[name];
          if (v && /^unix:\/\//.test(v)) paths.push(v.slice('unix://'.length));
        }
        for (const name of ['XDG_RUNTIME_DIR']) {
          const v = env[name];
          if (v && v.startsWith('/')) for (const s of USER_RUNTIME_SOCKETS) paths.push(`${v.replace(/\/$/, '')}/${s}`);
        }
        const found = paths.filter(p => input.exists(p));
        return found.length === 0 ? [true, `none of ${paths.length} known runtime socket paths exists`] : [false, `present: ${found.join(', ')}`];
      },
    },
    {
      id: 'runtime-socket-not-mounted', severity: 'high', covers: ['RT-008'],
      references: [CIS('5.32', 'Ensure that the Docker socket is not mounted inside any containers'), PSS('baseline', 'HostPath Volumes')],
      evaluate: () => {
        const hits = mounts().filter(m => RUNTIME_NAME_PATTERN.test(m.mountPoint) || RUNTIME_NAME_PATTERN.test(m.root));
        return hits.length === 0 ? [true, 'no mount names a container runtime']
          : [false, `runtime mounts: ${hits.map(m => `${m.root} at ${m.mountPoint}`).join(', ')}`];
      },
    },
    {
      id: 'no-unix-sockets', severity: 'high', covers: ['RT-009', 'RT-007'],
      references: [CIS('5.32', 'Ensure that the Docker socket is not mounted inside any containers'), PSS('baseline', 'HostPath Volumes')],
      evaluate: () => {
        const fromScan = input.scan?.socketPaths ?? [];
        const given = input.socketPaths;
        if (given === undefined && input.scan === undefined) throw new Error('socket scan not available');
        const all = [...new Set([...(given ?? []), ...fromScan])].sort();
        if (all.length > 0) return [false, `unix sockets reachable: ${all.slice(0, 10).join(', ')}${all.length > 10 ? ` (+${all.length - 10})` : ''}`];
        if (input.scan && !input.scan.complete) return [false, `filesystem walk stopped at its budget after ${input.scan.visited} entries: socket scan incomplete`];
        return [true, `no unix socket file found${input.scan ? ` (${input.scan.visited} entries walked)` : ''}`];
      },
    },
    {
      id: 'network-namespace-private', severity: 'high', covers: ['RT-009', 'RT-021'],
      references: [CIS('5.10', 'Do not use host network mode on container'), PSS('baseline', 'Host Namespaces (hostNetwork: false)')],
      evaluate: () => {
        const text = need(input.netUnix, '/proc/net/unix');
        const names = unixSocketNames(text);
        const host = names.filter(n => HOST_NETNS_SOCKET_PATTERN.test(n));
        return host.length === 0 ? [true, `${names.length} named unix socket(s) in this network namespace, none of a host service`]
          : [false, `host service sockets visible (host network namespace?): ${host.slice(0, 5).join(', ')}`];
      },
    },
    {
      // Advisory: a listening TCP socket that no visible process holds belongs to someone outside
      // this PID namespace sharing the network namespace: the host (hostNetwork) or a sidecar.
      id: 'foreign-listeners', severity: 'low', covers: ['RT-009'],
      references: [CIS('5.10', 'Do not use host network mode on container'), PSS('baseline', 'Host Namespaces (hostNetwork: false)')],
      evaluate: () => {
        const text = need(input.netTcp, '/proc/net/tcp');
        const own = new Set(need(input.ownSocketInodes, 'socket inodes of visible processes'));
        const foreign = tcpListeners(text).filter(l => !own.has(l.inode));
        return foreign.length === 0 ? [true, 'every listening TCP socket belongs to a visible process']
          : [false, `listening TCP ports held outside this PID namespace (host network or sidecar): ${[...new Set(foreign.map(l => l.port))].slice(0, 10).join(', ')}`];
      },
    },
    {
      id: 'host-paths-not-mounted', severity: 'high', covers: ['RT-010'],
      references: [CIS('5.6', 'Do not mount sensitive host system directories on containers'), PSS('baseline', 'HostPath Volumes')],
      evaluate: () => {
        const hits: string[] = [];
        for (const m of mounts()) {
          // Pseudo filesystems (proc at /proc/sys, cgroup roots, ...) name paths inside themselves,
          // not on the host; procfs-protected and kernel-fs-read-only judge those.
          if (m.mountPoint === '/' || PSEUDO_FS.has(m.fsType)) continue;
          const root = m.root.replace(/\/+$/, '') || '/';
          if (root === '/' ? HOST_BACKED_FS.has(m.fsType) : SENSITIVE_HOST_PATHS.includes(root)) {
            hits.push(`${m.fsType}:${root} at ${m.mountPoint}`);
          }
        }
        return hits.length === 0 ? [true, 'no sensitive host directory is mounted'] : [false, `host paths mounted: ${hits.join(', ')}`];
      },
    },
    {
      id: 'kernel-fs-read-only', severity: 'high', covers: ['RT-011'],
      references: [CIS('5.5', 'Do not use privileged containers'), CIS('5.25', 'Ensure that cgroup usage is confirmed'), PSS('baseline', 'Privileged Containers')],
      evaluate: () => {
        const p = probe();
        const problems: string[] = [];
        for (const m of mounts()) {
          if (m.fsType === 'sysfs' || m.fsType === 'cgroup' || m.fsType === 'cgroup2') {
            if (!m.options.includes('ro')) problems.push(`${m.fsType} at ${m.mountPoint} is rw`);
            if (m.fsType === 'cgroup' && p.writable(`${m.mountPoint}/release_agent`)) problems.push(`${m.mountPoint}/release_agent writable`);
            if (m.fsType !== 'sysfs' && p.writable(m.mountPoint)) problems.push(`${m.mountPoint} writable`);
          }
        }
        if (p.writable('/sys/fs/cgroup')) problems.push('/sys/fs/cgroup writable');
        return problems.length === 0 ? [true, 'sysfs and cgroup filesystems are read-only or absent'] : [false, problems.join('; ')];
      },
    },
    {
      id: 'procfs-protected', severity: 'high', covers: ['RT-012'],
      references: [PSS('baseline', '/proc Mount Type (Default)'), CIS('5.5', 'Do not use privileged containers')],
      evaluate: () => {
        const p = probe();
        const problems: string[] = [];
        for (const f of ['/proc/sys/kernel/core_pattern', '/proc/sysrq-trigger', '/proc/sys/kernel/modprobe', '/proc/sys/vm/panic_on_oom']) {
          if (p.writable(f)) problems.push(`${f} writable`);
        }
        for (const m of mounts()) {
          if (m.fsType === 'proc' && !within(m.mountPoint, '/proc')) problems.push(`procfs mounted at ${m.mountPoint}`);
          if (m.fsType === 'sysfs' && !within(m.mountPoint, '/sys')) problems.push(`sysfs mounted at ${m.mountPoint}`);
        }
        return problems.length === 0 ? [true, 'kernel tunables under /proc are not writable'] : [false, problems.join('; ')];
      },
    },
    {
      id: 'userns-restricted', severity: 'high', covers: ['RT-013'],
      references: [CIS('5.22', 'Ensure that the default seccomp profile is not disabled'), CIS('5.31', 'Ensure that the host\'s user namespaces are not shared'),
        PSS('restricted', 'Seccomp'), PSS('restricted', 'Capabilities')],
      // unshare(CLONE_NEWUSER|CLONE_NEWNS) + mount() need either unprivileged user namespaces or
      // CAP_SYS_ADMIN. Proven only by user.max_user_namespaces = 0. A seccomp filter is in force,
      // but its rules cannot be read from inside (podman's default profile ALLOWS unshare): that
      // is `unproven` (accept it when the deployment applies deploy/seccomp/hardened-mtls.json;
      // the escape suite's RT-013 attempts the syscalls).
      evaluate: () => {
        const maxNs = input.probe?.readText('/proc/sys/user/max_user_namespaces')?.trim();
        const bnd = need(capMask('CapBnd'), 'CapBnd');
        const eff = need(capMask('CapEff'), 'CapEff');
        const sysAdmin = ((bnd | eff) >> BigInt(CAP_SYS_ADMIN)) & 1n;
        if (sysAdmin) return [false, 'CAP_SYS_ADMIN is in the bounding/effective set'];
        if (maxNs === '0') return [true, 'user.max_user_namespaces = 0'];
        const seccomp = status.get('Seccomp') === '2';
        const nnp = status.get('NoNewPrivs') === '1';
        return seccomp && nnp ? ['unproven', `no CAP_SYS_ADMIN; a seccomp filter and no_new_privs are in force, but whether the filter denies unshare/clone(CLONE_NEWUSER) cannot be read from inside (max_user_namespaces ${maxNs ?? 'unknown'})`]
          : [false, `user namespaces available (max_user_namespaces ${maxNs ?? 'unknown'}) and no seccomp filter`];
      },
    },
    {
      id: 'ptrace-restricted', severity: 'high', covers: ['RT-014'],
      references: [PSS('baseline', 'Capabilities (no SYS_PTRACE)'), CIS('5.22', 'Ensure that the default seccomp profile is not disabled')],
      evaluate: () => {
        const bnd = need(capMask('CapBnd'), 'CapBnd');
        const eff = need(capMask('CapEff'), 'CapEff');
        if (((bnd | eff) >> BigInt(CAP_SYS_PTRACE)) & 1n) return [false, 'CAP_SYS_PTRACE is in the bounding/effective set'];
        const scope = input.probe?.readText('/proc/sys/kernel/yama/ptrace_scope')?.trim();
        const seccomp = status.get('Seccomp') === '2';
        // yama 2 (admin-only: CAP_SYS_PTRACE, absent) or 3 (no attach) proves it; a seccomp
        // filter may deny ptrace/process_vm_* but its rules cannot be read from inside.
        if (scope !== undefined && /^[23]$/.test(scope)) return [true, `no CAP_SYS_PTRACE; yama ptrace_scope ${scope}`];
        const detail = `no CAP_SYS_PTRACE; seccomp ${seccomp ? 'on' : 'off'}; yama ptrace_scope ${scope ?? 'n/a'}`;
        return seccomp ? ['unproven', `${detail}: whether the filter denies ptrace/process_vm_readv cannot be read from inside`] : [false, detail];
      },
    },
    {
      id: 'pid-namespace-private', severity: 'high', covers: ['RT-015'],
      references: [CIS('5.16', "Do not share the host's process namespace"), PSS('baseline', 'Host Namespaces (hostPID: false)')],
      // Heuristics (documented in README "Runtime posture"): in any non-initial PID namespace the
      // kernel threads are invisible, so pid 2 named "kthreadd" means the host's namespace; and a
      // pid 1 that is a host init system (systemd, init, ...) means the same.
      evaluate: () => {
        const p = probe();
        const pid2 = p.readText('/proc/2/comm')?.trim();
        const pid1 = p.readText('/proc/1/comm')?.trim();
        const signs: string[] = [];
        if (pid2 === 'kthreadd') signs.push('kernel thread kthreadd (pid 2) visible');
        if (pid1 !== undefined && HOST_INIT_NAMES.has(pid1)) signs.push(`pid 1 is ${pid1}`);
        const ppid = status.get('PPid');
        return signs.length === 0 ? [true, `pid 1 is ${pid1 ?? '?'}; ppid ${ppid ?? '?'}; no kernel threads visible`] : [false, signs.join('; ')];
      },
    },
    {
      id: 'pid-count', severity: 'low', covers: ['RT-015'],
      references: [CIS('5.3', 'Verify that containers are running only a single main process')],
      evaluate: () => {
        const pids = need(input.pids, 'the /proc pid list');
        return [pids.length <= maxProcs, `${pids.length} process(es) visible (advisory limit ${maxProcs})`];
      },
    },
    {
      id: 'service-account-token-absent', severity: 'high', covers: ['RT-016'],
      references: ['CIS Kubernetes Benchmark §5.1.6 Ensure that Service Account Tokens are only mounted where necessary',
        'Kubernetes automountServiceAccountToken: false'],
      evaluate: () => {
        const found = SERVICE_ACCOUNT_TOKEN_PATHS.filter(p => input.exists(p));
        return found.length === 0 ? [true, 'no service-account token mounted'] : [false, `present: ${found.join(', ')}`];
      },
    },
    {
      id: 'no-host-devices', severity: 'high', covers: ['RT-017'],
      references: [CIS('5.18', 'Do not directly expose host devices to containers'), PSS('baseline', 'Privileged Containers')],
      evaluate: () => {
        const scan = need(input.scan, 'device scan');
        const bad = scan.devices.filter(d => d.type === 'block' || !ALLOWED_CHAR_DEVICES.test(d.path)).map(d => `${d.path} (${d.type})`);
        return bad.length === 0 ? [true, `${scan.devices.length} device node(s), all standard`] : [false, `devices: ${bad.slice(0, 10).join(', ')}`];
      },
    },
    {
      id: 'lsm-not-unconfined', severity: 'medium', covers: ['RT-018'],
      references: [CIS('5.2', 'Verify AppArmor profile, if applicable'), CIS('5.3', 'Verify SELinux security options, if applicable'),
        PSS('baseline', 'AppArmor'), PSS('baseline', 'SELinux')],
      evaluate: () => {
        const p = probe();
        const label = (p.readText('/proc/self/attr/apparmor/current') ?? p.readText('/proc/self/attr/current'))?.replace(/\0/g, '').trim();
        const apparmorOn = p.readText('/sys/module/apparmor/parameters/enabled')?.trim() === 'Y';
        if (label === undefined || label === '') {
          return apparmorOn ? [false, 'AppArmor is enabled but the process label is unreadable'] : [true, 'no LSM label on this kernel (AppArmor/SELinux not enabled)'];
        }
        if (/^unconfined\b/.test(label) || /:(unconfined_t|spc_t|kernel_t|initrc_t):/.test(label)) return [false, `LSM label ${label}`];
        return [true, `LSM label ${label}`];
      },
    },
    {
      id: 'no-setuid-binaries', severity: 'medium', covers: ['RT-019'],
      references: [CIS('4.8', 'Ensure setuid and setgid permissions are removed'), CIS('5.26', 'no-new-privileges')],
      evaluate: () => {
        const scan = need(input.scan, 'setuid scan');
        if (scan.setuidFiles.length > 0) return [false, `setuid/setgid files on suid-honouring mounts: ${scan.setuidFiles.slice(0, 10).join(', ')}${scan.setuidFiles.length > 10 ? ` (+${scan.setuidFiles.length - 10})` : ''}`];
        if (!scan.complete) return [false, `filesystem walk stopped at its budget after ${scan.visited} entries: setuid scan incomplete`];
        return [true, 'no setuid/setgid file on a mount that honours it'];
      },
    },
    {
      id: 'env-no-secrets', severity: 'medium', covers: ['RT-020'],
      references: [CIS('4.10', 'Ensure secrets are not stored in Dockerfiles'), 'Kubernetes: prefer Secret volumes over environment variables'],
      evaluate: () => {
        const env = need(input.env, 'the process environment');
        const names = secretEnvNames(Object.entries(env));
        for (const text of input.otherEnvirons ?? []) {
          const entries = text.split('\0').filter(x => x.includes('=')).map(kv => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as [string, string]);
          names.push(...secretEnvNames(entries).map(n => `${n} (another process)`));
        }
        return names.length === 0 ? [true, 'no secret-looking variable in the environment'] : [false, `secret-looking variables: ${[...new Set(names)].join(', ')}`];
      },
    },
    {
      id: 'route-localnet-off', severity: 'medium', covers: ['RT-021'],
      references: ['CVE-2020-8558 (net.ipv4.conf.all.route_localnet)', PSS('baseline', 'Sysctls (safe set only)')],
      evaluate: () => {
        const v = need(probe().readText('/proc/sys/net/ipv4/conf/all/route_localnet')?.trim(), 'net.ipv4.conf.all.route_localnet');
        return [v === '0', `route_localnet ${v}`];
      },
    },
    {
      id: 'cgroup-limits-set', severity: 'medium', covers: ['RT-022'],
      references: [CIS('5.11', 'Limit memory usage for container'), CIS('5.29', "Ensure that the container's PIDs cgroup limit is used"),
        'Kubernetes resources.limits'],
      // A limit on an ancestor (the pod cgroup: kubelet podPidsLimit) bounds us too; ancestors
      // hidden by a cgroup namespace or a bind-mounted container cgroup make it `unproven`.
      evaluate: () => {
        const p = probe();
        const lines = parseProcCgroup(need(input.cgroup, '/proc/self/cgroup'));
        const parts: string[] = [];
        let verdict: boolean | 'unproven' = true;
        for (const c of ['memory', 'pids'] as const) {
          const l = cgroupLimit(p, mounts(), lines, c);
          if (l.status === 'limited') {
            parts.push(`${c} ${l.value} (${l.dir}${l.ancestor ? ', an ancestor cgroup' : ''})`);
          } else if (l.status === 'hidden') {
            if (verdict === true) verdict = 'unproven';
            parts.push(`${c} unlimited up to ${l.top}; the ancestors above it are not visible here (Kubernetes puts podPidsLimit on the pod cgroup)`);
          } else {
            verdict = false;
            parts.push(l.status === 'unlimited' ? `${c} unlimited up to the hierarchy root` : `${c} limit not visible`);
          }
        }
        return [verdict, parts.join('; ')];
      },
    },
    {
      id: 'writable-mounts-noexec', severity: 'medium', covers: ['RT-023'],
      references: [CIS('5.13', "Mount container's root filesystem as read only (writable paths on tmpfs noexec,nosuid,nodev)"),
        'Kubernetes emptyDir for /tmp'],
      evaluate: () => {
        const p = probe();
        const bad: string[] = [];
        const writable: string[] = [];
        for (const m of mounts()) {
          if (PSEUDO_FS.has(m.fsType) || m.mountPoint === '/') continue;
          if (m.options.includes('ro')) continue;
          if (p.entryType(m.mountPoint) !== 'dir' || !p.writable(m.mountPoint)) continue;
          writable.push(m.mountPoint);
          const missing = ['noexec', 'nosuid', 'nodev'].filter(o => !m.options.includes(o));
          if (missing.length > 0) bad.push(`${m.mountPoint} (${m.fsType}) lacks ${missing.join(',')}`);
        }
        return bad.length === 0 ? [true, `writable mounts: ${writable.join(', ') || 'none'}; all noexec,nosuid,nodev`] : [false, bad.join('; ')];
      },
    },
  ];

  const accept = new Set(opts.acceptUnproven ?? []);
  const badAccept = [...accept].filter(id => !UNPROVABLE_CHECKS.includes(id));
  if (badAccept.length > 0) {
    checks.push({
      id: 'posture-options', severity: 'high', covers: [], references: ['POSTURE_ACCEPT_UNPROVEN'],
      evaluate: () => [false, `acceptUnproven names checks that cannot be unproven: ${badAccept.join(', ')} (allowed: ${UNPROVABLE_CHECKS.join(', ')})`],
    });
  }
  const findings = checks.map(c => run(c, accept));
  const failed = findings.filter(f => f.severity !== 'low' && (f.status === 'fail' || (f.status === 'unproven' && !f.accepted))).map(f => f.id);
  const unproven = findings.filter(f => f.status === 'unproven').map(f => f.id);
  return {compliant: failed.length === 0, findings, failed, unproven};
}

function groupNames(etcGroup: string): Map<number, string> {
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

function secretEnvNames(entries: [string, string | undefined][]): string[] {
  return entries
    .filter(([k, v]) => v !== undefined && v !== '' && isSecretEnvName(k))
    .map(([k]) => k);
}

/** Every escape-catalog runtime case id the posture check covers (a unit test keeps this in step). */
export const COVERED_RUNTIME_CASES: readonly string[] = Array.from({length: 23}, (_v, i) => `RT-${String(i + 1).padStart(3, '0')}`);

/** Text rendering of a report (the CLI's default format). */
export function formatReport(report: PostureReport): string {
  const lines = [`posture: ${report.compliant ? 'COMPLIANT' : 'NON-COMPLIANT'}${report.failed.length ? ` (failed: ${report.failed.join(', ')})` : ''}`];
  for (const f of report.findings) {
    const mark = f.ok ? 'ok  ' : f.status === 'unproven' ? (f.accepted ? 'acpt' : 'UNPR') : f.severity === 'low' ? 'warn' : 'FAIL';
    lines.push(`  [${mark}] ${f.id.padEnd(30)} ${f.detail}`);
    lines.push(`         ${f.covers.join(',')} | ${f.references.join('; ')}`);
  }
  return lines.join('\n') + '\n';
}

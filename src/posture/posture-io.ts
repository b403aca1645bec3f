/**
 * Gathers the real inputs of the posture self-check (reads /proc, probes the filesystem) and
 * runs it at start-up.
 *
 * `checkPostureAtStartup(mode, logger)` is what main() calls before anything listens:
 *   - `off`: logs one warn line that the check is disabled, returns undefined;
 *   - `warn`: logs the failed findings (one audit line, decision `warn`) and returns the report;
 *   - `enforce`: on a non-compliant posture logs one audit line (decision `deny`) and throws
 *     AppError POSTURE_NONCOMPLIANT with details `{failed: [ids]}` (exit code 78 via
 *     AppError.exitCode). A gathering error is itself a failure (fail closed).
 */
import fs from 'node:fs';
import path from 'node:path';
import {AppError} from '../errors';
import {audit, Logger} from '../logging/logger';
import {
  assessPosture,
  EntryType,
  FilesystemScan,
  MountEntry,
  mountOf,
  parseMountinfo,
  PostureInput,
  PostureOptions,
  PostureProbe,
  PostureReport,
  walkPlan,
} from './posture';

export type PostureMode = 'enforce' | 'warn' | 'off';

export interface GatherOptions {
  /** Entry budget of the filesystem walk (default 100 000); a walk cut short fails closed. */
  maxEntries?: number;
  /** Environment to check (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
}

function readText(p: string, max = 1 << 20): string | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.alloc(65536);
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
      if (total >= max) break;
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function entryType(p: string): EntryType {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return 'missing';
  }
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSocket()) return 'socket';
  if (st.isBlockDevice()) return 'block';
  if (st.isCharacterDevice()) return 'char';
  if (st.isFIFO()) return 'fifo';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}

/** The probe bound to the real filesystem. */
export const realProbe: PostureProbe = {
  readText: p => readText(p),
  writable: p => {
    try {
      fs.accessSync(p, fs.constants.W_OK);
      return true;
    } catch {
      return false;
    }
  },
  entryType,
};

const DEVICE_NAMES = /^\/(null|zero|full|random|urandom|tty|console|ptmx)$/;

/**
 * Walks the filesystem from `/` without entering pseudo filesystems (proc, sysfs, cgroup, ...),
 * within an entry budget, and collects unix sockets, setuid/setgid files on mounts that honour
 * them (no `nosuid`), and device nodes. Mount points are lstat'ed directly, because readdir
 * reports the type of the covered placeholder, not of what is bind-mounted over it (a socket
 * bind-mounted onto a regular file shows up as a file in readdir).
 */
export function scanFilesystem(mounts: readonly MountEntry[], maxEntries = 100_000): FilesystemScan {
  const {skip} = walkPlan(mounts);
  const mountPoints = new Map<string, MountEntry>();
  for (const m of mounts) mountPoints.set(m.mountPoint, m);
  const sockets = new Set<string>();
  const setuid: string[] = [];
  const devices: {path: string; type: 'block' | 'char'}[] = [];
  let visited = 0;
  let complete = true;

  // Mount points first: a bind-mounted socket or device anywhere, even under a skipped tree.
  for (const m of mounts) {
    const t = entryType(m.mountPoint);
    if (t === 'socket') sockets.add(m.mountPoint);
    else if (t === 'block') devices.push({path: m.mountPoint, type: 'block'});
    else if (t === 'char') {
      const base = '/' + path.posix.basename(m.root);
      devices.push({path: DEVICE_NAMES.test(base) ? `/dev${base}` : m.mountPoint, type: 'char'});
    }
  }

  const stack: string[] = ['/'];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, {withFileTypes: true});
    } catch {
      continue; // unreadable directory: nothing in it is reachable by name listing either
    }
    const mount = mountOf(mounts, dir);
    const honoursSuid = mount !== undefined && !mount.options.includes('nosuid');
    const inDev = dir === '/dev' || dir.startsWith('/dev/');
    for (const e of entries) {
      if (++visited > maxEntries) {
        complete = false;
        break;
      }
      const full = dir === '/' ? `/${e.name}` : `${dir}/${e.name}`;
      if (skip.has(full)) continue;
      if (mountPoints.has(full)) {
        // handled above for non-directories; descend into mounted directories
        if (entryType(full) === 'dir') stack.push(full);
        continue;
      }
      if (e.isSocket()) sockets.add(full);
      else if (e.isDirectory()) stack.push(full);
      else if (e.isBlockDevice()) devices.push({path: full, type: 'block'});
      else if (e.isCharacterDevice()) {
        if (inDev) devices.push({path: full, type: 'char'});
      } else if (e.isFile() && honoursSuid) {
        try {
          const st = fs.lstatSync(full);
          if (st.mode & 0o6000) setuid.push(full);
        } catch {
          // vanished
        }
      }
    }
    if (!complete) break;
  }
  return {socketPaths: [...sockets].sort(), setuidFiles: setuid.sort(), devices, complete, visited: Math.min(visited, maxEntries)};
}

/** Reads everything assessPosture() needs from the running process's view of the system. */
export function gatherPostureInput(opts: GatherOptions = {}): PostureInput {
  const mountinfo = readText('/proc/self/mountinfo', 16 << 20) ?? '';
  let mounts: MountEntry[] = [];
  try {
    mounts = parseMountinfo(mountinfo);
  } catch {
    // assessPosture fails the mount-based findings closed
  }
  const scan = scanFilesystem(mounts, opts.maxEntries ?? 100_000);
  let pids: number[] | undefined;
  try {
    pids = fs
      .readdirSync('/proc')
      .filter(n => /^\d+$/.test(n))
      .map(Number);
  } catch {
    pids = undefined;
  }
  let self: number | undefined;
  try {
    self = Number(fs.readlinkSync('/proc/self'));
  } catch {
    self = undefined;
  }
  const otherEnvirons: string[] = [];
  const ownSocketInodes: number[] = [];
  for (const pid of (pids ?? []).slice(0, 256)) {
    if (pid !== self) {
      const t = readText(`/proc/${pid}/environ`, 1 << 20);
      if (t !== undefined) otherEnvirons.push(t);
    }
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // another user's process: its sockets count as foreign
    }
    for (const fd of fds.slice(0, 4096)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) ownSocketInodes.push(Number(m[1]));
      } catch {
        // closed meanwhile
      }
    }
  }
  const tcp = readText('/proc/net/tcp', 16 << 20);
  const tcp6 = readText('/proc/net/tcp6', 16 << 20);
  return {
    status: readText('/proc/self/status') ?? '',
    mountinfo,
    uid: process.getuid?.() ?? -1,
    gid: process.getgid?.() ?? -1,
    exists: p => entryType(p) !== 'missing',
    socketPaths: scan.socketPaths,
    env: opts.env ?? process.env,
    probe: realProbe,
    scan,
    netUnix: readText('/proc/net/unix', 16 << 20),
    cgroup: readText('/proc/self/cgroup'),
    pids,
    etcGroup: readText('/etc/group'),
    otherEnvirons,
    cwd: process.cwd(),
    netTcp: tcp === undefined && tcp6 === undefined ? undefined : `${tcp ?? ''}\n${tcp6 ?? ''}`,
    ownSocketInodes,
  };
}

/**
 * POSTURE_ACCEPT_UNPROVEN: comma-separated ids of the checks the deployment provides although
 * the process cannot prove them (see UNPROVABLE_CHECKS); assessPosture fails `posture-options`
 * on any other id.
 */
export function acceptUnprovenFromEnv(env: Readonly<Record<string, string | undefined>>): string[] {
  return (env.POSTURE_ACCEPT_UNPROVEN ?? '')
    .split(',')
    .map(s => s.trim())
    .filter(s => s !== '');
}

/** Gather + assess; a gathering error yields a non-compliant report (fail closed). */
export function runPostureCheck(opts: PostureOptions & GatherOptions = {}): PostureReport {
  try {
    const acceptUnproven = opts.acceptUnproven ?? acceptUnprovenFromEnv(opts.env ?? process.env);
    return assessPosture(gatherPostureInput(opts), {...opts, acceptUnproven});
  } catch (e) {
    return {
      compliant: false,
      unproven: [],
      failed: ['posture-gather'],
      findings: [
        {
          id: 'posture-gather',
          ok: false,
          status: 'fail',
          severity: 'high',
          detail: `could not gather posture inputs: ${(e as Error).message}`,
          references: [],
          covers: [],
        },
      ],
    };
  }
}

/**
 * Start-up hook for main(): call before the server listens.
 * Returns the report (undefined when mode is `off`); throws AppError POSTURE_NONCOMPLIANT in
 * `enforce` mode when the posture is not compliant.
 */
export function checkPostureAtStartup(
  mode: PostureMode,
  logger: Logger,
  opts: PostureOptions & GatherOptions & {run?: () => PostureReport} = {},
): PostureReport | undefined {
  if (mode === 'off') {
    audit(logger, {event: 'posture.check', decision: 'warn', mode, detail: 'runtime posture self-check disabled (POSTURE_MODE=off)'});
    return undefined;
  }
  const report = opts.run ? opts.run() : runPostureCheck(opts);
  const failedFindings = report.findings.filter(f => report.failed.includes(f.id)).map(f => ({id: f.id, status: f.status, detail: f.detail}));
  const advisories = report.findings.filter(f => !f.ok && f.severity === 'low').map(f => ({id: f.id, detail: f.detail}));
  // unproven findings the operator accepted: said in every audit line, never silently passed
  const accepted = report.findings.filter(f => f.accepted).map(f => ({id: f.id, detail: f.detail}));
  if (report.compliant) {
    audit(logger, {event: 'posture.check', decision: 'allow', mode, checks: report.findings.length, advisories, acceptedUnproven: accepted});
    return report;
  }
  if (mode === 'warn') {
    audit(logger, {
      event: 'posture.check',
      decision: 'warn',
      mode,
      code: 'POSTURE_NONCOMPLIANT',
      failed: report.failed,
      findings: failedFindings,
      advisories,
      acceptedUnproven: accepted,
    });
    return report;
  }
  audit(logger, {event: 'posture.check', decision: 'deny', mode, code: 'POSTURE_NONCOMPLIANT', failed: report.failed, findings: failedFindings});
  throw new AppError('POSTURE_NONCOMPLIANT', `runtime posture is not compliant: ${report.failed.join(', ')}`, {failed: report.failed});
}

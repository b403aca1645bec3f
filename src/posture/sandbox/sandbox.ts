/**
 * The hardened bubblewrap sandbox runner (product code: the escape suite's local mode runs its
 * runtime probe here, `npm run escape -- --runtime sandbox`; the sandbox tier in
 * test/integration/sandbox starts the built service here). A hardened mini-container built with bubblewrap from the host's
 * own node binary (and the libraries `ldd` names), the built application (read-only), a
 * read-only tmpfs root, a small noexec tmpfs /tmp, its own cgroups with memory and pids limits,
 * private user/pid/net/ipc/uts/cgroup namespaces (loopback only), no capabilities,
 * no_new_privs, and a seccomp filter (seccomp-bpf.ts). Each "bad runtime" option removes one
 * of those properties so a test can show the posture check refuses it.
 *
 * Process chain (the caller runs as root, as CI does):
 *   unshare --mount --propagation private   (private mount ns for the noexec /tmp tmpfs)
 *     sh scripts/container/sandbox-exec.sh  (mount tmpfs, join the sandbox cgroups)
 *       setpriv --reuid 10001 ... --no-new-privs   (drop root before bwrap)
 *         bwrap --unshare-user ... --seccomp 3 --info-fd 4 -- COMMAND
 */
import {ChildProcess, execFileSync, spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {buildSeccompFilter} from './seccomp-bpf';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');
export const SANDBOX_EXEC = path.join(REPO_ROOT, 'scripts', 'container', 'sandbox-exec.sh');
/** The node binary inside the sandbox (bound from the host at the same path). */
export const SANDBOX_NODE = fs.existsSync('/usr/bin/node') ? '/usr/bin/node' : process.execPath;
export const APP_DIR = '/app';

export interface Bind {
  src: string;
  dest: string;
  ro?: boolean;
}

export interface SandboxOptions {
  /** Command inside the sandbox; argv[0] is an absolute path inside (e.g. SANDBOX_NODE). */
  command: string[];
  env?: Record<string, string>;
  /** 'nonroot' (uid/gid 10001, default), 'root-userns' (uid 0 inside a user namespace), 'root' (real root, all caps dropped). */
  user?: 'nonroot' | 'root-userns' | 'root';
  /** Capabilities to keep (bwrap --cap-add), e.g. ['CAP_NET_RAW']. */
  capAdd?: string[];
  /** Leave the root filesystem writable. */
  writableRoot?: boolean;
  /** Load the seccomp filter (default true). */
  seccomp?: boolean;
  /** Share the host's PID namespace (the host /proc is bound read-only). */
  hostPid?: boolean;
  /** Share the host's network namespace. */
  hostNet?: boolean;
  /** Put the sandbox in cgroups with memory and pids limits (default true). */
  cgroupLimits?: boolean;
  /** Extra bind mounts (certificates, a fake socket, ...). */
  binds?: Bind[];
  /** Extra executables (host paths) to make available with their libraries, at the same path. */
  executables?: string[];
}

export interface SandboxResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** How to get the sandbox's tools (said in every prerequisite error). */
export const SANDBOX_INSTALL_HINT =
  'install bubblewrap and util-linux: bash .ci/install-system-deps.sh (as root), or apt-get install -y bubblewrap util-linux';

/** Why the sandbox cannot run here (missing tool, not root, missing helper script), or undefined when it can. */
export function sandboxUnavailableReason(): string | undefined {
  const missing: string[] = [];
  for (const tool of ['bwrap', 'setpriv', 'unshare', 'nsenter', 'ldd']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], {stdio: 'ignore'});
    } catch {
      missing.push(tool);
    }
  }
  if (missing.length > 0) return `sandbox: missing ${missing.join(', ')} (${SANDBOX_INSTALL_HINT})`;
  if (process.getuid?.() !== 0)
    return `sandbox: must run as root (it drops to uid 10001 itself; CI runs as root); bubblewrap must be installed (${SANDBOX_INSTALL_HINT})`;
  if (!fs.existsSync(SANDBOX_EXEC)) return `sandbox: ${SANDBOX_EXEC} missing (run from a checkout of this project)`;
  return undefined;
}

/** Fails loudly (never skips) when the sandbox cannot run here. */
export function assertSandboxPrerequisites(): void {
  const reason = sandboxUnavailableReason();
  if (reason) throw new Error(reason);
}

/** Host paths of the shared libraries an executable needs (from ldd). */
export function librariesOf(exe: string): string[] {
  const out = execFileSync('ldd', [exe], {encoding: 'utf8'});
  const libs = new Set<string>();
  for (const line of out.split('\n')) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) libs.add(m[1]);
  }
  return [...libs];
}

/** A world-traversable base for sandbox work directories (uid 10001 must reach them). */
export function sandboxTmpBase(): string {
  for (const base of [os.tmpdir(), '/tmp', '/var/tmp']) {
    try {
      const st = fs.statSync(base);
      if (st.isDirectory() && (st.mode & 0o001) !== 0) return base;
    } catch {
      // next
    }
  }
  throw new Error('sandbox: no world-traversable temporary directory (os.tmpdir(), /tmp, /var/tmp)');
}

let cgroupSeq = 0;

interface SandboxCgroups {
  procsFiles: string[];
  binds: Bind[];
  cleanup(): void;
}

/** Creates memory+pids limited cgroups (v1 or v2) for one sandbox run, nested under this process's own. */
export function createSandboxCgroups(memoryBytes = 512 * 1024 * 1024, pidsMax = 512): SandboxCgroups {
  const name = `posture-sandbox-${process.pid}-${++cgroupSeq}`;
  const lines = fs
    .readFileSync('/proc/self/cgroup', 'utf8')
    .trim()
    .split('\n')
    .map(l => {
      const [, , ctrls, p] = /^(\d+):([^:]*):(.*)$/.exec(l) ?? [];
      return {ctrls: (ctrls ?? '').split(','), path: p ?? '/'};
    });
  const dirs: string[] = [];
  const binds: Bind[] = [];
  const v1 = ['memory', 'pids'].every(c => lines.some(l => l.ctrls.includes(c)) && fs.existsSync(`/sys/fs/cgroup/${c}`));
  if (v1) {
    for (const c of ['memory', 'pids']) {
      const line = lines.find(l => l.ctrls.includes(c))!;
      const dir = path.join(`/sys/fs/cgroup/${c}`, line.path, name);
      fs.mkdirSync(dir);
      dirs.push(dir);
      if (c === 'memory') fs.writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(memoryBytes));
      else fs.writeFileSync(path.join(dir, 'pids.max'), String(pidsMax));
      binds.push({src: dir, dest: `/sys/fs/cgroup/${c}`, ro: true});
    }
  } else {
    if (!fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) throw new Error('sandbox: no usable cgroup v1 memory/pids or cgroup v2 hierarchy');
    const sub = '/sys/fs/cgroup/cgroup.subtree_control';
    const enabled = fs.readFileSync(sub, 'utf8');
    for (const c of ['memory', 'pids']) if (!enabled.split(/\s+/).includes(c)) fs.writeFileSync(sub, `+${c}`);
    const dir = path.join('/sys/fs/cgroup', name);
    fs.mkdirSync(dir);
    dirs.push(dir);
    fs.writeFileSync(path.join(dir, 'memory.max'), String(memoryBytes));
    fs.writeFileSync(path.join(dir, 'pids.max'), String(pidsMax));
    binds.push({src: dir, dest: '/sys/fs/cgroup', ro: true});
  }
  return {
    procsFiles: dirs.map(d => path.join(d, 'cgroup.procs')),
    binds,
    cleanup: () => {
      for (const d of dirs) {
        try {
          fs.rmdirSync(d);
        } catch {
          // still busy: the processes are gone a moment later; rmdir again
          try {
            execFileSync('sh', ['-c', `for i in 1 2 3 4 5 6 7 8 9 10; do rmdir "${d}" 2>/dev/null && exit 0; sleep 0.2; done; exit 0`]);
          } catch {
            // best effort
          }
        }
      }
    },
  };
}

export class Sandbox {
  readonly child: ChildProcess;
  /** Host pid of the sandbox's pid-1 (from bwrap --info-fd); resolves once bwrap reports it. */
  readonly childPid: Promise<number>;
  readonly done: Promise<SandboxResult>;
  private stdoutText = '';
  private stderrText = '';
  private readonly cleanups: (() => void)[] = [];

  constructor(readonly opts: SandboxOptions) {
    const work = fs.mkdtempSync(path.join(sandboxTmpBase(), 'posture-sandbox-'));
    fs.chmodSync(work, 0o755);
    const stageDir = path.join(work, 'stage');
    fs.mkdirSync(stageDir, {mode: 0o755});
    const prebinds: string[] = [];
    let staged = 0;
    /** A path uid 10001 can reach for `src`: itself under system directories, else a root-made bind. */
    const reachable = (src: string): string => {
      if (/^\/(usr|lib|lib64|bin|sbin|sys)\//.test(src)) return src;
      const st = fs.statSync(src);
      const stage = path.join(stageDir, String(++staged));
      if (st.isDirectory()) fs.mkdirSync(stage, {mode: 0o755});
      else fs.writeFileSync(stage, '', {mode: 0o644});
      prebinds.push(`${src}\t${stage}`);
      return stage;
    };
    this.cleanups.push(() => fs.rmSync(work, {recursive: true, force: true}));
    const tmpfsDir = path.join(work, 'tmp');
    fs.mkdirSync(tmpfsDir);
    const etc = path.join(work, 'etc');
    fs.mkdirSync(etc);
    fs.writeFileSync(path.join(etc, 'passwd'), 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:10001:10001:nonroot:/home/nonroot:/sbin/nologin\n');
    fs.writeFileSync(path.join(etc, 'group'), 'root:x:0:\nnonroot:x:10001:\n');
    fs.writeFileSync(path.join(etc, 'hosts'), '127.0.0.1 localhost\n::1 localhost\n');

    let cg: SandboxCgroups | undefined;
    if (opts.cgroupLimits !== false) {
      cg = createSandboxCgroups();
      this.cleanups.push(() => cg!.cleanup());
    }

    const user = opts.user ?? 'nonroot';
    const args: string[] = [];
    if (user !== 'root') args.push('--unshare-user');
    args.push('--unshare-ipc', '--unshare-uts', '--unshare-cgroup', '--hostname', 'posture-sandbox');
    if (!opts.hostPid) args.push('--unshare-pid');
    if (!opts.hostNet) args.push('--unshare-net');
    args.push('--die-with-parent', '--new-session', '--clearenv');
    if (user === 'nonroot') args.push('--uid', '10001', '--gid', '10001');
    else if (user === 'root-userns') args.push('--uid', '0', '--gid', '0');
    if (user === 'root') args.push('--cap-drop', 'ALL');
    for (const c of opts.capAdd ?? []) args.push('--cap-add', c);

    const exes = [SANDBOX_NODE, ...(opts.executables ?? [])];
    const files = new Map<string, string>(); // dest -> src
    for (const exe of exes) {
      files.set(exe, fs.realpathSync(exe));
      for (const lib of librariesOf(exe)) files.set(lib, fs.realpathSync(lib));
    }
    for (const [dest, src] of files) args.push('--ro-bind', reachable(src), dest);
    args.push(
      '--ro-bind',
      path.join(etc, 'passwd'),
      '/etc/passwd',
      '--ro-bind',
      path.join(etc, 'group'),
      '/etc/group',
      '--ro-bind',
      path.join(etc, 'hosts'),
      '/etc/hosts',
    );
    for (const p of ['dist', 'node_modules', 'package.json']) args.push('--ro-bind', reachable(path.join(REPO_ROOT, p)), `${APP_DIR}/${p}`);
    if (opts.hostPid) args.push('--ro-bind', '/proc', '/proc');
    else args.push('--proc', '/proc');
    args.push('--dev', '/dev', '--remount-ro', '/dev');
    args.push('--bind', tmpfsDir, '/tmp');
    for (const b of cg?.binds ?? []) args.push('--ro-bind', b.src, b.dest);
    for (const b of opts.binds ?? []) args.push(b.ro === false ? '--bind' : '--ro-bind', reachable(b.src), b.dest);
    for (const [k, v] of Object.entries({PATH: '/usr/bin:/bin', HOME: '/home/nonroot', ...(opts.env ?? {})})) args.push('--setenv', k, v);
    args.push('--chdir', APP_DIR);
    if (!opts.writableRoot) args.push('--remount-ro', '/');

    const stdio: ('ignore' | 'pipe' | number)[] = ['ignore', 'pipe', 'pipe'];
    if (opts.seccomp !== false) {
      const bpfFile = path.join(work, 'seccomp.bpf');
      fs.writeFileSync(bpfFile, buildSeccompFilter());
      const fd = fs.openSync(bpfFile, 'r');
      this.cleanups.push(() => fs.closeSync(fd));
      stdio.push(fd);
      args.push('--seccomp', '3');
    } else {
      stdio.push('ignore');
    }
    stdio.push('pipe');
    args.push('--info-fd', '4');
    args.push('--', ...opts.command);

    const mode = user === 'root' ? 'keep-root' : 'drop';
    this.child = spawn(
      'unshare',
      ['--mount', '--propagation', 'private', '--', 'sh', SANDBOX_EXEC, tmpfsDir, (cg?.procsFiles ?? []).join(':'), mode, '--', ...args],
      {stdio, env: {...process.env, SANDBOX_PREBINDS: prebinds.join('\n')}},
    );
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdoutText += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderrText += d));
    const info = this.child.stdio[4] as NodeJS.ReadableStream;
    this.childPid = new Promise((resolve, reject) => {
      let text = '';
      info.setEncoding('utf8');
      info.on('data', (d: string) => {
        text += d;
        const m = /"child-pid":\s*(\d+)/.exec(text);
        if (m) resolve(Number(m[1]));
      });
      info.on('end', () => reject(new Error(`bwrap reported no child pid; stderr: ${this.stderrText}`)));
      info.on('error', reject);
    });
    this.childPid.catch(() => undefined);
    this.done = new Promise(resolve => {
      this.child.on('close', (code, signal) => {
        for (const c of this.cleanups.reverse()) {
          try {
            c();
          } catch {
            // best effort
          }
        }
        resolve({code, signal, stdout: this.stdoutText, stderr: this.stderrText});
      });
    });
  }

  get stdout(): string {
    return this.stdoutText;
  }

  get stderr(): string {
    return this.stderrText;
  }

  /** Resolves when `pred(stdout)` holds; rejects if the sandbox exits first. */
  waitFor(pred: (stdout: string) => boolean, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (pred(this.stdoutText)) {
          cleanup();
          resolve();
        }
      };
      const onClose = () => {
        cleanup();
        if (pred(this.stdoutText)) resolve();
        else reject(new Error(`sandbox exited before ${what}; stdout: ${this.stdoutText.slice(-4000)}; stderr: ${this.stderrText.slice(-4000)}`));
      };
      const cleanup = () => {
        this.child.stdout!.off('data', check);
        this.child.off('close', onClose);
      };
      this.child.stdout!.on('data', check);
      this.child.on('close', onClose);
      check();
    });
  }

  /** Runs a host command inside the sandbox's network namespace only (nsenter -n). */
  async inNetns(cmd: string[], env: Record<string, string> = {}): Promise<SandboxResult> {
    const pid = await this.childPid;
    return runToEnd('nsenter', ['-t', String(pid), '-n', '--', ...cmd], env);
  }

  async stop(): Promise<SandboxResult> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    return this.done;
  }
}

export function runToEnd(cmd: string, args: string[], env: Record<string, string> = {}): Promise<SandboxResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, ...env}});
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    c.on('error', reject);
    c.on('close', (code, signal) => resolve({code, signal, stdout, stderr}));
  });
}

/** Runs a command in a sandbox to completion. */
export function runInSandbox(opts: SandboxOptions): Promise<SandboxResult> {
  return new Sandbox(opts).done;
}

/**
 * Runtime cases (vector `runtime`): probes that must run INSIDE the target.
 *
 * - RT-001 … RT-023 are answered by the posture module (src/posture): each case passes when every
 *   blocking (high/medium) posture finding whose `covers` names it is ok, and at least one does.
 * - HM-RT-001 ("still holds for a child process the service spawns"): a child started with
 *   `process.execPath -e` reads its own /proc/self/status; uid/gid must be non-zero, CapEff/CapPrm/
 *   CapAmb zero, NoNewPrivs 1 and Seccomp 2 (all inherited across fork/exec).
 *
 * Modes: `sandbox` (the local target's default: `runtime-probe.js` runs inside the hardened
 * bubblewrap sandbox of src/posture/sandbox — uid 10001, read-only root, no capabilities,
 * no_new_privs, seccomp filter, private namespaces — with the built tree at /app, the way the
 * image runs it; needs root and bubblewrap, and when they are missing every runtime case FAILS
 * with a message saying how to install them); `in-process` (judge the runner's own process:
 * only meaningful when the runner itself runs inside the hardened runtime); `exec` (a command that runs
 * `node dist/src/escape/runtime-probe.js` inside the target, e.g. `podman exec CONTAINER node
 * /app/dist/src/escape/runtime-probe.js`; the probe prints JSON); `none` (not applicable).
 * Fail closed: a probe that cannot run or prints garbage fails every runtime case.
 */
import {execFile, execFileSync, spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {runPostureCheck} from '../posture/posture-io';
import type {EscapeCase} from './catalog';
import type {RuntimeFindingView, RuntimeObservation, Observation} from './verdict';

export type RuntimeOptions =
  | {mode: 'sandbox'; timeoutMs?: number}
  | {mode: 'in-process'}
  | {mode: 'exec'; command: string[]; timeoutMs?: number}
  /** Library use: any way of running runtime-probe.js inside the target (e.g. a sandbox runner). */
  | {mode: 'function'; where: string; run: () => Promise<RuntimeProbeOutput>}
  | {mode: 'none'};

/** Structural view of src/posture's PostureReport. */
export interface PostureReportView {
  compliant: boolean;
  findings: Array<{id: string; ok: boolean; status?: string; severity: string; detail: string; covers: string[]}>;
}

/** One attempt of the syscall probe (syscall-probe/syscall-probe.c): errno 0 = the call worked, -1 = no answer. */
export interface SyscallAttempt {
  name: string;
  covers: string;
  errno: number;
  error: string;
}

export interface SyscallProbeResult {
  attempts: SyscallAttempt[];
}

export interface ChildProbeResult {
  findings: RuntimeFindingView[];
}

/** What runtime-probe.js prints. */
export interface RuntimeProbeOutput {
  tool: 'escape-runtime-probe';
  posture: PostureReportView | {error: string};
  child: ChildProbeResult | {error: string};
  /** The syscall probe's attempts (RT-013, RT-014), or why it could not run. */
  syscalls?: SyscallProbeResult | {error: string};
}

// ---------------------------------------------------------------------------------------------
// syscall probe: a static binary the harness mounts into the target (never part of the image)

/** Where runtime-probe.js looks for the syscall probe inside the target (ESCAPE_SYSCALL_PROBE overrides). */
export const SYSCALL_PROBE_PATH = '/escape-probe/syscall-probe';
/** The probe's C source in a checkout (dist/src/escape/../../../src/escape/syscall-probe). */
export const SYSCALL_PROBE_SOURCE = path.resolve(__dirname, '..', '..', '..', 'src', 'escape', 'syscall-probe', 'syscall-probe.c');

/** EPERM or ENOSYS: the primitive is not available (the filter or a missing capability said no). */
export function syscallBlocked(errno: number): boolean {
  return errno === 1 || errno === 38;
}

/**
 * Compiles the probe (`cc -static`) into `outDir` and returns the binary's path. Throws (fail
 * loudly) when no C compiler / static libc is installed (.ci/install-system-deps.sh: gcc libc6-dev).
 */
export function buildSyscallProbe(outDir: string = fs.mkdtempSync(path.join(os.tmpdir(), 'escape-syscall-probe-'))): string {
  const out = path.join(outDir, 'syscall-probe');
  try {
    execFileSync('cc', ['-static', '-O2', '-o', out, SYSCALL_PROBE_SOURCE], {stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000});
  } catch (e) {
    throw new Error(
      `cannot build the syscall probe (cc -static ${SYSCALL_PROBE_SOURCE}): ${(e as Error).message.split('\n')[0]}; install gcc and libc6-dev`,
      {cause: e},
    );
  }
  fs.chmodSync(outDir, 0o755);
  fs.chmodSync(out, 0o755);
  return out;
}

function parseSyscallProbe(text: string): SyscallProbeResult {
  const j = JSON.parse(text) as {tool?: string; attempts?: unknown; error?: string};
  if (j?.tool !== 'escape-syscall-probe') throw new Error('not syscall-probe output');
  if (typeof j.error === 'string') throw new Error(j.error);
  if (!Array.isArray(j.attempts) || j.attempts.length === 0) throw new Error('syscall-probe output without attempts');
  for (const a of j.attempts as SyscallAttempt[]) {
    if (typeof a?.name !== 'string' || typeof a.covers !== 'string' || !Number.isInteger(a.errno) || typeof a.error !== 'string')
      throw new Error('malformed syscall attempt');
  }
  return {attempts: j.attempts as SyscallAttempt[]};
}

/** Runs the mounted syscall probe (in THIS process's target). */
export function runSyscallProbe(probePath = process.env.ESCAPE_SYSCALL_PROBE || SYSCALL_PROBE_PATH, timeoutMs = 60_000): Promise<SyscallProbeResult> {
  return new Promise((resolve, reject) => {
    if (!fs.existsSync(probePath))
      return reject(
        new Error(`the syscall probe is not mounted at ${probePath} (the harness bind-mounts it; see docs: escape suite against a deployment)`),
      );
    execFile(probePath, [], {timeout: timeoutMs, maxBuffer: 1024 * 1024, env: {}}, (err, stdout) => {
      try {
        resolve(parseSyscallProbe(stdout));
      } catch (e) {
        reject(new Error(`syscall probe: ${(e as Error).message}${err ? ` (${err.message.split('\n')[0]})` : ''}`));
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// child-process probe (pure evaluation + spawn)

function statusFields(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return m;
}

/** Judges a child's /proc/self/status text and ids. Pure; missing fields fail. */
export function evaluateChildStatus(status: string, uid: number, gid: number): RuntimeFindingView[] {
  const f = statusFields(status);
  const ids = (k: string) => (f.get(k) ?? '').split(/\s+/).filter(Boolean).map(Number);
  const out: RuntimeFindingView[] = [];
  const u = ids('Uid');
  out.push({
    id: 'child-uid-non-root',
    severity: 'high',
    ok: u.length === 4 && !u.includes(0) && uid !== 0,
    detail: `uid ${uid}; Uid ${u.join('/') || 'missing'}`,
  });
  const g = ids('Gid');
  out.push({
    id: 'child-gid-non-root',
    severity: 'high',
    ok: g.length === 4 && !g.includes(0) && gid !== 0,
    detail: `gid ${gid}; Gid ${g.join('/') || 'missing'}`,
  });
  for (const cap of ['CapEff', 'CapPrm', 'CapAmb']) {
    const v = f.get(cap);
    out.push({id: `child-${cap.toLowerCase()}-empty`, severity: 'high', ok: v !== undefined && /^0+$/.test(v), detail: `${cap} ${v ?? 'missing'}`});
  }
  const nnp = f.get('NoNewPrivs');
  out.push({id: 'child-no-new-privs', severity: 'high', ok: nnp === '1', detail: `NoNewPrivs ${nnp ?? 'missing'}`});
  const sc = f.get('Seccomp');
  out.push({id: 'child-seccomp-filter', severity: 'high', ok: sc === '2', detail: `Seccomp ${sc ?? 'missing'}`});
  return out;
}

const CHILD_SCRIPT =
  "const fs=require('fs');process.stdout.write(JSON.stringify({status:fs.readFileSync('/proc/self/status','utf8'),uid:process.getuid(),gid:process.getgid()}))";

/** Spawns `process.execPath -e` (a child of this process) and judges what it sees. */
export function probeChildProcess(timeoutMs = 10_000): Promise<ChildProbeResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CHILD_SCRIPT], {stdio: ['ignore', 'pipe', 'pipe'], env: {}});
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', e => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', code => {
      clearTimeout(timer);
      try {
        if (code !== 0) throw new Error(`child exited ${String(code)}: ${err.trim().slice(0, 200)}`);
        const j = JSON.parse(out) as {status: string; uid: number; gid: number};
        resolve({findings: evaluateChildStatus(j.status, j.uid, j.gid)});
      } catch (e) {
        reject(e);
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// posture (src/posture: the same check the service runs at start-up)

type PostureFn = () => PostureReportView;

/** Everything the runtime cases need, gathered in THIS process (used by runtime-probe.js too). */
export async function gatherRuntimeProbe(posture?: PostureFn): Promise<RuntimeProbeOutput> {
  let p: RuntimeProbeOutput['posture'];
  try {
    p = (posture ?? (() => runPostureCheck()))();
  } catch (e) {
    p = {error: `posture check unavailable: ${(e as Error).message.split('\n')[0]}`};
  }
  let child: RuntimeProbeOutput['child'];
  try {
    child = await probeChildProcess();
  } catch (e) {
    child = {error: `child-process probe failed: ${(e as Error).message.split('\n')[0]}`};
  }
  let syscalls: RuntimeProbeOutput['syscalls'];
  try {
    syscalls = await runSyscallProbe();
  } catch (e) {
    syscalls = {error: (e as Error).message.split('\n')[0]};
  }
  return {tool: 'escape-runtime-probe', posture: p, child, syscalls};
}

/** Parses and shape-checks runtime-probe.js output (fail closed on anything else). */
export function parseProbeOutput(text: string): RuntimeProbeOutput {
  const j = JSON.parse(text) as RuntimeProbeOutput;
  if (j?.tool !== 'escape-runtime-probe' || typeof j.posture !== 'object' || typeof j.child !== 'object' || !j.posture || !j.child) {
    throw new Error('not runtime-probe output');
  }
  if (
    !('error' in j.posture) &&
    !(
      Array.isArray(j.posture.findings) &&
      j.posture.findings.every(f => typeof f.id === 'string' && typeof f.ok === 'boolean' && Array.isArray(f.covers))
    )
  ) {
    throw new Error('runtime-probe output: malformed posture findings');
  }
  if (
    !('error' in j.child) &&
    !(Array.isArray(j.child.findings) && j.child.findings.every(f => typeof f.id === 'string' && typeof f.ok === 'boolean'))
  ) {
    throw new Error('runtime-probe output: malformed child findings');
  }
  if (
    j.syscalls !== undefined &&
    !(
      typeof j.syscalls === 'object' &&
      j.syscalls !== null &&
      ('error' in j.syscalls
        ? typeof j.syscalls.error === 'string'
        : Array.isArray(j.syscalls.attempts) &&
          j.syscalls.attempts.every(a => typeof a?.name === 'string' && typeof a.covers === 'string' && Number.isInteger(a.errno)))
    )
  ) {
    throw new Error('runtime-probe output: malformed syscall attempts');
  }
  return j;
}

function runExec(command: string[], timeoutMs: number): Promise<RuntimeProbeOutput> {
  return new Promise((resolve, reject) => {
    if (command.length === 0) return reject(new Error('empty --runtime-exec command'));
    execFile(command[0], command.slice(1), {timeout: timeoutMs, maxBuffer: 8 * 1024 * 1024}, (err, stdout) => {
      // The probe exits 1 when something is not compliant; its JSON is still the answer.
      try {
        resolve(parseProbeOutput(stdout));
      } catch {
        reject(new Error(err ? `${err.message.split('\n')[0]}` : 'the command did not print runtime-probe JSON'));
      }
    });
  });
}

export const SANDBOX_WHERE = 'sandbox (bubblewrap: uid 10001, read-only root, no capabilities, no_new_privs, seccomp filter, private namespaces)';

/** Runs runtime-probe.js inside the hardened bubblewrap sandbox (src/posture/sandbox). Fails closed. */
export async function runProbeInSandbox(timeoutMs = 120_000): Promise<RuntimeProbeOutput> {
  // Loaded on demand: inside an image (exec mode) the sandbox module is never needed.
  const sb = await import('../posture/sandbox/sandbox');
  const reason = sb.sandboxUnavailableReason();
  if (reason)
    throw new Error(`runtime probe cannot run in the hardened sandbox: ${reason}; or run the probe inside the target with --runtime exec:"COMMAND"`);
  const probeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'escape-syscall-probe-'));
  let r: Awaited<InstanceType<typeof sb.Sandbox>['done']>;
  try {
    const probe = buildSyscallProbe(probeDir);
    const box = new sb.Sandbox({
      command: [sb.SANDBOX_NODE, `${sb.APP_DIR}/dist/src/escape/runtime-probe.js`],
      env: {NODE_ENV: 'production'},
      binds: [{src: probe, dest: SYSCALL_PROBE_PATH, ro: true}],
    });
    const timer = setTimeout(() => void box.stop(), timeoutMs);
    r = await box.done;
    clearTimeout(timer);
  } finally {
    fs.rmSync(probeDir, {recursive: true, force: true});
  }
  try {
    return parseProbeOutput(r.stdout);
  } catch (e) {
    throw new Error(
      `runtime probe in the sandbox: ${(e as Error).message}; exit ${String(r.code ?? r.signal)}; stderr: ${r.stderr.trim().slice(-1000)}`,
      {cause: e},
    );
  }
}

/** Maps the probe output onto the runtime cases. */
export function observeRuntime(cases: readonly EscapeCase[], out: RuntimeProbeOutput, where: string): Map<string, RuntimeObservation> {
  const obs = new Map<string, RuntimeObservation>();
  for (const c of cases) {
    const r = c.runtime!;
    if ('covers' in r) {
      if ('error' in out.posture) {
        obs.set(c.id, {kind: 'runtime', where, findings: [], error: out.posture.error});
        continue;
      }
      const posture = out.posture.findings.filter(f => f.covers.includes(r.covers));
      const attempts = out.syscalls && !('error' in out.syscalls) ? out.syscalls.attempts.filter(a => a.covers === r.covers) : [];
      // What the posture check could not prove (a seccomp filter's rules) the syscall probe
      // proves or disproves by trying: the unproven finding is replaced by the real errnos.
      const findings = posture
        .filter(f => !(f.status === 'unproven' && attempts.length > 0))
        .map(f => ({id: f.id, ok: f.ok, severity: f.severity, detail: f.status === 'unproven' ? `unproven: ${f.detail}` : f.detail}));
      for (const a of attempts) {
        findings.push({
          id: `syscall ${a.name}`,
          ok: syscallBlocked(a.errno),
          severity: 'high',
          detail: `${a.name} -> ${a.errno === 0 ? 'succeeded' : a.errno < 0 ? 'no answer' : a.error}`,
        });
      }
      if (posture.some(f => f.status === 'unproven') && attempts.length === 0) {
        findings.push({
          id: 'syscall-probe',
          ok: false,
          severity: 'high',
          detail: `not proven by an attempt: ${out.syscalls && 'error' in out.syscalls ? out.syscalls.error : 'no syscall probe output'}`,
        });
      }
      obs.set(c.id, {kind: 'runtime', where, findings});
    } else if ('error' in out.child) {
      obs.set(c.id, {kind: 'runtime', where, findings: [], error: out.child.error});
    } else {
      obs.set(c.id, {kind: 'runtime', where, findings: out.child.findings});
    }
  }
  return obs;
}

export async function runRuntimeCases(cases: readonly EscapeCase[], opts: RuntimeOptions): Promise<Map<string, Observation>> {
  const result = new Map<string, Observation>();
  if (opts.mode === 'none') {
    for (const c of cases)
      result.set(c.id, {
        kind: 'not-run',
        reason:
          'runtime probes must run inside the target: give --runtime exec:"COMMAND" (e.g. podman exec CONTAINER node /app/dist/src/escape/runtime-probe.js)',
      });
    return result;
  }
  const where =
    opts.mode === 'in-process'
      ? "in-process (the runner's own process)"
      : opts.mode === 'sandbox'
        ? SANDBOX_WHERE
        : opts.mode === 'exec'
          ? `exec: ${opts.command.join(' ')}`
          : opts.where;
  let out: RuntimeProbeOutput;
  try {
    if (opts.mode === 'in-process') out = await gatherRuntimeProbe();
    else if (opts.mode === 'sandbox') out = await runProbeInSandbox(opts.timeoutMs);
    else if (opts.mode === 'exec') out = await runExec(opts.command, opts.timeoutMs ?? 120_000);
    else out = parseProbeOutput(JSON.stringify(await opts.run()));
  } catch (e) {
    for (const c of cases) result.set(c.id, {kind: 'runtime', where, findings: [], error: (e as Error).message});
    return result;
  }
  for (const [id, o] of observeRuntime(cases, out, where)) result.set(id, o);
  return result;
}

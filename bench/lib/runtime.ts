/**
 * The I/O side of the bench: pinned child processes, /proc sampling, wrk + shim, probes, the
 * OCSP responder. Everything started here is tracked and ended by its own handle.
 */
import {ChildProcess, execFile, execFileSync, spawn} from 'node:child_process';
import {once} from 'node:events';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {performance} from 'node:perf_hooks';
import {parseProcStatCpuTicks, parseProcStatusRssBytes, parseWrkOutput} from './stats';
import type {MachineInfo, WrkResult} from './types';
import type {ServerCounters} from '../servers/instrument';

export const BENCH_DIST = path.resolve(__dirname, '..');
export const PROJECT_ROOT = path.resolve(BENCH_DIST, '..', '..');
export const BENCH_SRC = path.join(PROJECT_ROOT, 'bench');
export const INSTRUMENT_JS = path.join(BENCH_DIST, 'servers', 'instrument.js');
export const SERVICE_JS = path.join(PROJECT_ROOT, 'dist', 'src', 'index.js');

export const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms));

let clkTckCache: number | undefined;
export function clkTck(): number {
  if (clkTckCache === undefined) {
    try {
      clkTckCache = Number(execFileSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).trim()) || 100;
    } catch {
      clkTckCache = 100;
    }
  }
  return clkTckCache;
}

/** utime+stime of a process (all threads), in µs. */
export function cpuUsOf(pid: number): number {
  return (parseProcStatCpuTicks(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')) * 1e6) / clkTck();
}

/** utime+stime of a process and all its descendants still running (e.g. forked load workers), in µs. */
export function cpuTreeUs(pid: number): number {
  let total = cpuUsOf(pid);
  let children: string[] = [];
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      children = children.concat(fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
    }
  } catch {
    return total;
  }
  for (const c of children) {
    try {
      total += cpuTreeUs(Number(c));
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

export function rssOf(pid: number): number {
  return parseProcStatusRssBytes(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
}

function tryExec(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']}).trim();
  } catch (e) {
    const out = e as {stdout?: string; stderr?: string};
    return `${out.stdout ?? ''}${out.stderr ?? ''}`.trim();
  }
}

export function requireTool(cmd: string, hint: string): void {
  const found = tryExec('sh', ['-c', `command -v ${cmd}`]);
  if (!found) throw new Error(`${cmd} not found: ${hint}`);
}

export function machineInfo(serverCpu: number, loadCpu: number): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpus: cpus.length,
    memTotalBytes: os.totalmem(),
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    openssl: process.versions.openssl,
    wrk: (tryExec('wrk', ['--version']).split('\n')[0] ?? 'wrk').replace(/\s+Copyright.*$/, ''),
    loadAvgAtStart: os.loadavg(),
    serverCore: String(serverCpu),
    loadCore: String(loadCpu),
    clkTck: clkTck(),
  };
}

/** Build the LD_PRELOAD client-certificate shim with the machine's C compiler. */
export function buildShim(outDir: string): string {
  const src = path.join(BENCH_SRC, 'shim', 'client-cert-shim.c');
  const out = path.join(outDir, 'client-cert-shim.so');
  const cc = process.env.CC ?? 'cc';
  try {
    execFileSync(cc, ['-shared', '-fPIC', '-O2', '-Wall', '-o', out, src, '-ldl'], {stdio: ['ignore', 'pipe', 'pipe']});
  } catch (e) {
    throw new Error(`cannot build the wrk client-certificate shim with ${cc}: ${(e as {stderr?: Buffer}).stderr?.toString() ?? String(e)}`, {
      cause: e,
    });
  }
  return out;
}

/** Build the handshake-only client (bench/shim/handshake-client.c) with the machine's C compiler. */
export function buildHandshakeClient(outDir: string): string {
  const src = path.join(BENCH_SRC, 'shim', 'handshake-client.c');
  const out = path.join(outDir, 'handshake-client');
  const cc = process.env.CC ?? 'cc';
  try {
    execFileSync(cc, ['-O2', '-Wall', '-o', out, src, '-ldl'], {stdio: ['ignore', 'pipe', 'pipe']});
  } catch (e) {
    throw new Error(`cannot build the handshake client with ${cc}: ${(e as {stderr?: Buffer}).stderr?.toString() ?? e}`, {cause: e});
  }
  return out;
}

export interface HandshakeClientSpec {
  binary: string;
  port: number;
  durationS: number;
  workers: number;
  cpu: number;
  clientChain: string;
  clientKey: string;
  caFile: string;
  /** A TCP close after the client's close_notify counts as orderly (nginx never sends close_notify back). */
  acceptEof?: boolean;
}

/**
 * Full mTLS handshakes, no HTTP, pinned to the load CPU. The result has wrk's shape: requests =
 * attempts, responses = good handshakes (server chain verified and an orderly close answered
 * with the server's close_notify), errors.connect = TCP connect failures, errors.write = failed
 * handshakes, errors.read = closes without close_notify (a refusal after the handshake).
 */
export function startHandshakeClient(spec: HandshakeClientSpec): WrkRun {
  const child = spawn(
    'taskset',
    ['-c', String(spec.cpu), spec.binary, '127.0.0.1', String(spec.port), String(spec.durationS), String(spec.workers)],
    {
      env: {
        PATH: process.env.PATH,
        BENCH_CLIENT_CERT: spec.clientChain,
        BENCH_CLIENT_KEY: spec.clientKey,
        BENCH_CA_FILE: spec.caFile,
        BENCH_ACCEPT_EOF: spec.acceptEof ? '1' : '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), (spec.durationS + 60) * 1000);
  const done = once(child, 'exit').then(([code]) => {
    clearTimeout(killer);
    try {
      return parseWrkOutput(out);
    } catch {
      throw new Error(`handshake client failed (exit ${code}): ${err.trim() || out.trim()}`);
    }
  });
  return {pid: child.pid!, done, stop: () => child.kill('SIGINT')};
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>(r => srv.close(() => r()));
  return port;
}

// ------------------------------------------------------------------------------------------
// servers

export interface ServerSample {
  at: number;
  cpuUs: number;
  counters: ServerCounters;
  eldMaxMs: number;
  /** Longest event-loop gap counted only as far as this process used CPU in it (excludes preemption). */
  cpuBlockMaxMs: number;
  reloads?: {count: number; lastMs: number; lastOk: boolean};
  memory: NodeJS.MemoryUsage;
}

export interface ServerSpec {
  name: string;
  script: string;
  env: NodeJS.ProcessEnv;
  cpu: number;
  /** Where the server's stdout (logs, audit lines) goes. */
  logFile: string;
  nodeArgs?: string[];
  startTimeoutMs?: number;
}

export interface ServerHandle {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  readonly child: ChildProcess;
  sample(): Promise<ServerSample>;
  resetEld(): void;
  signal(sig: NodeJS.Signals): void;
  stop(): Promise<void>;
  stderrTail(): string;
}

export async function startServer(spec: ServerSpec): Promise<ServerHandle> {
  const logFd = fs.openSync(spec.logFile, 'a');
  const child = spawn('taskset', ['-c', String(spec.cpu), process.execPath, ...(spec.nodeArgs ?? []), '--require', INSTRUMENT_JS, spec.script], {
    env: spec.env,
    cwd: PROJECT_ROOT,
    stdio: ['ignore', logFd, 'pipe', 'ipc'],
  });
  fs.closeSync(logFd);
  const stderr: string[] = [];
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    stderr.push(d);
    if (stderr.length > 200) stderr.shift();
  });
  const exited = once(child, 'exit');
  let nextId = 1;
  const pending = new Map<number, (m: Record<string, unknown>) => void>();
  let onListening: ((port: number) => void) | undefined;
  child.on('message', (m: Record<string, unknown>) => {
    if (m.type === 'listening') onListening?.(m.port as number);
    else if (m.type === 'sample') {
      const r = pending.get(m.id as number);
      pending.delete(m.id as number);
      r?.(m);
    }
  });
  const stderrTail = () => stderr.join('').split('\n').slice(-25).join('\n');
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${spec.name} did not listen within ${spec.startTimeoutMs ?? 120000} ms\n${stderrTail()}`));
    }, spec.startTimeoutMs ?? 120000);
    onListening = p => {
      clearTimeout(t);
      resolve(p);
    };
    void exited.then(([code, sig]) => {
      clearTimeout(t);
      reject(new Error(`${spec.name} exited (${code ?? sig}) before listening\n${stderrTail()}`));
    });
  });
  const pid = child.pid!;
  return {
    name: spec.name,
    pid,
    port,
    url: `https://127.0.0.1:${port}`,
    child,
    stderrTail,
    async sample() {
      const id = nextId++;
      const reply = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const t = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${spec.name}: no sample reply`));
        }, 30000);
        pending.set(id, m => {
          clearTimeout(t);
          resolve(m);
        });
        child.send({type: 'sample', id});
      });
      return {
        at: performance.now(),
        cpuUs: cpuUsOf(pid),
        counters: reply.counters as ServerCounters,
        eldMaxMs: reply.eldMaxMs as number,
        cpuBlockMaxMs: reply.cpuBlockMaxMs as number,
        memory: reply.memory as NodeJS.MemoryUsage,
        ...(reply.reloads ? {reloads: reply.reloads as ServerSample['reloads']} : {}),
      };
    },
    resetEld() {
      child.send({type: 'reset-eld'});
    },
    signal(sig) {
      child.kill(sig);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15000);
      await exited.catch(() => undefined);
      clearTimeout(t);
    },
  };
}

// ------------------------------------------------------------------------------------------
// probes (Node https client with the client certificate)

export interface ClientCreds {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export function probe(
  url: string,
  creds: ClientCreds,
  opts: {method?: string; path?: string; body?: Buffer; contentType?: string} = {},
): Promise<{status: number; body: string}> {
  return new Promise((resolve, reject) => {
    const u = new URL(opts.path ?? '/whoami', url);
    const req = https.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: opts.method ?? 'GET',
        agent: false,
        ca: creds.ca,
        cert: creds.cert,
        key: creds.key,
        minVersion: 'TLSv1.3',
        headers: opts.body ? {'content-type': opts.contentType ?? 'application/json', 'content-length': opts.body.length} : {},
        timeout: 30000,
      },
      res => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8')}));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('probe timeout')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

// ------------------------------------------------------------------------------------------
// wrk

export interface WrkSpec {
  url: string;
  path: string;
  method: 'GET' | 'POST';
  bodyFile?: string;
  expectFile: string;
  connections: number;
  durationS: number;
  close: boolean;
  cpu: number;
  shim: string;
  clientChain: string;
  clientKey: string;
}

export interface WrkRun {
  pid: number;
  done: Promise<WrkResult>;
  stop(): void;
}

export function startWrk(spec: WrkSpec): WrkRun {
  const script = path.join(BENCH_SRC, 'wrk', 'verify.lua');
  const child = spawn(
    'taskset',
    [
      '-c',
      String(spec.cpu),
      'wrk',
      '-t1',
      `-c${spec.connections}`,
      `-d${Math.max(1, Math.ceil(spec.durationS))}s`,
      '--timeout',
      '10s',
      '-s',
      script,
      `${spec.url}${spec.path}`,
    ],
    {
      env: {
        PATH: process.env.PATH,
        LD_PRELOAD: spec.shim,
        BENCH_CLIENT_CERT: spec.clientChain,
        BENCH_CLIENT_KEY: spec.clientKey,
        BENCH_NO_RESUME: spec.close ? '1' : '0',
        BENCH_CLOSE: spec.close ? '1' : '0',
        BENCH_METHOD: spec.method,
        BENCH_PATH: spec.path,
        BENCH_BODY_FILE: spec.bodyFile ?? '',
        BENCH_EXPECT_FILE: spec.expectFile,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const done = once(child, 'exit').then(([code]) => {
    try {
      return parseWrkOutput(out);
    } catch {
      throw new Error(`wrk failed (exit ${code}): ${err.trim() || out.trim()}`);
    }
  });
  return {pid: child.pid!, done, stop: () => child.kill('SIGINT')};
}

// ------------------------------------------------------------------------------------------
// OCSP responder: a loopback-only HTTP listener that answers each request with a real
// `openssl ocsp` run (-reqin/-respout); OpenSSL 3.0's own `-port` binds the wildcard address.

export interface OcspResponder {
  url: string;
  port: number;
  /** Requests answered so far. */
  readonly requests: number;
  stop(): Promise<void>;
}

export async function startOcspResponder(o: {
  dir: string;
  index: string;
  caCert: string;
  signerCert: string;
  signerKey: string;
}): Promise<OcspResponder> {
  let requests = 0;
  let seq = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = ++seq;
      const reqFile = path.join(o.dir, `ocsp-req-${n}.der`);
      const respFile = path.join(o.dir, `ocsp-resp-${n}.der`);
      let body = Buffer.concat(chunks);
      if (req.method === 'GET') {
        const b64 = decodeURIComponent((req.url ?? '/').replace(/^\/+/, ''));
        body = Buffer.from(b64, 'base64');
      }
      fs.writeFileSync(reqFile, body);
      execFile(
        'openssl',
        [
          'ocsp',
          '-index',
          o.index,
          '-CA',
          o.caCert,
          '-rsigner',
          o.signerCert,
          '-rkey',
          o.signerKey,
          '-reqin',
          reqFile,
          '-respout',
          respFile,
          '-nmin',
          '60',
        ],
        err => {
          let resp: Buffer | undefined;
          try {
            resp = err ? undefined : fs.readFileSync(respFile);
          } catch {
            resp = undefined;
          }
          fs.rmSync(reqFile, {force: true});
          fs.rmSync(respFile, {force: true});
          requests++;
          if (!resp) {
            res.writeHead(500).end();
            return;
          }
          res.writeHead(200, {'content-type': 'application/ocsp-response', 'content-length': resp.length}).end(resp);
        },
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    get requests() {
      return requests;
    },
    stop: () =>
      new Promise<void>(r => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

// ------------------------------------------------------------------------------------------
// child probes (section 3/4 micro-measurements)

/** Run a bench probe script pinned to `cpu`; resolves with its JSON result line. */
export async function runProbe(script: string, env: Record<string, string>, cpu: number, nodeArgs: string[] = []): Promise<unknown> {
  const child = spawn('taskset', ['-c', String(cpu), process.execPath, ...nodeArgs, script], {
    env: {...process.env, ...env},
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const [code] = await once(child, 'exit');
  const line = out.split('\n').find(l => l.startsWith('PROBE_RESULT '));
  if (code !== 0 || !line) throw new Error(`${path.basename(script)} failed (exit ${code}): ${err.trim().split('\n').slice(-15).join('\n')}`);
  return JSON.parse(line.slice('PROBE_RESULT '.length));
}

/**
 * Bench-only preload (`node --require dist/bench/servers/instrument.js ...`), loaded into every
 * measured server (a, b and c alike, so each pays the same tiny counting cost). It never changes
 * behaviour; it only counts and reports over the IPC channel the bench opened:
 *  - HTTP requests, TLS connections (secureConnection) and resumed sessions of every https.Server,
 *  - certificate parses: TLSSocket#getPeerCertificate / #getPeerX509Certificate, and
 *    constructions of node:crypto X509Certificate, @peculiar/x509 X509Certificate and
 *    pkijs Certificate (the classes are wrapped in a Proxy with a construct trap, so `instanceof`
 *    keeps working),
 *  - the longest event-loop block (perf_hooks.monitorEventLoopDelay).
 * Messages: {type:'sample', id} -> {type:'sample', id, counters, eldMaxMs, eldP99Ms, cpuBlockMaxMs, memory}
 *           {type:'reset-eld'}   -> resets the event-loop histogram
 * When a server starts listening: {type:'listening', port}.
 * With BENCH_HOOK_RELOAD=1 the service's TLS/CRL reload is timed (samples carry `reloads`).
 */
import 'reflect-metadata';
import {monitorEventLoopDelay, performance} from 'node:perf_hooks';
import type * as HttpModule from 'node:http';
import type * as HttpsModule from 'node:https';
import type * as TlsModule from 'node:tls';

// The real module objects (an `import * as` namespace is a frozen copy under esModuleInterop).
/* eslint-disable @typescript-eslint/no-require-imports */
const crypto = require('node:crypto') as Record<string, unknown>;
const https = require('node:https') as typeof HttpsModule;
const http = require('node:http') as typeof HttpModule;
const tls = require('node:tls') as typeof TlsModule;
/* eslint-enable @typescript-eslint/no-require-imports */

export interface ServerCounters {
  requests: number;
  connections: number;
  resumed: number;
  parses: Record<string, number>;
}

const counters: ServerCounters = {requests: 0, connections: 0, resumed: 0, parses: {}};

function countParse(kind: string): void {
  counters.parses[kind] = (counters.parses[kind] ?? 0) + 1;
}

function wrapClass(holder: Record<string, unknown>, prop: string, kind: string): void {
  const original = holder[prop];
  if (typeof original !== 'function') return;
  holder[prop] = new Proxy(original, {
    construct(target, args, newTarget) {
      countParse(kind);
      return Reflect.construct(target, args, newTarget) as object;
    },
  });
}

function wrapMethod(proto: Record<string, unknown>, name: string, kind: string): void {
  const original = proto[name];
  if (typeof original !== 'function') return;
  proto[name] = function (this: unknown, ...args: unknown[]) {
    countParse(kind);
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  };
}

function tryRequire(id: string): Record<string, unknown> | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(id) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

wrapMethod(tls.TLSSocket.prototype as unknown as Record<string, unknown>, 'getPeerCertificate', 'tls.getPeerCertificate');
wrapMethod(tls.TLSSocket.prototype as unknown as Record<string, unknown>, 'getPeerX509Certificate', 'tls.getPeerX509Certificate');
wrapClass(crypto, 'X509Certificate', 'crypto.X509Certificate');
const peculiar = tryRequire('@peculiar/x509');
if (peculiar) wrapClass(peculiar, 'X509Certificate', 'peculiar.X509Certificate');
const pkijs = tryRequire('pkijs');
if (pkijs) wrapClass(pkijs, 'Certificate', 'pkijs.Certificate');

// The service's reloads (TlsReloader#reload, else RevocationStore#reload), timed for the
// reload-under-load measurement.
const reloads = {count: 0, lastMs: 0, lastOk: false};

function hookReload(modulePath: string, className: string): boolean {
  const mod = tryRequire(modulePath);
  const proto = (mod?.[className] as {prototype?: Record<string, unknown>} | undefined)?.prototype;
  const original = proto?.reload;
  if (!proto || typeof original !== 'function') return false;
  proto.reload = function (this: unknown, ...args: unknown[]) {
    const t0 = process.hrtime.bigint();
    const result = (original as (...a: unknown[]) => Promise<{ok: boolean}>).apply(this, args);
    return result.then(r => {
      reloads.count++;
      reloads.lastMs = Number(process.hrtime.bigint() - t0) / 1e6;
      reloads.lastOk = r.ok;
      return r;
    });
  };
  return true;
}

if (process.env.BENCH_HOOK_RELOAD === '1') {
  if (!hookReload('../../src/tls/tls-reloader', 'TlsReloader')) hookReload('../../src/tls/revocation/revocation-store', 'RevocationStore');
}

const eld = monitorEventLoopDelay({resolution: 5});
eld.enable();

// On a shared machine a long wall-clock gap may be the OS running someone else. A 5 ms ticker
// also records min(gap, CPU this process used during the gap): the part of a block that was
// really this process working (a preempted process uses no CPU).
const TICK_MS = 5;
let lastWall = performance.now();
let lastCpu = process.cpuUsage();
let maxCpuBlockMs = 0;
setInterval(() => {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  const gap = wall - lastWall - TICK_MS;
  const used = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000;
  maxCpuBlockMs = Math.max(maxCpuBlockMs, Math.min(gap, used));
  lastWall = wall;
  lastCpu = cpu;
}, TICK_MS).unref();

function instrumentCreateServer(mod: {createServer: unknown}): void {
  const originalCreateServer = mod.createServer;
  mod.createServer = function (this: unknown, ...args: unknown[]) {
    const server = (originalCreateServer as (...a: unknown[]) => HttpsModule.Server).apply(this, args);
    server.on('request', () => {
      counters.requests++;
    });
    server.on('secureConnection', (socket: TlsModule.TLSSocket) => {
      counters.connections++;
      if (socket.isSessionReused()) counters.resumed++;
    });
    server.once('listening', () => {
      const addr = server.address();
      if (addr && typeof addr === 'object' && process.send) process.send({type: 'listening', port: addr.port});
    });
    return server;
  };
}

instrumentCreateServer(https as {createServer: unknown});
// Variant (d)'s upstream serves plain HTTP behind nginx (BENCH_UPSTREAM_HTTP=1).
if (process.env.BENCH_UPSTREAM_HTTP === '1') instrumentCreateServer(http as {createServer: unknown});

if (process.send) {
  process.on('message', (msg: {type?: string; id?: number}) => {
    if (msg?.type === 'sample') {
      process.send!({
        type: 'sample',
        id: msg.id,
        counters: {...counters, parses: {...counters.parses}},
        eldMaxMs: eld.max / 1e6,
        eldP99Ms: eld.percentile(99) / 1e6,
        cpuBlockMaxMs: maxCpuBlockMs,
        memory: process.memoryUsage(),
        reloads: {...reloads},
      });
    } else if (msg?.type === 'reset-eld') {
      eld.reset();
      maxCpuBlockMs = 0;
    }
  });
  // The IPC channel must not keep a server alive on its own.
  process.channel?.unref();
}

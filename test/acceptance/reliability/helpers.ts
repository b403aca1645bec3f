/**
 * Shared helpers of the reliability acceptance tests: a private, rewritable copy of the test
 * PKI's server material, CA bundle and CRLs, atomic rewrites, and log waits that only look at
 * lines logged after a given point (the services log one audit line per request, so scanning
 * the whole log on every line would be quadratic).
 */
import {copyFileSync, renameSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import type {DevPkiManifest} from '../../fixtures/pki';
import {givenTempDir} from '../../fixtures/pki';
import type {LogLine, ServiceHandle} from '../../fixtures/service';

export interface WritablePki {
  dir: string;
  cert: string;
  key: string;
  ca: string;
  rootCrl: string;
  intermediateCrl: string;
  /** TLS_* variables pointing at the copies. */
  env: Record<string, string>;
  /** Put every file back to the shared PKI's content (no reload is triggered). */
  restore(): void;
}

export function givenWritablePki(pki: DevPkiManifest): WritablePki {
  const dir = givenTempDir('hmtls-reliability-');
  const f = (name: string) => path.join(dir, name);
  const pairs: [string, string][] = [
    [pki.server.cert, f('server.crt')],
    [pki.server.key, f('server.key')],
    [pki.caBundle, f('ca-bundle.crt')],
    [pki.crls.root, f('root-ca.crl')],
    [pki.crls.intermediate, f('intermediate-ca.crl')],
  ];
  const restore = () => {
    for (const [from, to] of pairs) copyFileSync(from, to);
  };
  restore();
  return {
    dir,
    cert: f('server.crt'),
    key: f('server.key'),
    ca: f('ca-bundle.crt'),
    rootCrl: f('root-ca.crl'),
    intermediateCrl: f('intermediate-ca.crl'),
    env: {
      TLS_CERT_FILE: f('server.crt'),
      TLS_KEY_FILE: f('server.key'),
      TLS_CA_FILE: f('ca-bundle.crt'),
      TLS_CRL_FILES: `${f('root-ca.crl')},${f('intermediate-ca.crl')}`,
    },
    restore,
  };
}

/** Replace a file the way operators and Kubernetes do: write a sibling, rename over. */
export function writeAtomically(file: string, data: Buffer | string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

/** A position in a service's log; waits look only at lines after it. */
export function logMark(svc: ServiceHandle): number {
  return svc.logs.length;
}

/** The first line after `mark` matching `pred` (polls; rejects after timeoutMs or on exit). */
export async function waitForLogAfter(svc: ServiceHandle, mark: number, pred: (l: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> {
  let cursor = mark;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (; cursor < svc.logs.length; cursor++) if (pred(svc.logs[cursor])) return svc.logs[cursor];
    if (svc.child.exitCode !== null || svc.child.signalCode !== null) {
      throw new Error(
        `service exited (${svc.child.exitCode ?? svc.child.signalCode}) before the log line; output:\n${svc.stdout.slice(-20).join('\n')}`,
      );
    }
    if (Date.now() > deadline) throw new Error(`log line not seen within ${timeoutMs} ms; output:\n${svc.stdout.slice(-20).join('\n')}`);
    await new Promise(r => setTimeout(r, 20));
  }
}

/** Lines after `mark` matching `pred`. */
export function logsAfter(svc: ServiceHandle, mark: number, pred: (l: LogLine) => boolean = () => true): LogLine[] {
  return svc.logs.slice(mark).filter(pred);
}

/** Lines that must never appear: a crash, an uncaught error, a 5xx answer. */
export function fatalLines(svc: ServiceHandle): LogLine[] {
  return svc.logs.filter(l => l.level === 'fatal' || l.code === 'INTERNAL_ERROR' || /uncaught|unhandled/i.test(String(l.msg ?? '')));
}

/** Anything the service wrote to stderr (an uncaught exception's stack would land here). */
export function stderrLines(svc: ServiceHandle): string[] {
  return svc.stdout.filter(l => l.startsWith('[stderr]'));
}

/** Deterministic garbage (xorshift32), so a failing run can be replayed. */
export function seededBytes(n: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * The connection gate's answer to a refused (here: revoked) client: a fixed 401 AUTH_CERT_REVOKED
 * with `Connection: close`, written before any HTTP routing. Not "served".
 */
export function isGateRevocation(r: {kind?: string; status?: number; body?: string; connection?: string}): boolean {
  return r.kind === 'response' && r.status === 401 && r.connection === 'close' && /"code":"AUTH_CERT_REVOKED"/.test(r.body ?? '');
}

/** A response other than the gate's coded refusal: the client was served. */
export function isServed(r: {kind?: string; status?: number; body?: string; connection?: string}): boolean {
  return r.kind === 'response' && !isGateRevocation(r);
}

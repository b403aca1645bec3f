/**
 * Sections 3 and 4 micro-measurements, run pinned to the server CPU:
 *  - the request guard alone (src/guards/request-policy inspectRequest) on the POST /echo
 *    request for a small and a 64 KiB JSON body,
 *  - the OCSP client's cache-hit cost (src/auth/ocsp-client), against the real responder.
 * A module that is not in this build is reported as not measured (never faked).
 * Env: BENCH_SMALL_BODY_FILE, BENCH_LARGE_BODY_FILE, BENCH_OCSP_URL, BENCH_LEAF_CERT,
 * BENCH_ISSUER_CERT. Output: `PROBE_RESULT {"guards": MicroResult[], "ocsp": MicroResult[], "notes": string[]}`.
 */
import 'reflect-metadata';
import * as fs from 'node:fs';
import type {MicroResult} from '../lib/types';

/* eslint-disable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any */
function tryRequire(id: string): any {
  try {
    return require(id);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && String((e as Error).message).includes(id.split('/').pop()!)) return undefined;
    throw e;
  }
}

function timeIt(fn: () => void, minMs = 400): number {
  for (let i = 0; i < 50; i++) fn();
  let n = 0;
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < minMs * 1e6) {
    for (let i = 0; i < 20; i++) fn();
    n += 20;
    elapsed = Number(process.hrtime.bigint() - t0);
  }
  return elapsed / n / 1000;
}

async function guards(notes: string[]): Promise<MicroResult[]> {
  const policy = tryRequire('../../src/guards/request-policy');
  if (!policy?.inspectRequest) {
    notes.push('guard micro-benchmark: src/guards/request-policy (inspectRequest) is not in this build');
    return [];
  }
  const out: MicroResult[] = [];
  for (const [label, file] of [
    ['small JSON body', process.env.BENCH_SMALL_BODY_FILE!],
    ['64 KiB JSON body', process.env.BENCH_LARGE_BODY_FILE!],
  ] as const) {
    const text = fs.readFileSync(file, 'utf8');
    const input = {
      rawTarget: '/echo',
      headers: [
        ['Host', '127.0.0.1:8443'],
        ['Content-Type', 'application/json'],
        ['Content-Length', String(Buffer.byteLength(text))],
        ['User-Agent', 'bench'],
      ] as [string, string][],
      body: {contentType: 'application/json', text},
    };
    const verdict = policy.inspectRequest(input);
    if (!verdict?.ok) throw new Error(`the guard refused the benign ${label}: ${JSON.stringify(verdict)}`);
    out.push({
      name: `guard inspectRequest, ${label} (${Buffer.byteLength(text)} B)`,
      us: timeIt(() => policy.inspectRequest(input)),
      note: 'verdict ok',
    });
  }
  return out;
}

async function ocsp(notes: string[]): Promise<MicroResult[]> {
  const client = tryRequire('../../src/auth/ocsp-client');
  const cert = tryRequire('../../src/x509/certificate');
  if (!client?.OcspClient || !cert?.parseCertificate) {
    notes.push('OCSP cache-hit micro-benchmark: src/auth/ocsp-client (OcspClient) is not in this build');
    return [];
  }
  const pemModule = tryRequire('../../src/x509/pem');
  const pem = (f: string) => (pemModule?.pemToDerList ? pemModule.pemToDerList(fs.readFileSync(f, 'utf8'))[0] : undefined);
  const leaf = cert.parseCertificate(new Uint8Array(pem(process.env.BENCH_LEAF_CERT!)));
  const issuer = cert.parseCertificate(new Uint8Array(pem(process.env.BENCH_ISSUER_CERT!)));
  const c = new client.OcspClient({url: process.env.BENCH_OCSP_URL, timeoutMs: 5000, cacheSize: 10_000});
  const first = await c.check(leaf, issuer);
  if (first?.status !== 'good') throw new Error(`OCSP answer for the valid client is not good: ${JSON.stringify(first)}`);
  const second = await c.check(leaf, issuer);
  if (!second?.cached) throw new Error('second OCSP check was not a cache hit');
  const n = 20000;
  for (let i = 0; i < 1000; i++) await c.check(leaf, issuer);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await c.check(leaf, issuer);
  const us = Number(process.hrtime.bigint() - t0) / n / 1000;
  return [{name: 'OCSP client check(), cache hit', us, note: `responder hit ${c.stats?.requests ?? '?'} time(s)`}];
}

async function main(): Promise<void> {
  const notes: string[] = [];
  const g = await guards(notes);
  let o: MicroResult[] = [];
  try {
    o = await ocsp(notes);
  } catch (e) {
    notes.push(`OCSP cache-hit micro-benchmark failed: ${(e as Error).message}`);
  }
  process.stdout.write(`PROBE_RESULT ${JSON.stringify({guards: g, ocsp: o, notes})}\n`);
}

main().catch(e => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});

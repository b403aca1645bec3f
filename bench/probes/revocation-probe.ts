/**
 * Section 3 probe (run pinned to the server CPU, one fresh process per CRL size, with --expose-gc):
 * load a CRL with RevocationIndex.load, reload it with RevocationStore.reload, and measure time,
 * retained memory, lookup cost and the longest event-loop block during load and reload.
 * Input (env): BENCH_CRL_FILE, BENCH_CA_BUNDLE, BENCH_LEAF_CERT, BENCH_CRL_COUNT, BENCH_CRL_SEED.
 * Output: one line `PROBE_RESULT {json}` (a CrlScaleRow without fileBytes).
 */
import 'reflect-metadata';
import {randomBytes, X509Certificate} from 'node:crypto';
import * as fs from 'node:fs';
import {monitorEventLoopDelay, performance} from 'node:perf_hooks';
import {largeCrlSerialBytes, largeCrlSerialHex} from '../../src/pki/large-crl';
import {RevocationIndex, RevocationStore} from '../../src/tls/revocation';
import {normalizeSerial} from '../../src/x509/serial';
import {splitPemCertificates} from '../../src/tls/tls-material';

const gc = (globalThis as {gc?: () => void}).gc ?? (() => undefined);

/** Longest block: the max of monitorEventLoopDelay and of the gaps seen by a 1 ms timer. */
function blockMonitor() {
  const h = monitorEventLoopDelay({resolution: 1});
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  let maxGap = 0;
  let maxCpuBlock = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage();
    const gap = now - last - 1;
    maxGap = Math.max(maxGap, gap);
    // The part of the gap this process spent on CPU (a process preempted by others uses none).
    maxCpuBlock = Math.max(maxCpuBlock, Math.min(gap, (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000));
    last = now;
    lastCpu = cpu;
  }, 1);
  h.enable();
  return {
    stop(): {wall: number; cpu: number} {
      clearInterval(timer);
      h.disable();
      return {wall: Math.max(h.max / 1e6, maxGap, 0), cpu: Math.max(maxCpuBlock, 0)};
    },
  };
}

const settle = () => new Promise<void>(r => setTimeout(r, 50));

function retained(m: NodeJS.MemoryUsage): number {
  return m.heapUsed + m.external;
}

async function main(): Promise<void> {
  const file = process.env.BENCH_CRL_FILE!;
  const count = Number(process.env.BENCH_CRL_COUNT);
  const seed = process.env.BENCH_CRL_SEED ?? 'large-crl';
  const cas = splitPemCertificates(fs.readFileSync(process.env.BENCH_CA_BUNDLE!, 'latin1')).map(p => new X509Certificate(p));
  const leaf = new X509Certificate(fs.readFileSync(process.env.BENCH_LEAF_CERT!));
  const issuer = cas.find(ca => leaf.checkIssued(ca));
  if (!issuer) throw new Error('no CA in the bundle issued the leaf');

  gc();
  await settle();
  gc();
  const m0 = process.memoryUsage();
  let mon = blockMonitor();
  let t = performance.now();
  const index = await RevocationIndex.load([file], cas);
  const loadMs = performance.now() - t;
  await settle();
  const blockLoad = mon.stop();
  gc();
  await settle();
  gc();
  const m1 = process.memoryUsage();

  const store = new RevocationStore(index);
  mon = blockMonitor();
  t = performance.now();
  const r = await store.reload([file], cas);
  const reloadMs = performance.now() - t;
  await settle();
  const blockReload = mon.stop();
  if (!r.ok) throw new Error(`reload failed: ${r.error.code}`);
  const live = store.index;

  // Lookups: listed serials from the generator, unlisted random ones.
  const fp = issuer.fingerprint256;
  const serialBytes = largeCrlSerialBytes(count, seed);
  const present: string[] = [];
  for (let i = 0; i < 4096; i++) present.push(normalizeSerial(largeCrlSerialHex(serialBytes, Math.floor((i * count) / 4096) % count)));
  const absent: string[] = [];
  for (let i = 0; i < 4096; i++) absent.push(normalizeSerial(randomBytes(16).toString('hex')));
  const now = new Date();
  let verified = present.every(k => live.status(fp, k, now) === 'revoked') && absent.every(k => live.status(fp, k, now) === 'good');
  const time = (keys: string[], n: number): number => {
    let hits = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) if (live.status(fp, keys[i & 4095], now) === 'revoked') hits++;
    const ns = Number(process.hrtime.bigint() - t0) / n;
    if (hits < 0) throw new Error('unreachable');
    return ns;
  };
  time(absent, 200_000);
  const lookupNsAbsent = time(absent, 1_000_000);
  time(present, 200_000);
  const lookupNsPresent = time(present, 1_000_000);
  const leafStatus = live.statusOfCertificate(leaf, now).status;
  verified = verified && leafStatus === 'good';
  for (let i = 0; i < 200; i++) live.statusOfCertificate(leaf, now);
  const n = 2000;
  const t1 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) live.statusOfCertificate(leaf, now);
  const statusOfCertificateUs = Number(process.hrtime.bigint() - t1) / n / 1000;

  const out = {
    entries: count,
    loadMs,
    reloadMs,
    retainedBytes: retained(m1) - retained(m0),
    rssDeltaBytes: m1.rss - m0.rss,
    eldMaxLoadMs: blockLoad.wall,
    eldMaxReloadMs: blockReload.wall,
    cpuBlockMaxLoadMs: blockLoad.cpu,
    cpuBlockMaxReloadMs: blockReload.cpu,
    lookupNsPresent,
    lookupNsAbsent,
    statusOfCertificateUs,
    lookupsVerified: verified,
  };
  process.stdout.write(`PROBE_RESULT ${JSON.stringify(out)}\n`);
}

main().catch(e => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});

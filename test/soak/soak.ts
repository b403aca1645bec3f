/**
 * Soak: `npm run soak -- [--minutes 10] [--heap-mb 160] [--workers 24] [--sample-seconds 5]
 *                        [--reload-seconds 60] [--max-rss-slope-mb-per-min 2] [--no-report]`
 *
 * Runs the built service as a child process on a test PKI and drives mixed traffic at it for the
 * given time: valid clients on kept-alive and new connections (GET and POST), a client outside
 * the allow-list (403), unknown routes (404), oversized bodies (413), a revoked client (cut at the
 * connection gate), an untrusted client and a client without a certificate (refused in the
 * handshake); a SIGHUP reload every --reload-seconds. The service runs with its V8 old space
 * capped (--heap-mb, via --max-old-space-size): unreachable garbage is collected within the cap
 * (so RSS has to level off), while a leak ends in an out-of-memory exit. It samples the service's RSS and open file
 * descriptors from /proc, then stops the traffic, waits for idle connections to time out, and
 * reports RSS growth, the slope of the RSS floor (per-minute minima) over the second half, and the open descriptors before the
 * traffic, at its end and after it. Exit code 1 when a descriptor leak or an RSS slope above the
 * bound is found, or when a valid request failed; the figures go to docs/reliability.md.
 *
 * Not part of `npm test` (it runs for minutes).
 */
import {readdirSync, readFileSync} from 'node:fs';
import {Load, LoadWorkerSpec} from '../fixtures/load';
import {givenClient, givenMtlsEnv} from '../fixtures/mtls-env';
import {givenTestPki} from '../fixtures/pki';
import {recordSection, writeReliabilityReport} from '../fixtures/reliability-report';
import {givenService} from '../fixtures/service';

interface Options {
  minutes: number;
  /** V8 old-space cap for the service (MB): garbage must be collected within it, a leak ends in OOM. 0 = Node's default. */
  heapMb: number;
  workers: number;
  sampleSeconds: number;
  reloadSeconds: number;
  maxRssSlopeMbPerMin: number;
  report: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {minutes: 10, heapMb: 160, workers: 24, sampleSeconds: 5, reloadSeconds: 60, maxRssSlopeMbPerMin: 2, report: true};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      return v;
    };
    if (a === '--minutes') o.minutes = num();
    else if (a === '--workers') o.workers = Math.max(10, Math.round(num()));
    else if (a === '--heap-mb') {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error('--heap-mb needs a whole number (0 = Node default)');
      o.heapMb = v;
    } else if (a === '--sample-seconds') o.sampleSeconds = num();
    else if (a === '--reload-seconds') o.reloadSeconds = num();
    else if (a === '--max-rss-slope-mb-per-min') o.maxRssSlopeMbPerMin = num();
    else if (a === '--no-report') o.report = false;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'npm run soak -- [--minutes 10] [--heap-mb 160] [--workers 24] [--sample-seconds 5] [--reload-seconds 60] [--max-rss-slope-mb-per-min 2] [--no-report]\n',
      );
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  return o;
}

interface Sample {
  atSec: number;
  rssMb: number;
  fds: number;
  requests: number;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error('no VmRSS in /proc status');
  return Number(m[1]) / 1024;
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Least-squares slope of y over x. */
function slope(points: {x: number; y: number}[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const num = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const den = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms));
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const log = (s: string) => process.stdout.write(`[soak] ${s}\n`);
  const pki = await givenTestPki();
  const svc = await givenService(
    givenMtlsEnv(pki, {TLS_WATCH: 'false', ...(o.heapMb > 0 ? {NODE_OPTIONS: `--max-old-space-size=${o.heapMb}`} : {})}),
  );
  const pid = svc.child.pid!;
  log(`service pid ${pid} on port ${svc.port}; ${o.minutes} min, ${o.workers} workers, heap cap ${o.heapMb || 'default'} MB`);

  // Keep the runner's memory flat: count what matters, drop the lines.
  const serviceErrors: string[] = [];
  const trimLogs = () => {
    for (const l of svc.logs) {
      if (l.level === 'error' || l.level === 'fatal' || l.code === 'INTERNAL_ERROR') {
        if (serviceErrors.length < 20) serviceErrors.push(JSON.stringify(l).slice(0, 300));
      }
    }
    svc.logs.length = 0;
    // Keep what the service wrote to stderr (an out-of-memory report lands there).
    const stderr = svc.stdout.filter(l => l.startsWith('[stderr]')).slice(-50);
    svc.stdout.length = 0;
    svc.stdout.push(...stderr);
  };

  const baseline = {rssMb: rssMb(pid), fds: openFds(pid)};
  const as = (name: Parameters<typeof givenClient>[1]) => ({port: svc.port, ...givenClient(pki, name)});
  const json: [string, string][] = [['Content-Type', 'application/json']];
  const validMix = (n: number) =>
    n % 4 === 0
      ? {target: '/whoami'}
      : n % 4 === 1
        ? {target: `/search?q=soak-${n}`}
        : n % 4 === 2
          ? {method: 'POST', target: '/echo', headers: json, body: JSON.stringify({n, pad: 'x'.repeat(n % 2048)})}
          : {target: '/ping'};
  const validWorkers = Math.max(4, o.workers - 8);
  const workers: LoadWorkerSpec[] = [
    ...Array.from({length: Math.ceil(validWorkers * 0.7)}, (): LoadWorkerSpec => ({
      group: 'valid (keep-alive)',
      tls: as('valid'),
      mode: 'keep-alive',
      request: validMix,
    })),
    ...Array.from({length: Math.floor(validWorkers * 0.3)}, (): LoadWorkerSpec => ({
      group: 'valid (new connections)',
      tls: as('valid2'),
      mode: 'new-connection',
      request: validMix,
    })),
    {group: 'wrong SAN (403)', tls: as('wrong-san'), mode: 'keep-alive', request: () => ({target: '/whoami'}), pauseMs: 20},
    {group: 'unknown route (404)', tls: as('valid'), mode: 'keep-alive', request: n => ({target: `/no/such/route/${n}`}), pauseMs: 20},
    {
      group: 'oversized body (413)',
      tls: as('valid'),
      mode: 'keep-alive',
      request: () => ({method: 'POST', target: '/echo', headers: json, body: `{"a":"${'x'.repeat(1_100_000)}"}`}),
      pauseMs: 200,
    },
    {group: 'revoked (cut at the gate)', tls: as('revoked'), mode: 'new-connection', request: () => ({target: '/whoami'}), pauseMs: 50},
    {group: 'untrusted CA (handshake)', tls: as('untrusted'), mode: 'new-connection', request: () => ({target: '/whoami'}), pauseMs: 50},
    {group: 'no certificate (handshake)', tls: as('anonymous'), mode: 'new-connection', request: () => ({target: '/whoami'}), pauseMs: 50},
    {group: 'expired (handshake)', tls: as('expired'), mode: 'new-connection', request: () => ({target: '/whoami'}), pauseMs: 50},
    {
      group: 'TLS 1.2 client (handshake)',
      tls: {...as('valid'), minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2'},
      mode: 'new-connection',
      request: () => ({target: '/ping'}),
      pauseMs: 50,
    },
  ];
  const load = Load.start(workers, {keepRecords: false});
  const t0 = Date.now();
  const samples: Sample[] = [];
  const durationMs = o.minutes * 60_000;
  let nextReload = o.reloadSeconds * 1000;
  let reloads = 0;
  let crashed: string | undefined;
  while (Date.now() - t0 < durationMs) {
    await sleep(Math.min(o.sampleSeconds * 1000, Math.max(0, durationMs - (Date.now() - t0))));
    trimLogs();
    if (svc.child.exitCode !== null || svc.child.signalCode !== null) {
      crashed = `the service exited during the soak (code ${svc.child.exitCode}, signal ${svc.child.signalCode}) after ${round((Date.now() - t0) / 60000)} min${svc.stdout.some(l => /heap out of memory/i.test(l)) ? ': JavaScript heap out of memory (a leak)' : ''}`;
      break;
    }
    const atSec = (Date.now() - t0) / 1000;
    samples.push({atSec, rssMb: rssMb(pid), fds: openFds(pid), requests: load.total.requests});
    if (atSec * 1000 >= nextReload) {
      svc.signal('SIGHUP');
      reloads++;
      nextReload += o.reloadSeconds * 1000;
    }
    if (samples.length % Math.max(1, Math.round(60 / o.sampleSeconds)) === 0) {
      const s = samples[samples.length - 1];
      log(`${round(atSec / 60)} min: RSS ${round(s.rssMb)} MB, fds ${s.fds}, requests ${s.requests}`);
    }
  }
  const alive = () => crashed === undefined;
  const last = samples[samples.length - 1] ?? {rssMb: baseline.rssMb, fds: baseline.fds};
  const atEnd = alive() ? {rssMb: rssMb(pid), fds: openFds(pid)} : {rssMb: last.rssMb, fds: last.fds};
  await load.stop();
  // Let kept-alive and half-closed connections time out (HTTP_KEEPALIVE_TIMEOUT_MS default 5 s).
  if (alive()) await sleep(8000);
  trimLogs();
  const afterIdle = alive() ? {rssMb: rssMb(pid), fds: openFds(pid)} : atEnd;
  const exitCode = alive() ? await svc.stop() : svc.child.exitCode;
  if (samples.length === 0) samples.push({atSec: 0, rssMb: baseline.rssMb, fds: baseline.fds, requests: 0});

  // RSS saws up and down with garbage collection; a leak shows as a rising floor. The slope is
  // fitted to the per-minute minima (the post-GC floor) of the second half.
  const lastSec = samples[samples.length - 1].atSec;
  const floors = new Map<number, number>();
  for (const s of samples.filter(x => x.atSec >= lastSec / 2)) {
    const minute = Math.floor(s.atSec / 60);
    floors.set(minute, Math.min(floors.get(minute) ?? Infinity, s.rssMb));
  }
  const rssSlope = slope([...floors].map(([minute, mb]) => ({x: minute, y: mb})));
  const warm = samples.find(s => s.atSec >= Math.min(60, durationMs / 4000)) ?? samples[0];
  const maxRss = Math.max(...samples.map(s => s.rssMb));
  const groups = [...new Set(workers.map(w => w.group))];
  const validGroups = groups.filter(g => g.startsWith('valid'));
  const validFailures = validGroups.reduce((n, g) => n + load.group(g).requests - load.group(g).ok, 0);
  // A refused client gets the connection gate's coded 401/403 (docs/architecture.md, "Refused
  // clients learn why") or no response (a TLS 1.2 client): any other answer means it was served.
  const servedWhenRefusalExpected = groups
    .filter(g => /handshake|revoked/.test(g))
    .reduce((n, g) => {
      const c = load.group(g);
      return n + (c.byKind.response ?? 0) - (c.byStatus['401'] ?? 0) - (c.byStatus['403'] ?? 0);
    }, 0);
  const fdLeak = afterIdle.fds - baseline.fds;
  const problems: string[] = crashed ? [crashed] : [];
  if (validFailures > 0) problems.push(`${validFailures} valid requests failed`);
  if (servedWhenRefusalExpected > 0) problems.push(`${servedWhenRefusalExpected} refused clients got an HTTP response`);
  if (fdLeak > 2) problems.push(`${fdLeak} file descriptors more after the traffic than before it`);
  if (rssSlope > o.maxRssSlopeMbPerMin)
    problems.push(`the RSS floor grows ${round(rssSlope, 2)} MB/min over the second half (bound ${o.maxRssSlopeMbPerMin})`);
  if (serviceErrors.length > 0) problems.push(`${serviceErrors.length} error lines in the service log`);
  if (alive() && exitCode !== 0) problems.push(`service exit code ${exitCode}`);

  const total = load.total;
  log(
    `requests ${total.requests}, connections ${total.connections}, RSS ${round(baseline.rssMb)} -> ${round(atEnd.rssMb)} MB (max ${round(maxRss)}), slope ${round(rssSlope, 2)} MB/min, fds ${baseline.fds} -> ${atEnd.fds} -> ${afterIdle.fds}`,
  );
  for (const p of problems) log(`PROBLEM: ${p}`);
  for (const e of serviceErrors) log(`service error: ${e}`);

  if (o.report) {
    recordSection({
      id: 'soak',
      title: 'Memory and handle stability (soak)',
      claim: `\`npm run soak -- --minutes ${o.minutes}\` (service heap capped at ${o.heapMb || 'the default'} MB, so garbage must be collected and a leak would end in an out-of-memory exit): ${workers.length} workers of mixed traffic (valid kept-alive and new connections, 403, 404, 413, revoked, untrusted, no certificate, expired, TLS 1.2) for ${o.minutes} min with a SIGHUP reload every ${o.reloadSeconds} s; the service's RSS and open descriptors sampled from /proc every ${o.sampleSeconds} s.`,
      source: 'test/soak/soak.ts',
      figures: {
        cases: groups.length,
        requests: total.requests,
        failures: problems.length,
        minutes: o.minutes,
        'service heap cap (--max-old-space-size, MB)': o.heapMb || 'Node default',
        'TLS connections opened': total.connections,
        'SIGHUP reloads': reloads,
        'RSS before traffic (MB)': round(baseline.rssMb),
        'RSS after warm-up (MB)': round(warm.rssMb),
        'RSS at end of traffic (MB)': round(atEnd.rssMb),
        'RSS max (MB)': round(maxRss),
        'RSS growth after warm-up (MB)': round(atEnd.rssMb - warm.rssMb),
        'RSS floor slope, second half (MB/min; per-minute minima)': round(rssSlope, 2),
        'open descriptors: before / end of traffic / after idle': `${baseline.fds} / ${atEnd.fds} / ${afterIdle.fds}`,
        'valid requests failed': validFailures,
        'service error lines': serviceErrors.length,
      },
      tables: [
        {
          columns: ['traffic', 'requests', 'outcomes'],
          rows: groups.map(g => {
            const c = load.group(g);
            return [
              g,
              c.requests,
              [
                ...Object.entries(c.byStatus).map(([s, n]) => `${s}: ${n}`),
                ...Object.entries(c.byKind)
                  .filter(([k]) => k !== 'response')
                  .map(([k, n]) => `${k}: ${n}`),
              ].join(', '),
            ];
          }),
        },
        {
          columns: ['minute', 'RSS (MB)', 'open descriptors', 'requests so far'],
          rows: samples
            .filter((_, i) => i % Math.max(1, Math.round(60 / o.sampleSeconds)) === 0 || i === samples.length - 1)
            .map(s => [round(s.atSec / 60, 2), round(s.rssMb), s.fds, s.requests]),
        },
      ],
      notes: problems.length
        ? problems
        : [
            'No leak found: descriptors return to the baseline once the traffic stops, and the RSS floor (per-minute minimum) is flat over the second half.',
          ],
    });
    const file = writeReliabilityReport();
    if (file) log(`wrote ${file}`);
  }
  process.exitCode = problems.length ? 1 : 0;
}

main().catch(e => {
  process.stderr.write(`[soak] failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});

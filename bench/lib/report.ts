/**
 * Rendering of docs/benchmarks.md and of the console summary from a BenchResults record.
 * Pure (unit-tested): no I/O, no clock.
 */
import {ratio} from './stats';
import type {BenchResults, LoadSummary, RatioResult, TargetResult} from './types';

export function fmt(x: number | null | undefined, digits = 0): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return 'n/a';
  return x.toLocaleString('en-US', {minimumFractionDigits: digits, maximumFractionDigits: digits});
}

export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return 'n/a';
  const abs = Math.abs(n);
  if (abs >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (abs >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (abs >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map(r => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

export const VARIANT_LABELS: Record<string, string> = {
  a: '(a) bare Node https',
  b: '(b) plain LoopBack',
  c: '(c) this service',
  'c-crl1m': '(c) + 1M-entry CRL',
  d: '(d) nginx + plain LoopBack',
};

const label = (v: string) => VARIANT_LABELS[v] ?? v;

/** "clean" or what went wrong, for a summary's status column. */
export function runStatus(s: LoadSummary): string {
  const problems: string[] = [];
  if (s.errors > 0) problems.push(`${s.errors} socket errors`);
  if (s.badStatus > 0) problems.push(`${s.badStatus} non-200`);
  if (s.mismatches > 0) problems.push(`${s.mismatches} wrong bodies`);
  if (s.cleanRounds < s.rounds && problems.length === 0) problems.push(`${s.rounds - s.cleanRounds} empty round(s)`);
  const base = problems.length === 0 ? `clean (${s.rounds} rounds)` : `ERRORS: ${problems.join(', ')}`;
  // The server must be the bottleneck: flag windows where wrk's own CPU was nearly full.
  return s.loadCpuUtil >= 0.9 ? `${base}; load generator CPU ${Math.round(s.loadCpuUtil * 100)}% (may be the bottleneck)` : base;
}

function find(summaries: readonly LoadSummary[], scenario: string, variant: string): LoadSummary | undefined {
  return summaries.find(s => s.scenario === scenario && s.variant === variant);
}

function loadTable(summaries: readonly LoadSummary[], scenario: string, base: string | undefined): string {
  const rows = summaries.filter(s => s.scenario === scenario);
  const ref = base ? find(summaries, scenario, base) : undefined;
  return table(
    ['variant', 'req/s', 'p50 ms', 'p99 ms', 'server CPU µs/req', ref ? `CPU vs ${base}` : 'CPU ratio', 'server CPU %', 'load CPU %', 'status'],
    rows.map(s => [
      label(s.variant),
      fmt(s.rps),
      fmt(s.p50Ms, 2),
      fmt(s.p99Ms, 2),
      fmt(s.cpuUsPerRequest, 1),
      ref ? `${fmt(ratio(s.cpuUsPerRequest, ref.cpuUsPerRequest), 2)}x` : 'n/a',
      fmt(s.serverCpuUtil * 100),
      fmt(s.loadCpuUtil * 100),
      runStatus(s),
    ]),
  );
}

function handshakeTable(summaries: readonly LoadSummary[], scenario: string): string {
  const rows = summaries.filter(s => s.scenario === scenario);
  const ref = find(summaries, scenario, 'a');
  const refB = find(summaries, scenario, 'b');
  return table(
    [
      'variant',
      'connections/s',
      'server CPU µs/connection',
      'CPU vs a',
      'CPU vs b',
      'connections per CPU-second',
      'p50 ms',
      'p99 ms',
      'resumed',
      'status',
    ],
    rows.map(s => [
      label(s.variant),
      fmt(s.connectionsPerS),
      fmt(s.cpuUsPerConnection, 0),
      ref ? `${fmt(ratio(s.cpuUsPerConnection, ref.cpuUsPerConnection), 2)}x` : 'n/a',
      refB ? `${fmt(ratio(s.cpuUsPerConnection, refB.cpuUsPerConnection), 2)}x` : 'n/a',
      fmt(1e6 / s.cpuUsPerConnection),
      fmt(s.p50Ms, 2),
      fmt(s.p99Ms, 2),
      s.variant === 'd' ? 'n/a' : fmt(s.totalResumed),
      runStatus(s),
    ]),
  );
}

export function ratiosTable(ratios: readonly RatioResult[]): string {
  return table(
    ['ratio', 'paired median', 'how'],
    ratios.map(r => [r.description, r.value === null ? 'n/a' : `${fmt(r.value, 2)}x`, r.detail]),
  );
}

function parsesTable(summaries: readonly LoadSummary[]): string {
  const rows = summaries.filter(
    s => (s.scenario === 'keepalive-100' || s.scenario === 'conn-per-request' || s.scenario === 'handshake-only') && s.variant !== 'd',
  );
  return table(
    ['scenario', 'variant', 'requests', 'new connections', 'parses per connection', 'parses per request'],
    rows.map(s => {
      const kinds = Object.keys({...s.parsesPerConnection, ...s.parsesPerRequest}).sort();
      return [
        s.scenario,
        label(s.variant),
        fmt(s.totalRequests),
        fmt(s.totalConnections),
        kinds.map(k => `${k} ${fmt(s.parsesPerConnection[k], 2)}`).join('; ') || 'none',
        kinds.map(k => `${k} ${fmt(s.parsesPerRequest[k], 4)}`).join('; ') || 'none',
      ];
    }),
  );
}

export function targetsTable(targets: readonly TargetResult[]): string {
  return table(
    ['target', 'measured', 'limit', 'status', 'how'],
    targets.map(t => [
      t.description,
      t.value === null ? 'n/a' : `${fmt(t.value, t.unit === 'ms' ? 1 : t.unit === '/req' ? 4 : 2)}${t.unit === 'x' ? 'x' : ' ' + t.unit}`,
      `${t.op} ${t.limit}${t.unit === 'x' ? 'x' : ' ' + t.unit}`,
      t.status === 'missed' ? '**MISSED**' : t.status,
      t.detail,
    ]),
  );
}

export function renderConsoleSummary(res: BenchResults, targets: readonly TargetResult[], ratios: readonly RatioResult[] = []): string {
  const lines: string[] = [];
  for (const s of res.summaries) {
    lines.push(
      `${s.scenario.padEnd(14)} ${label(s.variant).padEnd(22)} ${fmt(s.rps).padStart(8)} req/s  ` +
        `${fmt(s.connectionsPerS).padStart(6)} conn/s  p50 ${fmt(s.p50Ms, 2).padStart(7)} ms  p99 ${fmt(s.p99Ms, 2).padStart(7)} ms  ` +
        `CPU ${fmt(s.scenario === 'handshake-only' || s.scenario === 'conn-per-request' ? s.cpuUsPerConnection : s.cpuUsPerRequest, 1).padStart(7)} ` +
        `µs/${s.scenario === 'handshake-only' ? 'handshake' : s.scenario === 'conn-per-request' ? 'conn' : 'req'}  ${runStatus(s)}`,
    );
  }
  for (const r of res.revocation.crl) {
    lines.push(
      `CRL ${fmt(r.entries).padStart(9)} entries: load ${fmt(r.loadMs)} ms, reload ${fmt(r.reloadMs)} ms, retained ${fmtBytes(r.retainedBytes)}, lookup ${fmt(r.lookupNsAbsent)} ns, ELD max ${fmt(r.eldMaxLoadMs, 1)}/${fmt(r.eldMaxReloadMs, 1)} ms`,
    );
  }
  for (const m of [...res.revocation.ocsp, ...res.guards]) lines.push(`${m.name}: ${fmt(m.us, 2)} µs${m.note ? ` (${m.note})` : ''}`);
  for (const s of res.startup)
    lines.push(
      `start-up ${s.label}: ${fmt(s.startMs)} ms to listening, ${fmt(s.firstRequestMs)} ms to first 200, idle RSS ${fmtBytes(s.idleRssBytes)}`,
    );
  if (ratios.length > 0) {
    lines.push('', 'Side by side (paired per-round medians, server CPU):');
    for (const r of ratios) lines.push(`  ${r.description}: ${r.value === null ? 'n/a' : fmt(r.value, 3)}  (${r.detail})`);
  }
  lines.push('', 'Targets (measured, not asserted):');
  for (const t of targets) {
    lines.push(
      `  [${t.status === 'missed' ? 'MISSED' : t.status}] ${t.description}: ${t.value === null ? 'n/a' : fmt(t.value, 3)} (limit ${t.op} ${t.limit})`,
    );
  }
  return lines.join('\n');
}

export function renderMarkdown(res: BenchResults, targets: readonly TargetResult[], ratios: readonly RatioResult[] = []): string {
  const m = res.machine;
  const c = res.config;
  const out: string[] = [];
  out.push('# Benchmarks: what security costs');
  out.push('');
  out.push(
    'Generated by `npm run bench`' +
      (c.quick ? ' **--quick (smoke mode: too short for conclusions)**' : '') +
      ` from ${res.startedAt} to ${res.finishedAt}. Raw data: [benchmarks.json](benchmarks.json). ` +
      'Numbers are measured, never asserted; the targets below are evaluated as ratios within this one run.',
  );
  out.push('');
  const load1 = m.loadAvgAtStart[0] ?? 0;
  if (load1 > 1 || c.quick) {
    out.push(
      `> **Not a reference run.** ${c.quick ? 'Smoke mode (`--quick`). ' : ''}` +
        `${load1 > 1 ? `The machine was busy (load average ${m.loadAvgAtStart.map(x => x.toFixed(2)).join(' ')} at start, on ${m.cpus} CPUs): other processes competed for both CPUs. ` : ''}` +
        'Read the paired ratios as directions only; a full run (`npm run bench`) on a quiet machine replaces these numbers.',
    );
    out.push('');
  }
  out.push('## How to run');
  out.push('');
  out.push(
    [
      '```sh',
      'apt-get install -y wrk        # load generator (Debian/Ubuntu); a C compiler (cc), taskset and openssl are needed too',
      'apt-get install -y nginx-light # variant (d), the mTLS sidecar',
      'npm run bench                 # full run: 5 interleaved rounds, 2+10 s windows (about 30 minutes)',
      'npm run bench -- --quick      # smoke mode for development (2 rounds, 1+2 s windows, a few minutes)',
      'npm run bench -- --sections keepalive,handshake --rounds 7 --cpu-prof /tmp/prof   # subsets, more rounds, profiles of (b), (c), (d)',
      '```',
      '',
      'It needs at least two CPUs and a quiet machine: the servers run on one CPU, wrk and the handshake client on another (`--server-cpu`, `--load-cpu`).',
    ].join('\n'),
  );
  out.push('');
  out.push('## Machine');
  out.push('');
  out.push(
    table(
      ['item', 'value'],
      [
        ['CPU', `${m.cpuModel} (${m.cpus} logical CPUs)`],
        ['memory', fmtBytes(m.memTotalBytes)],
        ['kernel', m.kernel],
        ['Node.js', m.node],
        ['OpenSSL (Node)', m.openssl],
        ['load generator', m.wrk],
        ['pinning', `server on CPU ${m.serverCore}, load generator on CPU ${m.loadCore} (taskset)`],
        ['load average at start', m.loadAvgAtStart.map(x => x.toFixed(2)).join(' ')],
      ],
    ),
  );
  out.push('');
  out.push('## Method');
  out.push('');
  out.push(
    [
      `- ${c.rounds} interleaved round(s): within a round every variant runs once (order rotated per round), so slow drift of the`,
      '  machine hits all variants alike; tables show medians over rounds, ratios are medians of per-round paired ratios.',
      `- Each window: ${c.warmupS} s warm-up, then ${c.durationS} s measured on the server side: requests, new TLS connections and`,
      '  server CPU (utime+stime from `/proc/<pid>/stat`, all threads) are sampled at the start and end of the window.',
      "  Latency percentiles are wrk's over the whole run.",
      "- Load: wrk (C, epoll) with a small LD_PRELOAD shim (bench/shim, built at bench time with the machine's C compiler) that",
      '  installs the client certificate; every response is checked by bench/wrk/verify.lua: status 200 and a body',
      '  byte-identical to a probe response the bench checked first. A run with any socket error, non-200 or wrong body is',
      '  reported as ERRORS.',
      `- New connections: one request per connection (\`Connection: close\`), ${c.handshakeConnections} concurrent connections, session`,
      '  resumption off (the shim drops the session wrk keeps; the server counts resumed sessions, expected 0).',
      `- TLS handshake only: bench/shim/handshake-client.c (C, libssl; ${c.handshakeWorkers ?? 8} sequential workers) completes full TLS 1.3 mutual-TLS`,
      '  handshakes (client certificate presented, server chain verified, no session offered) and closes in order: close_notify,',
      "  then the server's close_notify is awaited; a close without it (a refusal after the handshake) counts as an error. No HTTP.",
      '  Each window runs on a freshly started server (new process, new port) that has served nothing but one probe request, and',
      '  the section runs before the connection-per-request section, so no window inherits a TIME_WAIT backlog.',
      "- Server CPU of (d) is nginx plus its upstream; its requests and connections come from nginx's stub_status.",
      '- Every Node server runs with the same process defaults (`DEBUG_COLORS=no`, NODE_ENV=production, the same environment).',
      '- Certificate parses are counted inside each server by a preload (bench/servers/instrument.ts), loaded into all variants.',
    ].join('\n'),
  );
  out.push('');
  out.push('Variants:');
  out.push('');
  for (const [k, v] of Object.entries(res.variants)) out.push(`- **${label(k)}**: ${v}`);
  out.push('');
  out.push('## Targets (ratios within this run)');
  out.push('');
  out.push(targetsTable(targets));
  out.push('');
  if (ratios.length > 0) {
    out.push('## Side by side: server CPU of (c) against (b), (d) and (a)');
    out.push('');
    out.push(ratiosTable(ratios));
    out.push('');
  }
  out.push('## 1. Keep-alive GET /whoami');
  out.push('');
  for (const conns of [10, 100]) {
    out.push(`### ${conns} connections`);
    out.push('');
    out.push(loadTable(res.summaries, `keepalive-${conns}`, 'b'));
    out.push('');
  }
  out.push('### Certificate parses');
  out.push('');
  out.push(parsesTable(res.summaries));
  out.push('');
  out.push('## 2. TLS handshake only (no HTTP), fresh servers');
  out.push('');
  out.push(handshakeTable(res.summaries, 'handshake-only'));
  out.push('');
  out.push('## 2b. New connection per request: full TLS 1.3 mTLS handshake + GET /whoami');
  out.push('');
  out.push(handshakeTable(res.summaries, 'conn-per-request'));
  out.push('');
  out.push('## 3. Revocation at scale');
  out.push('');
  out.push('In a separate process pinned to the server CPU: `RevocationIndex.load` of a CRL signed by the intermediate CA (first load,');
  out.push('then a `RevocationStore.reload` of the same file), memory retained after GC, lookup time of `status()` for listed and');
  out.push('unlisted serials, `statusOfCertificate()` for a real client certificate, and the longest event-loop block');
  out.push('(`monitorEventLoopDelay` plus a 1 ms timer) during load and reload. In brackets: the same gap counted only as far as');
  out.push('the process used CPU during it, which excludes time the OS gave to other processes (on a quiet machine both agree).');
  out.push('');
  out.push(
    table(
      [
        'entries',
        'CRL size',
        'load ms',
        'reload ms',
        'retained',
        'RSS delta',
        'lookup ns (listed)',
        'lookup ns (unlisted)',
        'statusOfCertificate µs',
        'longest block load ms (CPU-attributed)',
        'longest block reload ms (CPU-attributed)',
      ],
      res.revocation.crl.map(r => [
        fmt(r.entries),
        fmtBytes(r.fileBytes),
        fmt(r.loadMs),
        fmt(r.reloadMs),
        fmtBytes(r.retainedBytes),
        fmtBytes(r.rssDeltaBytes),
        fmt(r.lookupNsPresent),
        fmt(r.lookupNsAbsent),
        fmt(r.statusOfCertificateUs, 1),
        `${fmt(r.eldMaxLoadMs, 1)} (${fmt(r.cpuBlockMaxLoadMs, 1)})`,
        `${fmt(r.eldMaxReloadMs, 1)} (${fmt(r.cpuBlockMaxReloadMs, 1)})`,
      ]),
    ),
  );
  out.push('');
  if (res.revocation.serviceReload.length > 0) {
    out.push('Reload inside the running service (SIGHUP) while it serves keep-alive load:');
    out.push('');
    out.push(
      table(
        ['entries', 'reload ms', 'longest event-loop block ms', 'CPU-attributed ms', 'requests during reload', 'errors'],
        res.revocation.serviceReload.map(r => [
          fmt(r.entries),
          fmt(r.reloadMs),
          fmt(r.eldMaxMs, 1),
          fmt(r.cpuBlockMaxMs, 1),
          fmt(r.requestsDuring),
          fmt(r.errorsDuring),
        ]),
      ),
    );
    out.push('');
  }
  out.push('OCSP:');
  out.push('');
  out.push(
    res.revocation.ocsp.length > 0
      ? table(
          ['measurement', 'µs per operation', 'note'],
          res.revocation.ocsp.map(x => [x.name, fmt(x.us, 2), x.note ?? '']),
        )
      : '_not measured_',
  );
  out.push('');
  out.push('## 4. Guard cost per request (POST /echo)');
  out.push('');
  for (const scenario of ['echo-small', 'echo-64k']) {
    if (!res.summaries.some(s => s.scenario === scenario)) continue;
    out.push(`### ${scenario === 'echo-small' ? 'small JSON body' : '64 KiB JSON body'}`);
    out.push('');
    out.push(loadTable(res.summaries, scenario, 'b'));
    out.push('');
  }
  if (res.guards.length > 0) {
    out.push('The guard alone (in-process, pinned):');
    out.push('');
    out.push(
      table(
        ['measurement', 'µs per request', 'note'],
        res.guards.map(x => [x.name, fmt(x.us, 2), x.note ?? '']),
      ),
    );
    out.push('');
  }
  out.push('## 5. Start-up time and idle RSS of the service');
  out.push('');
  out.push(
    table(
      ['configuration', 'rounds', 'spawn to listening ms', 'spawn to first 200 ms', 'idle RSS'],
      res.startup.map(s => [s.label, fmt(s.rounds), fmt(s.startMs), fmt(s.firstRequestMs), fmtBytes(s.idleRssBytes)]),
    ),
  );
  out.push('');
  out.push('## Profiles, fixes, before and after');
  out.push('');
  out.push(
    'Where a target was missed: what the CPU profiles showed, what was changed, and the same harness before and after each step, with the raw data of every run: [benchmarks-fixes.md](benchmarks-fixes.md).',
  );
  out.push('');
  if (res.notes.length > 0) {
    out.push('## Notes');
    out.push('');
    for (const n of res.notes) out.push(`- ${n}`);
    out.push('');
  }
  return out.join('\n');
}

/**
 * Pure statistics and parsing helpers of the bench (unit-tested in test/unit/bench).
 */
import type {LoadRun, LoadSummary, WrkResult} from './types';

export function median(xs: readonly number[]): number {
  const v = xs.filter(x => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Percentile with linear interpolation between closest ranks (p in 0..100). */
export function percentile(xs: readonly number[], p: number): number {
  const v = xs.filter(x => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  if (p <= 0) return v[0];
  if (p >= 100) return v[v.length - 1];
  const rank = (p / 100) * (v.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return v[lo] + (v[hi] - v[lo]) * (rank - lo);
}

/** num / den, or null when either is not a finite number or den is 0. */
export function ratio(num: number, den: number): number | null {
  if (!Number.isFinite(num) || !Number.isFinite(den) || den === 0) return null;
  return num / den;
}

/** utime + stime (clock ticks) from the text of /proc/<pid>/stat. */
export function parseProcStatCpuTicks(text: string): number {
  // comm (field 2) is in parentheses and may itself contain spaces or ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error('unexpected /proc/<pid>/stat format');
  const fields = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('unexpected /proc/<pid>/stat format');
  return utime + stime;
}

/** VmRSS in bytes from the text of /proc/<pid>/status. */
export function parseProcStatusRssBytes(text: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(text);
  if (!m) throw new Error('VmRSS not found');
  return Number(m[1]) * 1024;
}

/** The BENCH_RESULT line of verify.lua. Throws when there is none. */
export function parseWrkOutput(stdout: string): WrkResult {
  const line = stdout.split('\n').find(l => l.startsWith('BENCH_RESULT '));
  if (!line) throw new Error('wrk printed no BENCH_RESULT line');
  return JSON.parse(line.slice('BENCH_RESULT '.length)) as WrkResult;
}

export function wrkProblemCount(w: WrkResult): number {
  const e = w.errors;
  return e.connect + e.read + e.write + e.timeout + w.badStatus + w.mismatches;
}

/** A run is clean when every response was a 200 with the expected body and nothing failed. */
export function isCleanRun(run: LoadRun): boolean {
  return wrkProblemCount(run.wrk) === 0 && run.wrk.responses > 0 && (run.requests > 0 || (run.section === 'handshake' && run.newConnections > 0));
}

function sumRecords(records: readonly Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) for (const [k, v] of Object.entries(r)) out[k] = (out[k] ?? 0) + v;
  return out;
}

function perUnit(totals: Record<string, number>, units: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(totals)) out[k] = units > 0 ? v / units : NaN;
  return out;
}

/** Medians over the rounds of one (scenario, variant). */
export function summarizeRuns(runs: readonly LoadRun[]): LoadSummary {
  if (runs.length === 0) throw new Error('no runs to summarize');
  const {scenario, variant} = runs[0];
  const totalRequests = runs.reduce((n, r) => n + r.requests, 0);
  const totalConnections = runs.reduce((n, r) => n + r.newConnections, 0);
  const parses = sumRecords(runs.map(r => r.parses));
  const problem = runs.find(r => r.wrk.sample)?.wrk.sample;
  return {
    scenario,
    variant,
    rounds: runs.length,
    cleanRounds: runs.filter(isCleanRun).length,
    rps: median(runs.map(r => r.requests / r.windowS)),
    connectionsPerS: median(runs.map(r => r.newConnections / r.windowS)),
    cpuUsPerRequest: median(runs.map(r => (r.requests > 0 ? r.cpuUs / r.requests : NaN))),
    cpuUsPerConnection: median(runs.map(r => (r.newConnections > 0 ? r.cpuUs / r.newConnections : NaN))),
    p50Ms: median(runs.map(r => r.wrk.latencyUs.p50 / 1000)),
    p99Ms: median(runs.map(r => r.wrk.latencyUs.p99 / 1000)),
    serverCpuUtil: median(runs.map(r => r.cpuUs / (r.windowS * 1e6))),
    loadCpuUtil: median(runs.map(r => r.loadCpuUs / (r.windowS * 1e6))),
    eldMaxMs: Math.max(...runs.map(r => r.eldMaxMs)),
    totalRequests,
    totalConnections,
    totalResumed: runs.reduce((n, r) => n + r.resumed, 0),
    errors: runs.reduce((n, r) => n + r.wrk.errors.connect + r.wrk.errors.read + r.wrk.errors.write + r.wrk.errors.timeout, 0),
    badStatus: runs.reduce((n, r) => n + r.wrk.badStatus, 0),
    mismatches: runs.reduce((n, r) => n + r.wrk.mismatches, 0),
    parsesPerRequest: perUnit(parses, totalRequests),
    parsesPerConnection: perUnit(parses, totalConnections),
    ...(problem ? {firstProblem: problem} : {}),
  };
}

/** One summary per (scenario, variant), in first-seen order. */
export function summarizeAll(runs: readonly LoadRun[]): LoadSummary[] {
  const groups = new Map<string, LoadRun[]>();
  for (const r of runs) {
    const k = `${r.scenario}\u0000${r.variant}`;
    const g = groups.get(k);
    if (g) g.push(r);
    else groups.set(k, [r]);
  }
  return [...groups.values()].map(summarizeRuns);
}

/**
 * Per-round paired ratios metric(num)/metric(den) for one scenario (rounds where both ran),
 * e.g. c's CPU per request over b's in the same round.
 */
export function pairedRatios(runs: readonly LoadRun[], scenario: string, num: string, den: string, metric: (r: LoadRun) => number): number[] {
  const byRound = (variant: string) => new Map(runs.filter(r => r.scenario === scenario && r.variant === variant).map(r => [r.round, r]));
  const a = byRound(num);
  const b = byRound(den);
  const out: number[] = [];
  for (const [round, ra] of a) {
    const rb = b.get(round);
    if (!rb) continue;
    const q = ratio(metric(ra), metric(rb));
    if (q !== null) out.push(q);
  }
  return out;
}

/** Rotate `items` by `round` so no variant always runs first in an interleaved round. */
export function rotate<T>(items: readonly T[], round: number): T[] {
  if (items.length === 0) return [];
  const k = ((round % items.length) + items.length) % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

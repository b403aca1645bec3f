/**
 * CI gating for the OpenAPI audit: `--fail-on high|medium|low|none` and `--baseline FILE`
 * (known findings accepted with a reason; new ones fail). Pure evaluator + one bounded reader.
 *
 * Baseline file (JSON):
 *   {"version": 1, "accepted": [{"fingerprint": "<16 hex>", "reason": "why this is accepted",
 *     "ruleId": "...", "method": "...", "path": "...", "location": "..."}]}
 * Only `fingerprint` and a non-empty `reason` are required; the rest documents the entry.
 * `--write-baseline FILE` writes the current findings with an empty reason, which the loader
 * refuses until a human fills every reason in.
 */
import {createHash} from 'node:crypto';
import {constants as C} from 'node:fs';
import fs from 'node:fs/promises';
import type {AuditFinding, Severity} from './openapi-audit';

export type FailOn = 'high' | 'medium' | 'low' | 'none';
export const FAIL_ON_VALUES: readonly FailOn[] = ['high', 'medium', 'low', 'none'];

const RANK: Record<Severity, number> = {high: 3, medium: 2, low: 1, info: 0};
const THRESHOLD: Record<FailOn, number> = {high: 3, medium: 2, low: 1, none: Infinity};

export interface BaselineEntry {
  readonly fingerprint: string;
  readonly reason: string;
  readonly ruleId?: string;
  readonly method?: string;
  readonly path?: string;
  readonly location?: string;
}

export interface Baseline {
  readonly version: 1;
  readonly accepted: readonly BaselineEntry[];
}

export class BaselineError extends Error {}

/** Stable identity of a finding: rule, method, path and location (not the message or severity). */
export function fingerprint(f: Pick<AuditFinding, 'ruleId' | 'method' | 'path' | 'location'>): string {
  return createHash('sha256')
    .update(`${f.ruleId}\0${f.method ?? ''}\0${f.path ?? ''}\0${f.location}`)
    .digest('hex')
    .slice(0, 16);
}

export function parseBaseline(text: string): Baseline {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    throw new BaselineError('baseline: not JSON');
  }
  const o = j as {version?: unknown; accepted?: unknown};
  if (!o || typeof o !== 'object' || o.version !== 1 || !Array.isArray(o.accepted))
    throw new BaselineError('baseline: expected {"version": 1, "accepted": [...]}');
  o.accepted.forEach((e: unknown, i: number) => {
    const x = e as Record<string, unknown>;
    if (!x || typeof x !== 'object' || typeof x.fingerprint !== 'string' || !/^[0-9a-f]{16}$/.test(x.fingerprint))
      throw new BaselineError(`baseline: accepted[${i}].fingerprint must be 16 hex digits`);
    if (typeof x.reason !== 'string' || x.reason.trim() === '')
      throw new BaselineError(`baseline: accepted[${i}] has no reason (every accepted finding needs one)`);
  });
  return o as Baseline;
}

export async function loadBaseline(file: string, maxBytes = 4 * 1024 * 1024): Promise<Baseline> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, C.O_RDONLY | C.O_NONBLOCK);
  } catch {
    throw new BaselineError('baseline: cannot open the file');
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new BaselineError('baseline: not a regular file');
    if (st.size > maxBytes) throw new BaselineError('baseline: file too large');
    const buf = Buffer.alloc(st.size);
    await fh.read(buf, 0, st.size, 0);
    return parseBaseline(buf.toString('utf8'));
  } finally {
    await fh.close().catch(() => undefined);
  }
}

export interface GateResult {
  /** Findings at or above the threshold and not in the baseline: these fail the run. */
  readonly failing: readonly AuditFinding[];
  /** Findings matched by a baseline entry. */
  readonly accepted: ReadonlyArray<{finding: AuditFinding; reason: string}>;
  /** Baseline entries that match no finding any more (fixed: remove them). */
  readonly stale: readonly BaselineEntry[];
  readonly pass: boolean;
}

export function gate(findings: readonly AuditFinding[], failOn: FailOn, baseline?: Baseline): GateResult {
  const byFp = new Map((baseline?.accepted ?? []).map(e => [e.fingerprint, e]));
  const used = new Set<string>();
  const failing: AuditFinding[] = [];
  const accepted: Array<{finding: AuditFinding; reason: string}> = [];
  for (const f of findings) {
    const fp = fingerprint(f);
    const entry = byFp.get(fp);
    if (entry) {
      used.add(fp);
      accepted.push({finding: f, reason: entry.reason});
    } else if (RANK[f.severity] >= THRESHOLD[failOn]) {
      failing.push(f);
    }
  }
  const stale = (baseline?.accepted ?? []).filter(e => !used.has(e.fingerprint));
  return {failing, accepted, stale, pass: failing.length === 0};
}

export function baselineFor(findings: readonly AuditFinding[]): Baseline {
  return {
    version: 1,
    accepted: findings.map(f => ({
      fingerprint: fingerprint(f),
      reason: '',
      ruleId: f.ruleId,
      ...(f.method ? {method: f.method} : {}),
      ...(f.path ? {path: f.path} : {}),
      location: f.location,
    })),
  };
}

/**
 * SARIF 2.1.0 report of an escape-suite run (the shared writer is src/audit/sarif.ts): one rule
 * per catalog case (spec-driven cases: one rule per injected payload), one result per case:
 * failed = error (kind fail), passed = none (kind pass), not applicable = none (kind
 * notApplicable). The artifact is the target URL plus the request path, the logical location the
 * category or the spec operation. The static OpenAPI audit of a `--spec` document, when present,
 * is added as results of its own rules (OA-*).
 */
import {createHash} from 'node:crypto';
import {OPENAPI_AUDIT_RULES, Severity} from '../../audit/openapi-audit';
import {buildSarif, SarifLevel, SarifResult, SarifRule} from '../../audit/sarif';
import type {CaseResult, SuiteResult} from '../runner';

const AUDIT_LEVEL: Record<Severity, SarifLevel> = {high: 'error', medium: 'warning', low: 'note', info: 'note'};
const AUDIT_SEVERITY: Record<Severity, number> = {high: 8.0, medium: 5.0, low: 3.0, info: 0.0};

function ruleIdOf(c: CaseResult): string {
  if (c.category === 'spec') return `spec/${c.id.split(' ').pop() ?? 'case'}`;
  return c.id;
}

const fp = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16);

export function renderSarif(result: SuiteResult): string {
  const rules = new Map<string, SarifRule>();
  const results: SarifResult[] = [];
  const base = result.target.url.replace(/\/+$/, '');
  for (const c of result.results) {
    const ruleId = ruleIdOf(c);
    if (!rules.has(ruleId)) {
      rules.set(ruleId, {
        id: ruleId,
        description: `${c.category}/${c.vector}: expected ${c.expected} (${c.expect_detail}). ${c.reference}`.slice(0, 1000),
        level: 'error',
        securitySeverity: 8.0,
        tags: ['escape-suite', c.category],
      });
    }
    const failed = c.status === 'failed';
    const na = c.status === 'not-applicable';
    const target = c.operation ? c.operation.split(' ').slice(1).join(' ') : '';
    results.push({
      ruleId,
      level: failed ? 'error' : 'none',
      kind: failed ? 'fail' : na ? 'notApplicable' : 'pass',
      message: `${c.id}: ${c.status}. ${c.reason}${c.observed ? ` Observed: ${c.observed}` : ''}`.slice(0, 2000),
      uri: `${base}${target.startsWith('/') ? encodeURI(target) : '/'}`,
      logicalLocation: c.operation ? `${c.operation} ${c.location ?? ''}`.trim() : `${c.category}/${c.vector}`,
      fingerprint: fp(`${c.id}\0${c.location ?? ''}`),
      properties: {status: c.status, category: c.category, vector: c.vector, durationMs: c.durationMs},
    });
  }
  for (const f of result.spec?.audit?.findings ?? []) {
    const rule = OPENAPI_AUDIT_RULES[f.ruleId as keyof typeof OPENAPI_AUDIT_RULES];
    if (!rule) continue;
    if (!rules.has(rule.id))
      rules.set(rule.id, {
        id: rule.id,
        description: rule.description,
        level: AUDIT_LEVEL[rule.severity],
        securitySeverity: AUDIT_SEVERITY[rule.severity],
        tags: ['openapi'],
      });
    results.push({
      ruleId: rule.id,
      level: AUDIT_LEVEL[rule.severity],
      message: `${f.operation ? `${f.operation} ` : ''}(${f.location}): ${rule.description}`.slice(0, 2000),
      uri: `${base}/`,
      ...(f.operation ? {logicalLocation: f.operation} : {}),
      fingerprint: fp(`${f.ruleId}\0${f.operation}\0${f.location}`),
    });
  }
  const log = buildSarif({
    toolName: 'hardened-mtls escape suite',
    toolVersion: '0.1.0',
    rules: [...rules.values()],
    results,
    executionSuccessful: true,
    startTimeUtc: result.startedAt,
    endTimeUtc: result.finishedAt,
  });
  return JSON.stringify(log, null, 2) + '\n';
}

/**
 * JUnit XML: one <testsuite> per category, one <testcase> per case. Failed cases carry a
 * <failure> (reason, payload, observed result, reference); not-applicable cases are <skipped>.
 */
import type {CaseResult, SuiteResult} from '../runner';
import {escapeXml, truncate, visible} from './text';

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function testcase(r: CaseResult): string {
  const name = `${r.id}: ${r.vector}${r.method ? ` ${r.method}` : ''} ${truncate(visible(r.payload), 120)}`;
  const details = [
    `case: ${r.id}${r.refId && r.refId !== r.id ? ` (reference ${r.refId})` : ''}`,
    `category: ${r.category}`,
    `vector: ${r.vector}${r.operation ? `, operation ${r.operation} ${r.location}` : ''}`,
    `payload: ${r.payload}`,
    `expected: ${r.expected} (${r.expect_detail})`,
    `observed: ${r.observed}`,
    `reference: ${r.reference}`,
  ].join('\n');
  let inner = '';
  if (r.status === 'failed')
    inner = `<failure message="${escapeXml(truncate(r.reason, 500))}" type="${escapeXml(r.expect_detail)}">${escapeXml(details)}</failure>`;
  else if (r.status === 'not-applicable') inner = `<skipped message="${escapeXml(truncate(`not applicable: ${r.reason}`, 500))}"/>`;
  inner += `<system-out>${escapeXml(details)}</system-out>`;
  return `    <testcase classname="escape.${escapeXml(r.category)}" name="${escapeXml(name)}" time="${seconds(r.durationMs)}">${inner}</testcase>`;
}

export function renderJUnit(result: SuiteResult): string {
  const groups = new Map<string, CaseResult[]>();
  for (const r of result.results) {
    const g = groups.get(r.category) ?? [];
    g.push(r);
    groups.set(r.category, g);
  }
  const elapsed = Date.parse(result.finishedAt) - Date.parse(result.startedAt);
  const suites: string[] = [];
  for (const [category, rs] of groups) {
    const failures = rs.filter(r => r.status === 'failed').length;
    const skipped = rs.filter(r => r.status === 'not-applicable').length;
    const time = rs.reduce((a, r) => a + r.durationMs, 0);
    suites.push(
      `  <testsuite name="escape.${escapeXml(category)}" tests="${rs.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${seconds(time)}" timestamp="${escapeXml(result.startedAt.replace(/Z$/, ''))}">\n` +
        rs.map(testcase).join('\n') +
        '\n  </testsuite>',
    );
  }
  const t = result.totals;
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<testsuites name="escape suite (${escapeXml(result.target.kind)} ${escapeXml(result.target.url)})" tests="${t.total}" failures="${t.failed}" errors="0" skipped="${t.notApplicable}" time="${seconds(elapsed)}">\n` +
    suites.join('\n') +
    '\n</testsuites>\n'
  );
}

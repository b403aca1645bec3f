/**
 * A self-contained HTML report: no scripts, no external assets (a CSP forbids loading anything),
 * every payload and observation HTML-escaped with control characters shown as escapes.
 * Sections: summary, per category, per operation (spec-driven), failed cases (payload, observed
 * result, reference), not-applicable cases, every case.
 */
import {CATEGORY_DOC, EXPECT_DETAIL_DOC} from '../catalog';
import type {CaseResult, SuiteResult, Totals} from '../runner';
import {escapeHtml, visible} from './text';

const h = (s: string): string => escapeHtml(visible(s));

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#1d1d1f;max-width:1200px}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#0a6b2d}.fail{color:#b00020;font-weight:600}.na{color:#7a5d00}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600}
.badge.ok{background:#0a6b2d}.badge.bad{background:#b00020}
pre{white-space:pre-wrap;word-break:break-all;background:#f7f7f9;padding:6px 8px;margin:0;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace}
.case{border:1px solid #e3c0c5;border-left:5px solid #b00020;padding:.6em .9em;margin:.8em 0}
.muted{color:#666}details{margin:.6em 0}summary{cursor:pointer;font-weight:600}
`;

function totalsRow(label: string, t: Totals, doc?: string): string {
  return (
    `<tr><td>${h(label)}${doc ? `<div class="muted">${h(doc)}</div>` : ''}</td><td class="n">${t.total}</td>` +
    `<td class="n pass">${t.passed}</td><td class="n ${t.failed ? 'fail' : ''}">${t.failed}</td><td class="n na">${t.notApplicable}</td></tr>`
  );
}

function caseBlock(r: CaseResult): string {
  return `<div class="case" id="case-${h(r.id)}">
<div><strong>${h(r.id)}</strong>${r.refId && r.refId !== r.id ? ` (reference ${h(r.refId)})` : ''} · ${h(r.category)} · ${h(r.vector)}${r.method ? ` · ${h(r.method)}` : ''}${r.operation ? ` · ${h(r.operation)} ${h(r.location ?? '')}` : ''}</div>
<table>
<tr><th style="width:9em">Payload</th><td><pre>${h(r.payload)}</pre></td></tr>
<tr><th>Expected</th><td>${h(r.expected)} (${h(r.expect_detail)}): <span class="muted">${h(EXPECT_DETAIL_DOC[r.expect_detail as keyof typeof EXPECT_DETAIL_DOC] ?? '')}</span></td></tr>
<tr><th>Observed</th><td><pre>${h(r.observed)}</pre></td></tr>
<tr><th>Why</th><td>${h(r.reason)}</td></tr>
<tr><th>Reference</th><td>${h(r.reference)}</td></tr>
</table></div>`;
}

function allRow(r: CaseResult): string {
  const cls = r.status === 'passed' ? 'pass' : r.status === 'failed' ? 'fail' : 'na';
  return (
    `<tr><td>${h(r.id)}</td><td>${h(r.category)}</td><td>${h(r.vector)}${r.method ? ` ${h(r.method)}` : ''}</td><td><pre>${h(r.payload)}</pre></td>` +
    `<td>${h(r.expect_detail)}</td><td class="${cls}">${h(r.status)}</td><td>${h(r.observed)}</td></tr>`
  );
}

export function renderHtml(result: SuiteResult): string {
  const t = result.totals;
  const failed = result.results.filter(r => r.status === 'failed');
  const na = result.results.filter(r => r.status === 'not-applicable');
  const ok = t.failed === 0;
  const ops = Object.entries(result.byOperation);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'; base-uri 'none'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Escape suite report: ${h(result.target.url)}</title>
<style>${CSS}</style></head><body>
<h1>Escape-attempt suite</h1>
<p><span class="badge ${ok ? 'ok' : 'bad'}">${ok ? 'NO FAILURES' : `${t.failed} FAILED`}</span>
 ${t.total} cases: <span class="pass">${t.passed} passed</span>, <span class="${t.failed ? 'fail' : ''}">${t.failed} failed</span>, <span class="na">${t.notApplicable} not applicable</span></p>
<table>
<tr><th style="width:12em">Target</th><td>${h(result.target.kind)}: ${h(result.target.url)}</td></tr>
<tr><th>Run</th><td>${h(result.startedAt)} to ${h(result.finishedAt)}</td></tr>
<tr><th>Refusal codes</th><td>${result.strictCodes ? 'strict (a 4xx must carry a GUARD_/SSRF_/AUTH_ refusal code)' : 'lenient (any 4xx counts as a refusal)'}</td></tr>
${result.spec ? `<tr><th>OpenAPI spec</th><td>${h(result.spec.source)}: ${result.spec.operations} operations, ${result.spec.cases} generated cases${result.spec.error ? ` <span class="fail">${h(result.spec.error)}</span>` : ''}</td></tr>` : ''}
${result.notes.map(n => `<tr><th>Note</th><td>${h(n)}</td></tr>`).join('\n')}
</table>
<h2>Per category</h2>
<table><tr><th>Category</th><th>Cases</th><th>Passed</th><th>Failed</th><th>N/A</th></tr>
${Object.entries(result.byCategory)
  .map(([c, tt]) =>
    totalsRow(
      c,
      tt,
      CATEGORY_DOC[c as keyof typeof CATEGORY_DOC] ??
        (c === 'spec' ? 'Spec-driven: catalog payloads injected into every string parameter of every operation.' : undefined),
    ),
  )
  .join('\n')}
${totalsRow('all', t)}
</table>
${
  ops.length
    ? `<h2>Per operation (spec-driven)</h2>
<table><tr><th>Operation</th><th>Cases</th><th>Passed</th><th>Failed</th><th>N/A</th></tr>
${ops.map(([o, tt]) => totalsRow(o, tt)).join('\n')}
</table>`
    : ''
}
${
  result.spec?.audit
    ? `<h2>OpenAPI audit of the same document</h2>
<p>${Object.entries(result.spec.audit.counts)
        .map(([k, n]) => `${h(k)}: ${n}`)
        .join(', ')}</p>
${
  result.spec.audit.findings.length
    ? `<table><tr><th>Rule</th><th>Severity</th><th>Operation</th><th>Location</th></tr>
${result.spec.audit.findings.map(f => `<tr><td>${h(f.ruleId)}</td><td>${h(f.severity)}</td><td>${h(f.operation)}</td><td>${h(f.location)}</td></tr>`).join('\n')}
</table>`
    : '<p class="pass">No findings.</p>'
}`
    : ''
}
<h2>Failed cases (${failed.length})</h2>
${failed.length ? failed.map(caseBlock).join('\n') : '<p class="pass">None.</p>'}
<h2>Not applicable (${na.length})</h2>
${
  na.length
    ? `<details><summary>${na.length} cases need what this run did not have</summary>
<table><tr><th>Case</th><th>Category</th><th>Why</th></tr>
${na.map(r => `<tr><td>${h(r.id)}</td><td>${h(r.category)}</td><td>${h(r.reason)}</td></tr>`).join('\n')}
</table></details>`
    : '<p>None.</p>'
}
<h2>All cases</h2>
<details><summary>${t.total} cases</summary>
<table><tr><th>Case</th><th>Category</th><th>Vector</th><th>Payload</th><th>Expected</th><th>Result</th><th>Observed</th></tr>
${result.results.map(allRow).join('\n')}
</table></details>
</body></html>
`;
}

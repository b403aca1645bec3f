/** Reports from a synthetic result full of hostile payloads: well-formed, escaped, self-contained. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {escapeHtml, renderHtml, renderJUnit, visible, writeReports, REPORT_FILES} from '../../src/escape/report';
import {CaseResult, summarize, SuiteResult} from '../../src/escape/runner';
import {givenTempDir} from '../fixtures/pki';
import {assertHtml, assertJsonReport, assertJUnit} from './support/report-checks';

const hostile = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "' onmouseover='alert(1)",
  'http://127.0.0.1:2375/\r\nX-Injected: 1',
  '{"path":"/proc/self/environ\u0000.png"}',
  '</testcase></testsuite><testsuite name="x">',
  ']]><![CDATA[',
  '&amp; &#0; &lt;',
  'lone surrogate \ud800 here',
  '<link rel=stylesheet href=https://evil.test/x.css>',
  '`${1}` \u2028 \u001b[31m',
];

function givenResult(): SuiteResult {
  const statuses: CaseResult['status'][] = ['passed', 'failed', 'not-applicable'];
  const results: CaseResult[] = hostile.map((payload, i) => ({
    id: `HM-XX-${String(i + 1).padStart(3, '0')}`,
    refId: null,
    source: 'this project',
    category: i % 2 ? 'host-path' : 'ssrf-scheme',
    vector: 'body',
    payload,
    expected: 'reject',
    expect_detail: '4xx',
    reference: `ref <b>${i}</b> & co`,
    status: statuses[i % 3],
    reason: `because ${payload}`,
    observed: `HTTP 200 ${payload}`,
    durationMs: 3,
  }));
  results.push({
    ...results[0],
    id: 'SPEC POST /echo body:/value HP-038',
    category: 'spec',
    operation: 'POST /echo',
    location: 'body:/value',
    status: 'failed',
  });
  const s = summarize(results);
  return {
    tool: 'hardened-mtls escape suite',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:01.000Z',
    target: {kind: 'remote', url: 'https://example.test:8443/<x>'},
    strictCodes: true,
    ...s,
    results,
    notes: ['note with <b>markup</b>'],
    spec: {source: 'spec "file"', operations: 1, cases: 1},
  };
}

describe('escape: reports (escape)', () => {
  const result = givenResult();

  it('JUnit XML is well-formed: one testcase per case, failures and skips marked, payloads verbatim', () => {
    const root = assertJUnit(renderJUnit(result), result);
    assert.deepEqual(
      root.children.map(s => s.attrs.name),
      ['escape.ssrf-scheme', 'escape.host-path', 'escape.spec'],
    );
    const failure = root.children[0].children.find(tc => tc.children.some(c => c.name === 'failure'))!;
    assert.match(failure.children.find(c => c.name === 'failure')!.text, /observed: HTTP 200/);
  });

  it('JSON carries the full result', () => {
    assertJsonReport(JSON.stringify(result), result);
  });

  it('HTML is self-contained, has no script, and escapes every payload, reason and reference', () => {
    const html = renderHtml(result);
    assertHtml(html, result);
    assert.ok(!html.includes('<b>markup</b>'));
    assert.ok(!html.includes('<script>alert(1)</script>'));
    assert.ok(html.includes(escapeHtml(visible(hostile[3]))), 'CRLF shown as \\r\\n');
    assert.ok(html.includes('\\r\\nX-Injected'));
    assert.match(html, /Per operation/);
    assert.match(html, /POST \/echo/);
  });

  it('writes the requested formats into the output directory', () => {
    const dir = path.join(givenTempDir('escape-rep-'), 'out');
    const files = writeReports(result, dir, ['junit', 'html']);
    assert.deepEqual(Object.keys(files).sort(), ['html', 'junit']);
    assert.ok(fs.existsSync(path.join(dir, REPORT_FILES.junit)));
    assert.ok(!fs.existsSync(path.join(dir, REPORT_FILES.json)));
  });
});

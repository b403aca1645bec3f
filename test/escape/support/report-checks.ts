/** Checks shared by the report tests and the full-suite test: the three reports are well-formed. */
import assert from 'node:assert/strict';
import {escapeHtml, visible} from '../../../src/escape/report';
import type {SuiteResult} from '../../../src/escape/runner';
import {parseXml, XmlElement} from './xml';

export function assertJUnit(xml: string, result: SuiteResult): XmlElement {
  const root = parseXml(xml);
  assert.equal(root.name, 'testsuites');
  assert.equal(Number(root.attrs.tests), result.totals.total);
  assert.equal(Number(root.attrs.failures), result.totals.failed);
  assert.equal(Number(root.attrs.skipped), result.totals.notApplicable);
  const cases = root.children.flatMap(s => {
    assert.equal(s.name, 'testsuite');
    assert.equal(Number(s.attrs.tests), s.children.length);
    return s.children;
  });
  assert.equal(cases.length, result.results.length, 'one testcase per case');
  for (const [i, tc] of cases.entries()) {
    assert.equal(tc.name, 'testcase');
    const r = result.results.find(x => tc.attrs.name.startsWith(`${x.id}: `));
    assert.ok(r, `testcase ${tc.attrs.name} has no result`);
    const kinds = tc.children.map(c => c.name);
    if (r.status === 'failed') assert.ok(kinds.includes('failure'), `${r.id}: no <failure>`);
    else if (r.status === 'not-applicable') assert.ok(kinds.includes('skipped'), `${r.id}: no <skipped>`);
    else assert.ok(!kinds.includes('failure') && !kinds.includes('skipped'), `${r.id}: passed but marked`);
    const out = tc.children.find(c => c.name === 'system-out')!;
    assert.ok(out.text.includes(`payload: ${visible(r.payload)}`), `${r.id} (#${i}): payload not carried verbatim`);
  }
  return root;
}

export function assertJsonReport(text: string, result: SuiteResult): void {
  const j = JSON.parse(text) as SuiteResult;
  assert.deepEqual(j.totals, result.totals);
  assert.equal(j.results.length, result.results.length);
  for (const [i, r] of j.results.entries()) assert.equal(r.payload, result.results[i].payload);
}

/**
 * Self-contained (no script, no external asset or link) and every payload escaped. Payload text
 * is escaped, so every literal '<' starts a real tag: the tags and their attributes are checked.
 */
export function assertHtml(html: string, result: SuiteResult): void {
  assert.match(html, /^<!DOCTYPE html>/);
  assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
  const allowedTags = new Set([
    'html',
    'head',
    'meta',
    'title',
    'style',
    'body',
    'h1',
    'h2',
    'p',
    'span',
    'table',
    'tr',
    'th',
    'td',
    'div',
    'strong',
    'pre',
    'details',
    'summary',
  ]);
  for (const m of html.matchAll(/<\/?([A-Za-z][\w-]*)([^>]*)>/g)) {
    const tag = m[1].toLowerCase();
    assert.ok(allowedTags.has(tag), `unexpected <${tag}>`);
    const attrs = [...m[2].matchAll(/([\w-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)/g)].map(a => [a[1].toLowerCase(), a[2]]);
    assert.equal(
      m[2]
        .replace(/([\w-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)/g, '')
        .trim()
        .replace(/\/$/, ''),
      '',
      `<${tag}${m[2]}> has stray attribute text`,
    );
    for (const [a, v] of attrs) {
      assert.ok(['class', 'id', 'lang', 'charset', 'http-equiv', 'content', 'name', 'style'].includes(a), `<${tag} ${a}=...>`);
      assert.doesNotMatch(v, /https?:|\/\/|javascript:|url\(/i, `<${tag} ${a}=${v}> holds a URL`);
    }
  }
  const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? '';
  assert.doesNotMatch(style, /url\(|@import|https?:/i);
  for (const r of result.results) {
    assert.ok(html.includes(escapeHtml(visible(r.payload))), `${r.id}: payload missing or not escaped`);
  }
  for (const [cat] of Object.entries(result.byCategory)) assert.ok(html.includes(escapeHtml(cat)), `category ${cat} missing`);
}

/**
 * The catalog is data: every reference case is present exactly once (same id, same payload and
 * expectation), the cases this project adds are marked, and validation refuses malformed cases.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {CATEGORIES, CATEGORY_DOC, CatalogError, EscapeCase, loadCatalog, selectCases, validateCase, validateCatalog} from '../../src/escape/catalog';
import {SCENARIOS} from '../../src/escape/scenario-certs';

const REPO = path.resolve(__dirname, '..', '..', '..');
const VENDORED = path.join(REPO, 'test', 'escape', 'fixtures', 'reference-catalog.json');

interface RefCase {
  id: string;
  category: string;
  vector: string;
  payload: string;
  expected: string;
  expect_detail: string;
  source: string;
  method?: string;
  content_type?: string;
  dns?: unknown;
  upstream?: unknown;
  notes?: string;
}

describe('escape: catalog data (escape)', () => {
  const catalog = loadCatalog();
  const refRaw = fs.readFileSync(VENDORED);
  const reference = JSON.parse(refRaw.toString('utf8')) as RefCase[];

  it('the vendored reference is the one the catalog was mapped from (pinned sha256), and equals the shared reference where present', () => {
    assert.equal(crypto.createHash('sha256').update(refRaw).digest('hex'), catalog.reference.sha256);
    assert.equal(reference.length, catalog.reference.cases);
    assert.equal(reference.length, 318);
    const shared = [
      process.env.ESCAPE_REFERENCE,
      path.resolve(REPO, '..', 'shared', 'escape-reference', 'catalog.json'),
      path.resolve(REPO, '..', '..', 'shared', 'escape-reference', 'catalog.json'),
    ].filter((p): p is string => !!p && fs.existsSync(p));
    for (const p of shared) assert.ok(fs.readFileSync(p).equals(refRaw), `${p} differs from the vendored reference: re-map the catalog`);
  });

  it('covers every reference id exactly once, with the same case content', () => {
    const byRef = new Map<string, EscapeCase[]>();
    for (const c of catalog.cases) if (c.refId !== null) byRef.set(c.refId, [...(byRef.get(c.refId) ?? []), c]);
    const missing = reference.filter(r => !byRef.has(r.id)).map(r => r.id);
    assert.deepEqual(missing, []);
    const twice = [...byRef].filter(([, cs]) => cs.length !== 1).map(([id]) => id);
    assert.deepEqual(twice, []);
    const unknown = [...byRef.keys()].filter(id => !reference.some(r => r.id === id));
    assert.deepEqual(unknown, []);
    for (const r of reference) {
      const c = byRef.get(r.id)![0];
      assert.equal(c.source, 'reference catalog', r.id);
      assert.deepEqual(
        {
          category: c.category,
          vector: c.vector,
          payload: c.payload,
          expected: c.expected,
          expect_detail: c.expect_detail,
          reference: c.reference,
          method: c.method,
          content_type: c.content_type,
          dns: c.dns,
          upstream: c.upstream,
          notes: c.notes,
        },
        {
          category: r.category,
          vector: r.vector,
          payload: r.payload,
          expected: r.expected,
          expect_detail: r.expect_detail,
          reference: r.source,
          method: r.method,
          content_type: r.content_type,
          dns: r.dns,
          upstream: r.upstream,
          notes: r.notes,
        },
        r.id,
      );
    }
  });

  it('marks the cases this project adds (refId null, HM- id, source "this project")', () => {
    const own = catalog.cases.filter(c => c.refId === null);
    assert.ok(own.length >= 40, `only ${own.length} added cases`);
    for (const c of own) {
      assert.equal(c.source, 'this project', c.id);
      assert.match(c.id, /^HM-[A-Z0-9]+-\d{3}$/);
    }
    assert.equal(catalog.cases.length, reference.length + own.length);
  });

  it('covers every category of the issue, each documented, with benign controls that must pass', () => {
    const used = new Set(catalog.cases.map(c => c.category));
    for (const cat of CATEGORIES) {
      assert.ok(used.has(cat), `no case in ${cat}`);
      assert.ok(CATEGORY_DOC[cat].length > 20);
    }
    assert.ok(catalog.cases.filter(c => c.expected === 'allow').length >= 20);
    assert.ok(catalog.cases.some(c => c.vector === 'runtime' && c.runtime && 'probe' in c.runtime && c.runtime.probe === 'child-process'));
    for (let i = 1; i <= 23; i++) {
      const id = `RT-${String(i).padStart(3, '0')}`;
      assert.ok(
        catalog.cases.some(c => c.runtime && 'covers' in c.runtime && c.runtime.covers === id),
        id,
      );
    }
  });

  it('every TLS case names a known scenario certificate (or none)', () => {
    const names = new Set(SCENARIOS.map(s => s.name));
    for (const c of catalog.cases.filter(x => x.vector === 'tls')) {
      if (c.tls!.scenario !== null) assert.ok(names.has(c.tls!.scenario), `${c.id}: ${c.tls!.scenario}`);
    }
  });

  const good: EscapeCase = {
    id: 'HM-PT-999',
    refId: null,
    source: 'this project',
    category: 'path-traversal',
    vector: 'path',
    payload: '/static/../x',
    expected: 'reject',
    expect_detail: '4xx',
    reference: 'test',
  };
  const bad: Array<[string, Record<string, unknown>]> = [
    ['unknown category', {category: 'nope'}],
    ['unknown vector', {vector: 'smoke'}],
    ['unknown expectation', {expect_detail: '5xx'}],
    ['allow with a reject detail', {expected: 'allow'}],
    ['reject with an allow detail', {expect_detail: '2xx'}],
    ['project case with a refId', {refId: 'PT-001'}],
    ['project case without HM- id', {id: 'PT-999'}],
    ['reference case without refId', {source: 'reference catalog', refId: null}],
    ['unknown source', {source: 'internet'}],
    ['empty payload', {payload: ''}],
    ['tls case without setup', {vector: 'tls', category: 'mtls'}],
    ['tls setup on a path case', {tls: {scenario: 'valid'}}],
    ['bad tls version', {vector: 'tls', category: 'mtls', tls: {scenario: 'valid', client: {maxVersion: 'SSLv3'}}}],
    ['runtime case without probe', {vector: 'runtime', category: 'runtime-posture', expect_detail: 'denied'}],
    ['header payload without "Name: value"', {vector: 'header', payload: 'no colon'}],
    ['dns answer not a list', {dns: {'a.test': '127.0.0.1'}}],
    ['unsupported method', {method: 'TRACE'}],
  ];
  for (const [why, patch] of bad) {
    it(`validation refuses: ${why}`, () => {
      assert.throws(() => validateCase({...good, ...patch}), CatalogError);
    });
  }

  it('validation refuses duplicate ids and a reference id mapped twice', () => {
    const doc = (cases: unknown[]) => ({version: 1, reference: {file: 'x', sha256: 'y', cases: 1}, cases});
    assert.throws(() => validateCatalog(doc([good, good])), CatalogError);
    const r1 = {...good, id: 'PT-001', refId: 'PT-001', source: 'reference catalog'};
    const r2 = {...good, id: 'PT-002', refId: 'PT-001', source: 'reference catalog'};
    assert.throws(() => validateCatalog(doc([r1, r2])), CatalogError);
    assert.equal(validateCatalog(doc([good, r1])).cases.length, 2);
  });

  it('selects by category, id (or reference id) and vector; unknown categories are an error', () => {
    assert.ok(selectCases(catalog.cases, {categories: ['mtls']}).every(c => c.category === 'mtls'));
    assert.deepEqual(
      selectCases(catalog.cases, {ids: ['PT-001', 'HM-RT-001']}).map(c => c.id),
      ['PT-001', 'HM-RT-001'],
    );
    assert.ok(selectCases(catalog.cases, {vectors: ['query']}).every(c => c.vector === 'query'));
    assert.throws(() => selectCases(catalog.cases, {categories: ['nope']}), CatalogError);
  });
});

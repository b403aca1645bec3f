/**
 * The inspectValue() pre-filter (src/guards/prefilter.ts) is conservative: it only ever skips the
 * full inspection of values the full inspection would let through. Catalog classification tables,
 * and fast-check properties comparing the pre-filtered and the full inspection on strings built
 * from every rule keyword, separator and encoding.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {pathShape, PathShape, tokens} from '../../../src/guards/normalize';
import {compilePrefilter, isInert, literalAlternatives, requiresLiteralDot} from '../../../src/guards/prefilter';
import {inspectRequest, inspectValue, inspectValueFully, prefilterActive} from '../../../src/guards/request-policy';
import {GUARD_RULES, GuardRule} from '../../../src/guards/rules';

const KINDS = ['query', 'header', 'body', 'param'] as const;

/** Every literal word of the catalog: segment patterns, schemes, host names, addresses, labels, keys. */
function catalogWords(): string[] {
  const words = new Set<string>();
  for (const r of GUARD_RULES) {
    const m = r.match;
    const sources =
      m.kind === 'segments'
        ? m.segments
        : m.kind === 'url-scheme'
          ? m.schemes
          : m.kind === 'url-host'
            ? [...m.names, ...m.addresses, ...m.embeddedLabels, ...m.cidrs]
            : m.kind === 'json-key'
              ? m.keys
              : [];
    for (const s of sources) {
      words.add(s.replace(/\\/g, ''));
      for (const w of s.match(/[A-Za-z0-9_+-]{2,}/g) ?? []) words.add(w);
    }
  }
  return [...words];
}

const SEPARATORS_AND_ENCODINGS = [
  '/',
  '\\',
  '.',
  '..',
  '...',
  ':',
  '://',
  ';',
  '&',
  '@',
  '~',
  '%',
  '=',
  '"',
  '#',
  '?',
  '+',
  ' ',
  ',',
  '%2f',
  '%2F',
  '%2e',
  '%5c',
  '%252f',
  '%25252e',
  '%u002f',
  '%U002E',
  '%c0%af',
  '%c0%ae',
  '%e0%80%ae',
  '%00',
  '%zz',
  '\uff0f',
  '\uff0e',
  '\u2215',
  '\u2044',
  '\u3002',
  '\ufe52',
  '\u0130',
  '\u212a',
  '\u0000',
  '\t',
  '\n',
  '\r',
  '\u000b',
  '\u0001',
  '\u001f',
  '\u007f',
  '\u0080',
  '\u00a0',
  '\ud800',
  '\udc00',
  '\ud83d\ude00',
  'file:',
  'unix:',
  'http://',
  'https://169.254.169.254/',
  '[fe80::1]',
];

const WORDS = catalogWords();

/** Strings built from catalog words (any case), separators, encodings and arbitrary characters. */
const suspicious: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      fc.constantFrom(...WORDS),
      fc.constantFrom(...WORDS).map(w => w.toUpperCase()),
      fc.constantFrom(...SEPARATORS_AND_ENCODINGS),
      fc.string({maxLength: 3}),
      fc.string({unit: 'binary', maxLength: 3}),
    ),
    {maxLength: 14},
  )
  .map(parts => parts.join(''));

/** Mostly inert strings: letters, digits, spaces, `_`, `-` and catalog words (which the pre-filter must notice). */
const nearlyInert: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(fc.constantFrom('a', 'Z', '0', '9', ' ', '_', '-', '\t', 'x_y', 'engine', 'docker', 'release', 'agent'), fc.constantFrom(...WORDS)),
    {
      maxLength: 10,
    },
  )
  .map(parts => parts.join(''));

describe('guards: inspectValue pre-filter (unit)', () => {
  it('is active for the shipped catalog (every rule classified)', () => {
    assert.equal(prefilterActive(), true);
    const pf = compilePrefilter(GUARD_RULES);
    assert.ok(pf);
    assert.deepEqual(pf.keywords, ['core_pattern', 'docker_engine', 'notify_on_release', 'release_agent', 'sysrq-trigger', 'uevent_helper']);
  });

  describe('pattern classification', () => {
    const DOT_TABLE: Array<[string, boolean]> = [
      [String.raw`.*\.sock(?:[.:].*)?`, true],
      [String.raw`\.(?:docker|kube|ssh)`, true],
      [String.raw`kubernetes\.io`, true],
      [String.raw`a\.+`, true],
      [String.raw`a\.?b`, false],
      [String.raw`a\.*`, false],
      [String.raw`a\.{0,2}`, false],
      [String.raw`(?:x\.y)?z`, false],
      [String.raw`(?:x\.y|z)`, false],
      [String.raw`x\.y|z`, false],
      [String.raw`[\.]x`, false],
      [String.raw`\\.x`, false],
      [String.raw`(?=a)\.b`, false],
      [String.raw`(a)\1\.`, false],
      [String.raw`[unterminated\.`, false],
      ['proc', false],
    ];
    for (const [src, expected] of DOT_TABLE) {
      it(`requiresLiteralDot(${JSON.stringify(src)}) = ${expected}`, () => assert.equal(requiresLiteralDot(src), expected));
    }

    const ALT_TABLE: Array<[string, string[] | null]> = [
      ['docker_engine', ['docker_engine']],
      ['(?:release_agent|core_pattern|sysrq-trigger)', ['release_agent', 'core_pattern', 'sysrq-trigger']],
      [String.raw`(?:a|b\.c)`, null],
      ['(?:a|(?:b|c))', null],
      ['tty\\w*', null],
      ['(?:A|b)', null],
    ];
    for (const [src, expected] of ALT_TABLE) {
      it(`literalAlternatives(${JSON.stringify(src)})`, () => assert.deepEqual(literalAlternatives(src), expected));
    }

    const rule = (segments: string[], anchor: 'root' | 'anywhere' = 'anywhere'): GuardRule => ({
      id: 'T',
      category: 'host-path',
      description: '',
      rationale: '',
      match: {kind: 'segments', anchor, segments, scope: 'all'},
    });
    it('disables itself for a single-segment anywhere rule it cannot classify', () => {
      assert.equal(compilePrefilter([...GUARD_RULES, rule(['[a-z]+sock'])]), null);
      assert.equal(compilePrefilter([...GUARD_RULES, rule([String.raw`x\.?sock`])]), null);
      assert.equal(compilePrefilter([rule(['(?:a|b.c)'])]), null);
    });
    it('ignores rules that need a slash (root anchor, several segments)', () => {
      assert.deepEqual(compilePrefilter([rule(['[a-z]+'], 'root'), rule(['x', '.*'])])?.keywords, []);
    });
    it('takes keywords from literal alternations', () => {
      const pf = compilePrefilter([rule(['(?:foo|bar-baz)'])])!;
      assert.deepEqual(pf.keywords, ['bar-baz', 'foo']);
      assert.equal(isInert(pf, 'a FOO b', false), false);
      assert.equal(isInert(pf, 'a fo o b', false), true);
    });
  });

  it('admits plain text and refuses suspicious characters, non-ASCII and keywords', () => {
    const pf = compilePrefilter(GUARD_RULES)!;
    for (const s of ['', 'alpha bravo', 'cedar-delta_ember 42', 'Line one\tand\r\ntwo', 'a+b', 'x(y)z', 'it\'s "quoted"', '{json}', '<tag>'])
      assert.equal(isInert(pf, s, false), true, JSON.stringify(s));
    for (const s of [
      'a/b',
      'a\\b',
      '50%',
      'v1.2',
      'x:y',
      '~root',
      'a;b',
      'a&b',
      'a@b',
      'caf\u00e9',
      '\uff0fetc',
      'DOCKER_ENGINE',
      'x_release_agent_y',
      'a\u0000b',
      'a\u0001b',
      'a\u007fb',
    ])
      assert.equal(isInert(pf, s, false), false, JSON.stringify(s));
    // strict (query) decoding flags tab and line breaks: never inert there
    assert.equal(isInert(pf, 'a\tb', true), false);
    assert.equal(isInert(pf, 'a\nb', true), false);
    assert.equal(isInert(pf, 'a b', true), true);
  });

  it('pre-filtered and full inspection agree on generated strings (every kind)', () => {
    const pf = compilePrefilter(GUARD_RULES)!;
    let inert = 0;
    let findings = 0;
    fc.assert(
      fc.property(fc.oneof(suspicious, nearlyInert), fc.constantFrom(...KINDS), (s, kind) => {
        const full = inspectValueFully(s, kind);
        assert.deepEqual(inspectValue(s, kind), full, `${kind} ${JSON.stringify(s)}`);
        if (isInert(pf, s, kind === 'query')) {
          inert++;
          assert.equal(full, null, `inert but the full inspection finds ${JSON.stringify(full)}: ${kind} ${JSON.stringify(s)}`);
        }
        if (full !== null) findings++;
      }),
      {numRuns: 4000},
    );
    // The property is not vacuous: both branches were exercised.
    assert.ok(inert > 100, `inert cases: ${inert}`);
    assert.ok(findings > 100, `finding cases: ${findings}`);
  });

  it('a keyword or separator next to plain text still reaches the rules (no over-skipping)', () => {
    const cases: Array<[string, string]> = [
      ['docker_engine', 'RS-NAMED-PIPE'],
      ['Release_Agent', 'HP-KERNEL-KNOB'],
      ['see core_pattern now', 'HP-KERNEL-KNOB'],
      ['x.sock', 'RS-SOCKET-FILE'],
      ['.kube', 'HP-CREDENTIAL-DIR'],
      ['%2fproc%2fself', 'HP-PROC'],
    ];
    for (const [s, id] of cases) assert.equal(inspectValue(s, 'body')?.ruleId, id, s);
  });

  it('JSON bodies: a finding deep in a large benign document keeps its pointer', () => {
    const items = Array.from({length: 500}, (_, i) => ({id: i, name: `alpha ${i}`, tags: ['bravo', 'cedar']}));
    const doc = {items, meta: {'odd key!': [{}, {path: '/etc/shadow'}]}};
    const v = inspectRequest({rawTarget: '/echo', headers: [], body: {contentType: 'application/json', text: JSON.stringify(doc)}});
    assert.equal(v.ok, false);
    if (!v.ok) assert.deepEqual([v.code, v.ruleId, v.location], ['GUARD_DENIED_REFERENCE', 'HP-ETC', 'body:/meta/#0/1/path']);
    const ok = inspectRequest({rawTarget: '/echo', headers: [], body: {contentType: 'application/json', text: JSON.stringify({items})}});
    assert.equal(ok.ok, true);
  });
});

/** The split-based definitions the single-pass pathShape() and tokens() replaced (the specification). */
function referencePathShape(form: string): PathShape {
  const s = form.replace(/\\/g, '/');
  const raw: string[] = [];
  const resolved: string[] = [];
  let dotDot = false;
  let escapes = false;
  let dotsOnly = false;
  for (const part of s.split('/')) {
    const seg = part.split(';')[0].replaceAll('\u0000', '');
    if (seg === '' || seg === '.') continue;
    raw.push(seg);
    if (seg === '..') {
      dotDot = true;
      if (resolved.length === 0) escapes = true;
      else resolved.pop();
      continue;
    }
    if (/^\.{3,}$/.test(seg)) dotsOnly = true;
    resolved.push(seg);
  }
  return {absolute: s.startsWith('/'), pathLike: s.includes('/'), raw, resolved, dotDot, escapes, dotsOnly};
}

function referenceTokens(form: string): string[] {
  const set = new Set<string>();
  const add = (t: string) => {
    if (t !== '') set.add(t);
  };
  const words = form.split(/\s+/);
  if (words.length <= 1) add(form);
  for (const w of words) add(w);
  for (const w of form.split(/[\s"'<>`{}|^,;=&()]+/)) add(w);
  return [...set];
}

describe('guards: single-pass normaliser helpers agree with their split-based definitions', () => {
  const pathSoup = fc
    .array(
      fc.oneof(
        fc.constantFrom('/', '\\', '.', '..', '...', ';', ';x=1', '\u0000', ' ', 'a', 'etc', 'proc', 'self', '=', ','),
        fc.string({maxLength: 3}),
      ),
      {maxLength: 16},
    )
    .map(a => a.join(''));
  it('pathShape', () => {
    fc.assert(
      fc.property(fc.oneof(pathSoup, fc.string({unit: 'binary', maxLength: 20})), s =>
        assert.deepEqual(pathShape(s), referencePathShape(s), JSON.stringify(s)),
      ),
      {numRuns: 3000},
    );
  });
  it('tokens', () => {
    fc.assert(
      fc.property(fc.oneof(pathSoup, fc.string({maxLength: 20})), s => assert.deepEqual(tokens(s), referenceTokens(s), JSON.stringify(s))),
      {numRuns: 3000},
    );
  });
});

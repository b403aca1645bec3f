/**
 * Property tests (fast-check) for the normaliser, the request guard, the JSON scanner and the URL
 * checker: generated encodings of denied references always deny, normalisation is idempotent,
 * no input throws.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import {checkAddress} from '../../../src/outbound/ip-policy';
import {scanJson} from '../../../src/guards/json-scan';
import {canonicalPath, decodeText, fold} from '../../../src/guards/normalize';
import {inspectRequest, inspectTargetPath, inspectValue} from '../../../src/guards/request-policy';
import {checkOutboundUrl, compileOutboundPolicy} from '../../../src/outbound/url-policy';

const RUNS = {numRuns: 300};

const DENIED_REFERENCES = [
  '/proc/self/environ',
  '/proc/1/root/etc/shadow',
  '/var/run/docker.sock',
  '/run/containerd/containerd.sock',
  '/etc/shadow',
  '/static/../../etc/passwd',
  '/v1.41/containers/json',
  '/containers/create',
  '/api/v1/namespaces/default/secrets',
  '/apis/rbac.authorization.k8s.io/v1',
  '/sys/fs/cgroup/release_agent',
  '/var/run/secrets/kubernetes.io/serviceaccount/token',
  '/root/.kube/config',
  '/home/app/.docker/config.json',
  '/dev/mem',
  '/_ping',
];

const hex = (b: number, upper: boolean) => {
  const h = b.toString(16).padStart(2, '0');
  return `%${upper ? h.toUpperCase() : h}`;
};
const utf8 = (ch: string) => [...Buffer.from(ch, 'utf8')];

/** Every way the catalog (and a few more) encode one character. */
function encodingsOf(ch: string): fc.Arbitrary<string> {
  const code = ch.charCodeAt(0);
  const options: Array<fc.Arbitrary<string>> = [
    fc.constant(ch),
    fc.boolean().map(u =>
      utf8(ch)
        .map(b => hex(b, u))
        .join(''),
    ), // %XX
    fc.boolean().map(u =>
      utf8(ch)
        .map(b => `%25${hex(b, u).slice(1)}`)
        .join(''),
    ), // %25XX
    fc.constant(
      utf8(ch)
        .map(b => `%2525${b.toString(16).padStart(2, '0')}`)
        .join(''),
    ), // %2525XX
    fc.constant(`%u${code.toString(16).padStart(4, '0')}`), // %uXXXX
  ];
  if (code < 0x80) {
    options.push(fc.constant(hex(0xc0 | (code >> 6), false) + hex(0x80 | (code & 0x3f), false))); // overlong 2-byte
    options.push(fc.constant('%e0' + hex(0x80 | (code >> 6), false) + hex(0x80 | (code & 0x3f), false))); // overlong 3-byte
  }
  if (/[a-z]/.test(ch)) {
    options.push(fc.constant(ch.toUpperCase()));
    options.push(fc.constant(String.fromCharCode(0xff41 + code - 0x61))); // fullwidth letter
  }
  if (/[0-9]/.test(ch)) options.push(fc.constant(String.fromCharCode(0xff10 + code - 0x30)));
  if (ch === '.') options.push(fc.constantFrom('\uff0e', '%uff0e', '%EF%BC%8E', '\ufe52', '%ef%b9%92'));
  if (ch === '/') options.push(fc.constantFrom('\uff0f', '\u2215', '%u2215', '%E2%88%95', '\\', '%5c', '%255C', '//', '/./', '/;x=1/'));
  return fc.oneof(...options);
}

function encodedReference(): fc.Arbitrary<string> {
  return fc.constantFrom(...DENIED_REFERENCES).chain(ref => {
    // Keep the leading slash literal (a request target must start with one) and encode the rest.
    const rest = ref.slice(1);
    return fc.tuple(...[...rest].map(encodingsOf)).map(parts => '/' + parts.join(''));
  });
}

describe('guards: properties (unit)', () => {
  it('every generated encoding of a denied reference is denied in the path', () => {
    fc.assert(
      fc.property(encodedReference(), enc => {
        const f = inspectTargetPath(enc);
        assert.equal(f?.code, 'GUARD_DENIED_REFERENCE', `${enc} -> ${JSON.stringify(f)}`);
      }),
      RUNS,
    );
  });

  it('every generated encoding of a denied reference is denied in a query, header and JSON body', () => {
    fc.assert(
      fc.property(encodedReference(), fc.constantFrom('query', 'header', 'body'), (enc, where) => {
        const input =
          where === 'query'
            ? {rawTarget: `/ping?file=${enc.replace(/&/g, '%26').replace(/#/g, '%23')}`, headers: []}
            : where === 'header'
              ? {rawTarget: '/ping', headers: [['X-File', enc] as [string, string]]}
              : {rawTarget: '/echo', headers: [], body: {contentType: 'application/json', text: JSON.stringify({a: [{file: enc}]})}};
        const v = inspectRequest(input);
        assert.equal(v.ok, false, `${where}: ${enc}`);
        if (!v.ok) assert.equal(v.code, 'GUARD_DENIED_REFERENCE', `${where}: ${enc} -> ${v.ruleId}`);
      }),
      RUNS,
    );
  });

  const percentSoup = fc
    .array(
      fc.constantFrom('%', '2', '5', 'e', 'E', 'f', 'F', 'c0', 'ae', 'af', 'u', 'ff0e', '/', '.', '..', '\\', ';', '%00', '％', '．', '／', 'a', 'P'),
      {maxLength: 40},
    )
    .map(a => a.join(''));
  const anyText = fc.oneof(fc.string({unit: 'binary', maxLength: 60}), percentSoup, encodedReference());

  it('normalisation is idempotent (fold and canonicalPath)', () => {
    fc.assert(
      fc.property(anyText, s => {
        assert.equal(fold(fold(s)), fold(s));
        if (decodeText(s, {strict: true}).malformed === 'too-deep') return;
        const once = canonicalPath(s);
        assert.equal(canonicalPath(once), once, JSON.stringify(s));
      }),
      {numRuns: 1000},
    );
  });

  it('no input throws: decodeText, inspectValue, inspectRequest', () => {
    const contentTypes = fc.constantFrom(
      undefined,
      'application/json',
      'application/x-www-form-urlencoded',
      'text/plain',
      'application/xml',
      'application/json; charset=utf-16',
      '',
    );
    fc.assert(
      fc.property(
        anyText,
        anyText,
        fc.array(fc.tuple(fc.string({maxLength: 10}), anyText), {maxLength: 4}),
        contentTypes,
        fc.oneof(anyText, fc.json()),
        (target, value, headers, ct, body) => {
          decodeText(target, {strict: true});
          decodeText(value, {strict: false, plusAsSpace: true, maxRounds: 2});
          inspectValue(value, 'body');
          inspectRequest({rawTarget: target, headers, body: {contentType: ct, text: body}});
          inspectRequest({rawTarget: `/x?${target}`, headers: [], body: {contentType: ct, text: body}});
        },
      ),
      {numRuns: 500},
    );
  });

  it('the JSON scanner agrees with JSON.parse on every document without duplicate or prototype keys', () => {
    fc.assert(
      fc.property(fc.jsonValue({maxDepth: 6}), fc.constantFrom(0, 2), (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        const r = scanJson(text, {maxDepth: 64, maxNodes: 100_000});
        if (!r.ok) {
          assert.equal(r.reason, 'prototype-key', text);
          assert.match(text, /"(__proto__|constructor|prototype)"/);
          return;
        }
        assert.deepEqual(r.value, JSON.parse(text));
      }),
      RUNS,
    );
  });

  it('the JSON scanner never throws and refuses what JSON.parse refuses', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({unit: 'binary', maxLength: 40}),
          fc.json().map(j => j.slice(0, Math.max(0, j.length - 1))),
        ),
        text => {
          const r = scanJson(text, {maxDepth: 64, maxNodes: 100_000});
          let parses = true;
          try {
            JSON.parse(text);
          } catch {
            parses = false;
          }
          if (!parses) assert.equal(r.ok, false, text);
        },
      ),
      RUNS,
    );
  });

  const withHttp = compileOutboundPolicy({
    allowedHosts: null,
    allowHttp: true,
    allowedPorts: [80, 443],
    allowedCidrs: [],
    timeoutMs: 1000,
    maxResponseBytes: 1024,
  });

  /** An IPv4 address as WHATWG still accepts it: dotted decimal, integer, hex, octal, short forms. */
  function ipv4Spellings(o: number[]): fc.Arbitrary<string> {
    const n = ((o[0] << 24) >>> 0) + (o[1] << 16) + (o[2] << 8) + o[3];
    const part = (v: number) => fc.constantFrom(String(v), `0x${v.toString(16)}`, `0X${v.toString(16).toUpperCase()}`, `0${v.toString(8)}`);
    return fc.oneof(
      fc.constant(o.join('.')),
      fc.constantFrom(String(n), `0x${n.toString(16)}`, `0${n.toString(8)}`),
      fc.tuple(...o.map(part)).map(p => p.join('.')),
      fc.tuple(part(o[0]), part((o[1] << 16) + (o[2] << 8) + o[3])).map(p => p.join('.')),
      fc.tuple(part(o[0]), part(o[1]), part((o[2] << 8) + o[3])).map(p => p.join('.')),
      fc.constant(`[::ffff:${o.join('.')}]`),
      fc.constant(`[::ffff:${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}]`),
      fc.constant(`[64:ff9b::${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}]`),
      fc.constant(`[2002:${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}::1]`),
    );
  }
  const octet = fc.integer({min: 0, max: 255});
  const deniedV4 = fc.oneof(
    fc.tuple(fc.constant(127), octet, octet, octet),
    fc.tuple(fc.constant(10), octet, octet, octet),
    fc.tuple(fc.constant(0), octet, octet, octet),
    fc.tuple(fc.constant(169), fc.constant(254), octet, octet),
    fc.tuple(fc.constant(172), fc.integer({min: 16, max: 31}), octet, octet),
    fc.tuple(fc.constant(192), fc.constant(168), octet, octet),
    fc.tuple(fc.constant(100), fc.integer({min: 64, max: 127}), octet, octet),
    fc.tuple(fc.integer({min: 224, max: 255}), octet, octet, octet),
  );

  it('every spelling of a denied IPv4 address is denied by the URL checker', () => {
    fc.assert(
      fc.property(
        deniedV4.chain(o => ipv4Spellings(o)),
        host => {
          const v = checkOutboundUrl(`http://${host}/x`, withHttp);
          assert.equal(v.ok, false, host);
          if (!v.ok) assert.ok(v.code === 'SSRF_ADDRESS_DENIED' || v.code === 'SSRF_URL_INVALID', `${host}: ${v.code}`);
        },
      ),
      {numRuns: 1000},
    );
  });

  it('every spelling of a public IPv4 address is allowed (no over-blocking)', () => {
    const publicV4 = fc
      .tuple(fc.integer({min: 1, max: 223}), octet, octet, octet)
      .filter(o => ipaddr.IPv4.parse(o.join('.')).range() === 'unicast' && checkAddress(o.join('.'), {allowedCidrs: []}).allowed);
    fc.assert(
      fc.property(
        publicV4.chain(o => ipv4Spellings(o)),
        host => {
          const v = checkOutboundUrl(`http://${host}/x`, withHttp);
          assert.ok(v.ok, `${host}: ${v.ok ? '' : v.code}`);
        },
      ),
      RUNS,
    );
  });

  it('the URL checker and the address checker never throw', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({unit: 'binary', maxLength: 80}), fc.webUrl(), fc.ipV6(), fc.ipV4Extended()), s => {
        checkOutboundUrl(s, withHttp);
        checkOutboundUrl(`https://${s}/`, withHttp);
        checkAddress(s, {allowedCidrs: []});
      }),
      {numRuns: 1000},
    );
  });
});

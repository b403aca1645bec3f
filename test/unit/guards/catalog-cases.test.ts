/**
 * Every path / query / header / body / url-param case of the reference catalog against the pure
 * guard functions (the same cases run byte-for-byte against the live service in
 * test/acceptance/guards.acceptance.test.ts).
 */
import assert from 'node:assert/strict';
import {ERROR_CODES} from '../../../src/errors';
import {checkAddress} from '../../../src/outbound/ip-policy';
import {inspectRequest} from '../../../src/guards/request-policy';
import {checkOutboundUrl, compileOutboundPolicy} from '../../../src/outbound/url-policy';
import {CatalogCase, loadEscapeCatalog} from '../../fixtures/escape-harness';
import {requestInputFor} from './catalog-input';

const GUARD_CODES = ['GUARD_DENIED_REFERENCE', 'GUARD_MALFORMED_INPUT'];

const catalog = loadEscapeCatalog();
const REQUEST_VECTORS = ['path', 'query', 'header', 'body'];

describe('guards: reference catalog against the pure functions (unit)', () => {
  it('has the expected shape (318 cases, all vectors present)', () => {
    assert.equal(catalog.length, 318);
    for (const v of [...REQUEST_VECTORS, 'url-param'])
      assert.ok(
        catalog.some(c => c.vector === v),
        v,
      );
  });

  describe('inspectRequest: path, query, header and body vectors', () => {
    for (const c of catalog.filter(x => REQUEST_VECTORS.includes(x.vector))) {
      it(`${c.id} (${c.vector}) ${c.expected}`, () => {
        const v = inspectRequest(requestInputFor(c));
        if (c.expected === 'allow') {
          assert.deepEqual(v.ok ? 'ok' : `${v.code} ${v.ruleId} ${v.location}`, 'ok');
        } else {
          assert.equal(v.ok, false);
          if (!v.ok) {
            assert.ok(GUARD_CODES.includes(v.code), v.code);
            assert.ok(ERROR_CODES[v.code].status >= 400 && ERROR_CODES[v.code].status < 500);
            assert.match(v.location, /^(path|query:.+|header:.+|body:.*)$/);
            assert.ok(v.ruleId.length > 0);
          }
        }
      });
    }
  });

  describe('inspectRequest: url-param benign controls pass the request guard as a JSON body', () => {
    for (const c of catalog.filter(x => x.vector === 'url-param' && x.expected === 'allow')) {
      it(`${c.id}`, () => {
        const v = inspectRequest(requestInputFor(c));
        assert.deepEqual(v.ok ? 'ok' : `${v.code} ${v.ruleId} ${v.location}`, 'ok');
      });
    }
  });

  describe('checkOutboundUrl + checkAddress (with the case DNS answers): url-param vector', () => {
    const policy = compileOutboundPolicy({
      allowedHosts: null,
      allowHttp: true,
      allowedPorts: [80, 443],
      allowedCidrs: [],
      timeoutMs: 1000,
      maxResponseBytes: 1024,
    });
    /** Redirect and rebinding cases are decided by the client at run time (integration test). */
    const runtimeOnly = (c: CatalogCase) => c.expect_detail === '4xx|no-follow' || c.expect_detail === 'no-internal-connection';
    const answers = (c: CatalogCase, host: string): string[] | null => {
      const a = c.dns?.[host] ?? c.dns?.[`${host}.`];
      if (a) return Array.isArray(a) ? a : a.sequence[0];
      return /(^|\.)public\.test$/.test(host) ? ['93.184.215.14'] : null;
    };
    for (const c of catalog.filter(x => x.vector === 'url-param')) {
      it(`${c.id} ${c.expected}${runtimeOnly(c) ? ' (static checks pass; decided at run time)' : ''}`, () => {
        const v = checkOutboundUrl(c.payload, policy);
        if (c.expected === 'allow' || runtimeOnly(c)) {
          assert.ok(v.ok, v.ok ? '' : `${v.code} ${v.reason}`);
          if (v.ok && v.target.hostKind === 'name') {
            const addrs = answers(c, v.target.host);
            assert.ok(addrs, 'the case needs DNS answers');
            for (const a of addrs) assert.equal(checkAddress(a, {allowedCidrs: []}).allowed, true, a);
          }
          return;
        }
        if (!v.ok) {
          assert.match(v.code, /^SSRF_/);
          assert.ok(ERROR_CODES[v.code].status >= 400 && ERROR_CODES[v.code].status < 500, v.code);
          return;
        }
        // The URL is acceptable by itself: the resolved addresses must be denied.
        assert.equal(v.target.hostKind, 'name', 'a literal address must have been denied statically');
        const addrs = answers(c, v.target.host);
        assert.ok(addrs && addrs.length > 0, 'the case needs DNS answers');
        assert.ok(
          addrs.some(a => !checkAddress(a, {allowedCidrs: []}).allowed),
          `no denied address among ${addrs.join(',')}`,
        );
      });
    }
  });
});

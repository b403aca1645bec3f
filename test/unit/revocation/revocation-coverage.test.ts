/**
 * revocationCoverage(): which source covers each CA of the trust bundle, and the production rule
 * (every CA covered or exempted, else CONFIG_MISSING). Real CA certificates from the test PKI.
 */
import assert from 'node:assert/strict';
import {X509Certificate} from 'node:crypto';
import {readFileSync} from 'node:fs';
import type {MtlsConfig} from '../../../src/config/config';
import {isAppError} from '../../../src/errors';
import {CoverageSource, requireRevocationCoverage, revocationCoverage} from '../../../src/tls/revocation/revocation-coverage';
import {givenTestPki} from '../../fixtures/pki';

type Mtls = Pick<MtlsConfig, 'revocation' | 'crlFetch' | 'revocationExempt'>;

describe('revocation: coverage of the trust bundle (unit)', () => {
  let root: X509Certificate, int: X509Certificate;
  before(async () => {
    const pki = await givenTestPki();
    root = new X509Certificate(readFileSync(pki.rootCa.cert));
    int = new X509Certificate(readFileSync(pki.intermediateCa.cert));
  });

  const rows: Array<[string, () => Set<string>, () => Mtls, [CoverageSource, CoverageSource], boolean]> = [
    [
      'crl: both CAs have a CRL',
      () => new Set([root.fingerprint256, int.fingerprint256]),
      () => ({revocation: ['crl'], crlFetch: false, revocationExempt: []}),
      ['crl', 'crl'],
      true,
    ],
    [
      'crl: the root CRL missing',
      () => new Set([int.fingerprint256]),
      () => ({revocation: ['crl'], crlFetch: false, revocationExempt: []}),
      ['none', 'crl'],
      false,
    ],
    [
      'crl: the root CRL missing, root exempted',
      () => new Set([int.fingerprint256]),
      () => ({revocation: ['crl'], crlFetch: false, revocationExempt: [root.fingerprint256]}),
      ['exempt', 'crl'],
      true,
    ],
    [
      'crl with fetching: a CA without a loaded CRL is fetched',
      () => new Set([int.fingerprint256]),
      () => ({revocation: ['crl'], crlFetch: true, revocationExempt: []}),
      ['crl-fetch', 'crl'],
      true,
    ],
    ['ocsp covers every CA', () => new Set<string>(), () => ({revocation: ['ocsp'], crlFetch: false, revocationExempt: []}), ['ocsp', 'ocsp'], true],
    [
      'crl,ocsp: CRL where loaded, else OCSP',
      () => new Set([int.fingerprint256]),
      () => ({revocation: ['crl', 'ocsp'], crlFetch: false, revocationExempt: []}),
      ['ocsp', 'crl'],
      true,
    ],
    ['none stated', () => new Set<string>(), () => ({revocation: [], crlFetch: false, revocationExempt: []}), ['none-stated', 'none-stated'], true],
  ];
  for (const [name, crls, mtls, [rootSource, intSource], accepted] of rows) {
    it(`${name} -> root ${rootSource}, intermediate ${intSource}, production ${accepted ? 'starts' : 'refuses'}`, () => {
      const coverage = revocationCoverage([root, int, root], crls(), mtls());
      assert.deepEqual(
        coverage.map(c => c.source),
        [rootSource, intSource],
      );
      assert.equal(coverage[0].fingerprint256, root.fingerprint256);
      let error: unknown;
      try {
        requireRevocationCoverage(coverage);
      } catch (e) {
        error = e;
      }
      if (accepted) assert.equal(error, undefined);
      else {
        assert.ok(isAppError(error) && error.code === 'CONFIG_MISSING');
        assert.equal(error.details.fingerprint256, root.fingerprint256);
      }
    });
  }
});

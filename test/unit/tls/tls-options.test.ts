import assert from 'node:assert/strict';
import {createSecureContext} from 'node:tls';
import {parseConfig} from '../../../src/config/config';
import {buildSecureContextOptions, buildServerTlsOptions} from '../../../src/tls/tls-options';

const material = {certPem: Buffer.from('C'), keyPem: Buffer.from('K'), caPem: Buffer.from('A')};

describe('tls: option building (unit)', () => {
  for (const profile of ['default', 'fips', 'modern'] as const) {
    it(`${profile}: TLS 1.3 only, the profile's suites only, limited groups, no crl option`, () => {
      const cfg = parseConfig({TLS_CIPHER_PROFILE: profile});
      const o = buildSecureContextOptions(cfg.tls, material);
      assert.equal(o.minVersion, 'TLSv1.3');
      assert.equal(o.maxVersion, 'TLSv1.3');
      const suites = {
        default: 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256',
        fips: 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256',
        modern: 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256',
      }[profile];
      // Exactly the profile's TLS 1.3 suites, then the inert TLS 1.2 part that carries @SECLEVEL=2.
      assert.equal(o.ciphers, `${suites}:ECDHE+AESGCM:@SECLEVEL=2`);
      assert.deepEqual(
        String(o.ciphers)
          .split(':')
          .filter(c => c.startsWith('TLS_')),
        suites.split(':'),
      );
      assert.equal(o.ecdhCurve, 'X25519:P-256:P-384');
      assert.equal('crl' in o, false);
      assert.equal(o.cert, material.certPem);
      assert.equal(o.key, material.keyPem);
      assert.equal(o.ca, material.caPem);
      // The client chooses among the profile's suites.
      assert.equal(o.honorCipherOrder, false);
    });
  }

  it('server options add the handshake policy and HTTP limits on top of the full secure-context set', () => {
    const cfg = parseConfig({HTTP_MAX_HEADER_SIZE: '8192', HTTP_HEADERS_TIMEOUT_MS: '5000'});
    const o = buildServerTlsOptions(cfg.tls, cfg.http, material);
    assert.equal(o.requestCert, true);
    // The connection gate refuses unauthorised clients itself, with a coded answer (not Node's reset).
    assert.equal(o.rejectUnauthorized, false);
    assert.equal(o.maxHeaderSize, 8192);
    assert.equal(o.headersTimeout, 5000);
    for (const [k, v] of Object.entries(buildSecureContextOptions(cfg.tls, material))) assert.deepEqual(o[k], v, k);
  });

  it('OpenSSL accepts both profiles as TLS 1.3 suite lists', () => {
    for (const profile of ['default', 'fips', 'modern'] as const) {
      const cfg = parseConfig({TLS_CIPHER_PROFILE: profile});
      const {minVersion, maxVersion, ciphers, ecdhCurve} = buildSecureContextOptions(cfg.tls, material);
      assert.doesNotThrow(() => createSecureContext({minVersion, maxVersion, ciphers, ecdhCurve}));
    }
  });
});

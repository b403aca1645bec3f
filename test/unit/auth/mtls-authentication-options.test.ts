import assert from 'node:assert/strict';
import {securityId} from '@loopback/security';
import {
  DEFAULT_MTLS_AUTHENTICATION_OPTIONS,
  MtlsAuthenticationOptions,
  resolveMtlsAuthenticationOptions,
} from '../../../src/auth/mtls-authentication.component';
import {toUserProfile} from '../../../src/auth/mtls.strategy';
import {isAppError} from '../../../src/errors';

describe('auth: MtlsAuthenticationComponent options (unit)', () => {
  it('defaults are the most restrictive choices', () => {
    const o = resolveMtlsAuthenticationOptions();
    assert.deepEqual(o, DEFAULT_MTLS_AUTHENTICATION_OPTIONS);
    assert.equal(o.applyToAllRoutes, true);
    assert.equal(o.ocspNonce, true);
    assert.equal(o.ocspCertIdHash, 'SHA-256');
    assert.ok(Object.isFrozen(o));
  });

  it('accepts valid overrides', () => {
    const o = resolveMtlsAuthenticationOptions({verdictTtlSec: 0, ocspCertIdHash: 'SHA-1', cacheVerdicts: false});
    assert.equal(o.verdictTtlSec, 0);
    assert.equal(o.ocspCertIdHash, 'SHA-1');
    assert.equal(o.cacheVerdicts, false);
  });

  const invalid: Array<[string, Partial<MtlsAuthenticationOptions>]> = [
    ['negative TTL', {verdictTtlSec: -1}],
    ['fractional cache size', {verdictCacheSize: 1.5}],
    ['zero cache size', {verdictCacheSize: 0}],
    ['tiny OCSP response bound', {ocspMaxResponseBytes: 10}],
    ['huge OCSP response bound', {ocspMaxResponseBytes: 1e9}],
    ['unknown CertID hash', {ocspCertIdHash: 'MD5' as never}],
    ['NaN', {ocspCacheMaxTtlSec: Number.NaN}],
  ];
  for (const [name, partial] of invalid) {
    it(`${name} -> CONFIG_INVALID`, () => {
      assert.throws(
        () => resolveMtlsAuthenticationOptions(partial),
        e => isAppError(e) && e.code === 'CONFIG_INVALID',
      );
    });
  }

  it('toUserProfile carries the whoami fields and the fingerprint as securityId', () => {
    const p = toUserProfile({
      subject: 'CN=a',
      issuer: 'CN=ca',
      serial: '9F01',
      fingerprint256: 'AA:BB',
      sans: {dns: ['a.example'], uri: ['spiffe://td/a'], email: [], ip: ['192.0.2.1']},
      commonNames: ['a'],
      caFingerprints256: ['CC:DD', 'EE:FF'],
    });
    assert.deepEqual({cn: p.commonNames, cas: p.caFingerprints256}, {cn: ['a'], cas: ['CC:DD', 'EE:FF']});
    assert.equal(p[securityId], 'AA:BB');
    assert.deepEqual(
      {subject: p.subject, issuer: p.issuer, serial: p.serial, fingerprint256: p.fingerprint256, sans: p.sans},
      {
        subject: 'CN=a',
        issuer: 'CN=ca',
        serial: '9F01',
        fingerprint256: 'AA:BB',
        sans: {dns: ['a.example'], uri: ['spiffe://td/a'], email: [], ip: ['192.0.2.1']},
      },
    );
  });
});

/**
 * Every start-up refusal: the service exits non-zero with a coded fatal log line and never
 * listens.
 */
import assert from 'node:assert/strict';
import {writeFileSync} from 'node:fs';
import path from 'node:path';
import {givenMtlsEnv} from '../fixtures/mtls-env';
import {opensslGenCrl} from '../fixtures/openssl-ca';
import {DevPkiManifest, givenTempDir, givenTestIntermediateCa, givenTestPki, issueCertificate} from '../fixtures/pki';
import {baseEnv, runServiceExpectingExit} from '../fixtures/service';

describe('start-up: refusals (acceptance)', function () {
  this.timeout(120000);
  let pki: DevPkiManifest;
  let dir: string;
  const file = (name: string, data: string | Buffer) => {
    const p = path.join(dir, name);
    writeFileSync(p, data, {mode: 0o600});
    return p;
  };

  before(async () => {
    pki = await givenTestPki();
    dir = givenTempDir('hmtls-startup-');
    const ca = await givenTestIntermediateCa();
    const serverProfile = {cn: 'localhost', sans: {dns: ['localhost'], ip: ['127.0.0.1']}, eku: ['1.3.6.1.5.5.7.3.1']};
    const expired = await issueCertificate(ca, {
      ...serverProfile,
      name: 'expired-server',
      notBefore: new Date('2019-01-01'),
      notAfter: new Date('2020-01-01'),
    });
    file('expired.crt', expired.certPem);
    file('expired.key', expired.keyPem);
    const weak = await issueCertificate(ca, {...serverProfile, name: 'weak-server', keyAlg: 'RSA-1024'});
    file('weak.crt', weak.certPem);
    file('weak.key', weak.keyPem);
    file('garbage.crl', '-----BEGIN X509 CRL-----\nbm90IGEgQ1JM\n-----END X509 CRL-----\n');
    file('foreign.crl', opensslGenCrl({caCertFile: pki.untrustedCa.cert, caKeyFile: pki.untrustedCa.key}));
    const hour = 3600_000;
    file(
      'stale.crl',
      opensslGenCrl({
        caCertFile: pki.intermediateCa.cert,
        caKeyFile: pki.intermediateCa.key,
        lastUpdate: new Date(Date.now() - 48 * hour),
        nextUpdate: new Date(Date.now() - 24 * hour),
      }),
    );
  });

  const p = (name: string) => path.join(dir, name);
  const cases: [string, () => NodeJS.ProcessEnv, string, string?][] = [
    ['PORT is not a number', () => givenMtlsEnv(pki, {PORT: 'https'}), 'CONFIG_INVALID', 'PORT'],
    ['a free-form cipher profile', () => givenMtlsEnv(pki, {TLS_CIPHER_PROFILE: 'ECDHE-RSA-AES128-SHA'}), 'CONFIG_INVALID', 'TLS_CIPHER_PROFILE'],
    [
      'production without an allow-list',
      () => givenMtlsEnv(pki, {NODE_ENV: 'production', MTLS_ALLOWED_SUBJECTS: undefined}),
      'CONFIG_MISSING',
      'MTLS_ALLOWED_SUBJECTS',
    ],
    ['production without TLS files', () => baseEnv({NODE_ENV: 'production', MTLS_ALLOWED_SUBJECTS: 'cn:x'}), 'CONFIG_MISSING', 'TLS_CERT_FILE'],
    [
      'production without a revocation choice (no CRL, no MTLS_REVOCATION)',
      () => givenMtlsEnv(pki, {NODE_ENV: 'production', TLS_CRL_FILES: undefined}),
      'CONFIG_MISSING',
      'MTLS_REVOCATION',
    ],
    [
      'production with a bundle CA that has no revocation source (root CRL not loaded)',
      () => givenMtlsEnv(pki, {NODE_ENV: 'production', POSTURE_MODE: 'warn', TLS_CRL_FILES: pki.crls.intermediate}),
      'CONFIG_MISSING',
      'MTLS_REVOCATION_EXEMPT',
    ],
    ['an unreadable certificate file', () => givenMtlsEnv(pki, {TLS_CERT_FILE: p('missing.crt')}), 'TLS_MATERIAL_UNREADABLE'],
    ['an expired server certificate', () => givenMtlsEnv(pki, {TLS_CERT_FILE: p('expired.crt'), TLS_KEY_FILE: p('expired.key')}), 'TLS_CERT_EXPIRED'],
    ['a key that does not match the certificate', () => givenMtlsEnv(pki, {TLS_KEY_FILE: pki.clients.valid.key}), 'TLS_KEY_MISMATCH'],
    ['an RSA-1024 server key', () => givenMtlsEnv(pki, {TLS_CERT_FILE: p('weak.crt'), TLS_KEY_FILE: p('weak.key')}), 'TLS_KEY_WEAK'],
    ['an unparseable CRL', () => givenMtlsEnv(pki, {TLS_CRL_FILES: p('garbage.crl')}), 'CRL_INVALID'],
    ['a CRL signed by an untrusted CA', () => givenMtlsEnv(pki, {TLS_CRL_FILES: p('foreign.crl')}), 'CRL_SIGNATURE_INVALID'],
    ['a CRL past its nextUpdate', () => givenMtlsEnv(pki, {TLS_CRL_FILES: p('stale.crl')}), 'CRL_EXPIRED'],
  ];
  for (const [what, env, code, variable] of cases) {
    it(`refuses ${what}: exit 78, fatal ${code}, never listens`, async () => {
      const run = await runServiceExpectingExit(env());
      const fatal = run.logs.find(l => l.level === 'fatal');
      assert.ok(fatal, `no fatal line; output:\n${run.stdout.join('\n')}`);
      assert.equal(fatal.code, code);
      if (variable) assert.equal((fatal.details as {variable?: string}).variable, variable);
      assert.equal(run.code, 78);
      assert.ok(!run.logs.some(l => l.event === 'listening'));
      assert.ok(!run.stdout.some(l => /\n\s+at /.test(l) || /^\s+at .+\(.+:\d+:\d+\)$/.test(l)), 'no stack trace');
    });
  }
});

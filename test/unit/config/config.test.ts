import assert from 'node:assert/strict';
import {CIPHER_PROFILES, CONFIG_VARIABLES, parseConfig} from '../../../src/config/config';
import {AppError} from '../../../src/errors';

const TLS = {TLS_CERT_FILE: '/x/server.crt', TLS_KEY_FILE: '/x/server.key', TLS_CA_FILE: '/x/ca.crt'};
const PROD = {NODE_ENV: 'production', ...TLS, MTLS_ALLOWED_SUBJECTS: 'uri:spiffe://example.org/svc/*'};

function codeOf(env: Record<string, string>): {code: string; variable: unknown} | 'ok' {
  try {
    parseConfig(env, {cwd: '/srv'});
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof AppError, `expected AppError, got ${e}`);
    return {code: e.code, variable: e.details.variable};
  }
}

describe('config: parseConfig (unit)', () => {
  const rejects: [string, Record<string, string>, string, string][] = [
    ['PORT not a number', {PORT: 'http'}, 'CONFIG_INVALID', 'PORT'],
    ['PORT out of range', {PORT: '70000'}, 'CONFIG_INVALID', 'PORT'],
    ['PORT negative', {PORT: '-1'}, 'CONFIG_INVALID', 'PORT'],
    ['HOST with spaces', {HOST: 'bad host'}, 'CONFIG_INVALID', 'HOST'],
    ['free-form cipher string', {TLS_CIPHER_PROFILE: 'ALL:!aNULL'}, 'CONFIG_INVALID', 'TLS_CIPHER_PROFILE'],
    ['unknown LOG_LEVEL', {LOG_LEVEL: 'verbose'}, 'CONFIG_INVALID', 'LOG_LEVEL'],
    ['allow-list with unknown kind', {MTLS_ALLOWED_SUBJECTS: 'ou:admins'}, 'CONFIG_INVALID', 'MTLS_ALLOWED_SUBJECTS'],
    ['allow-list with partial wildcard', {MTLS_ALLOWED_SUBJECTS: 'uri:spiffe://td/svc-*'}, 'CONFIG_INVALID', 'MTLS_ALLOWED_SUBJECTS'],
    ['allow-list with bad IP', {MTLS_ALLOWED_SUBJECTS: 'ip:999.1.1.1'}, 'CONFIG_INVALID', 'MTLS_ALLOWED_SUBJECTS'],
    ['allow-list empty', {MTLS_ALLOWED_SUBJECTS: ' , '}, 'CONFIG_INVALID', 'MTLS_ALLOWED_SUBJECTS'],
    ['revocation source unknown', {MTLS_REVOCATION: 'crl,dns'}, 'CONFIG_INVALID', 'MTLS_REVOCATION'],
    ['crl revocation without CRLs', {...TLS, MTLS_REVOCATION: 'crl'}, 'CONFIG_INVALID', 'MTLS_REVOCATION'],
    ['fail mode unknown', {MTLS_REVOCATION_FAIL: 'maybe'}, 'CONFIG_INVALID', 'MTLS_REVOCATION_FAIL'],
    ['OCSP URL not http', {MTLS_OCSP_URL: 'ftp://ocsp.example/'}, 'CONFIG_INVALID', 'MTLS_OCSP_URL'],
    ['OCSP URL with userinfo', {MTLS_OCSP_URL: 'http://u:p@ocsp.example/'}, 'CONFIG_INVALID', 'MTLS_OCSP_URL'],
    ['OCSP timeout too small', {MTLS_OCSP_TIMEOUT_MS: '1'}, 'CONFIG_INVALID', 'MTLS_OCSP_TIMEOUT_MS'],
    ['boolean not a boolean', {MTLS_CRL_FETCH: 'yes'}, 'CONFIG_INVALID', 'MTLS_CRL_FETCH'],
    ['partial TLS files', {TLS_CERT_FILE: '/x/a.crt'}, 'CONFIG_MISSING', 'TLS_KEY_FILE'],
    ['production without TLS files', {NODE_ENV: 'production', MTLS_ALLOWED_SUBJECTS: 'cn:a'}, 'CONFIG_MISSING', 'TLS_CERT_FILE'],
    ['production without allow-list', {NODE_ENV: 'production', ...TLS}, 'CONFIG_MISSING', 'MTLS_ALLOWED_SUBJECTS'],
    ['production without a revocation choice', PROD, 'CONFIG_MISSING', 'MTLS_REVOCATION'],
    ['revocation exemption not a fingerprint', {MTLS_REVOCATION_EXEMPT: 'AB:CD'}, 'CONFIG_INVALID', 'MTLS_REVOCATION_EXEMPT'],
    ['outbound host not a name', {OUTBOUND_ALLOWED_HOSTS: 'exa mple.com'}, 'CONFIG_INVALID', 'OUTBOUND_ALLOWED_HOSTS'],
    ['outbound port invalid', {OUTBOUND_ALLOWED_PORTS: '443,0'}, 'CONFIG_INVALID', 'OUTBOUND_ALLOWED_PORTS'],
    ['outbound CIDR invalid', {OUTBOUND_ALLOWED_CIDRS: '10.0.0.0'}, 'CONFIG_INVALID', 'OUTBOUND_ALLOWED_CIDRS'],
    ['outbound CIDR with an impossible address', {OUTBOUND_ALLOWED_CIDRS: '999.0.0.0/8'}, 'CONFIG_INVALID', 'OUTBOUND_ALLOWED_CIDRS'],
    ['outbound CIDR with an impossible prefix', {OUTBOUND_ALLOWED_CIDRS: '10.0.0.0/33'}, 'CONFIG_INVALID', 'OUTBOUND_ALLOWED_CIDRS'],
    ['posture mode unknown', {POSTURE_MODE: 'strict'}, 'CONFIG_INVALID', 'POSTURE_MODE'],
    ['audit mode unknown', {AUDIT_MODE: 'on'}, 'CONFIG_INVALID', 'AUDIT_MODE'],
  ];
  for (const [name, env, code, variable] of rejects) {
    it(`refuses ${name} with ${code} naming ${variable}`, () => {
      assert.deepEqual(codeOf(env), {code, variable});
    });
  }

  it('defaults: 127.0.0.1:8443, default cipher profile, dev PKI, fail closed, warn modes outside production', () => {
    const c = parseConfig({}, {cwd: '/srv'});
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 8443);
    assert.equal(c.tls.ciphers, 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256');
    assert.equal(c.tls.ecdhCurve, 'X25519:P-256:P-384');
    assert.equal(c.tls.devPki, true);
    assert.equal(c.tls.certFile, '/srv/certs/dev/server.crt');
    assert.deepEqual(c.tls.crlFiles, ['/srv/certs/dev/root-ca.crl', '/srv/certs/dev/intermediate-ca.crl']);
    assert.deepEqual(c.mtls.revocation, ['crl']);
    assert.equal(c.mtls.revocationFail, 'closed');
    assert.equal(c.mtls.ocspTimeoutMs, 2000);
    assert.equal(c.mtls.maxChainDepth, 2);
    assert.equal(c.mtls.clockSkewSec, 0);
    assert.ok(c.mtls.allowedSubjects && c.mtls.allowedSubjects.length === 1);
    assert.equal(c.auditMode, 'warn');
    assert.equal(c.postureMode, 'warn');
    assert.equal(c.outbound.allowHttp, false);
    assert.deepEqual(c.outbound.allowedPorts, [443]);
  });

  it('fips profile is AES-256-GCM plus the mandatory AES-128-GCM, no ChaCha20', () => {
    const c = parseConfig({TLS_CIPHER_PROFILE: 'fips'});
    assert.equal(c.tls.ciphers, CIPHER_PROFILES.fips);
    assert.equal(c.tls.ciphers, 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256');
  });

  it('modern profile has all three RFC 8446 suites; an unknown profile is refused', () => {
    assert.equal(
      parseConfig({TLS_CIPHER_PROFILE: 'modern'}).tls.ciphers,
      'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256',
    );
    assert.throws(() => parseConfig({TLS_CIPHER_PROFILE: 'legacy'}), {code: 'CONFIG_INVALID'});
  });

  const edgeCases: [string, Record<string, string>, ((c: ReturnType<typeof parseConfig>) => void) | 'invalid'][] = [
    ['ticket rotation defaults to 3600 s', {}, c => assert.equal(c.tls.ticketKeyRotationS, 3600)],
    ['ticket rotation is configurable', {TLS_TICKET_KEY_ROTATION_S: '60'}, c => assert.equal(c.tls.ticketKeyRotationS, 60)],
    ['ticket rotation 0 is refused', {TLS_TICKET_KEY_ROTATION_S: '0'}, 'invalid'],
    ['ticket rotation over a day is refused', {TLS_TICKET_KEY_ROTATION_S: '86401'}, 'invalid'],
    ['ticket rotation must be a number', {TLS_TICKET_KEY_ROTATION_S: '1h'}, 'invalid'],
    ['SERVER_NAMES default: from the certificate', {}, c => assert.equal(c.serverNames.names, null)],
    [
      'SERVER_NAMES lower-cased, IPs and wildcards',
      {SERVER_NAMES: 'API.example.com, *.svc.example, 10.0.0.5, ::1'},
      c => assert.deepEqual(c.serverNames.names, ['api.example.com', '*.svc.example', '10.0.0.5', '::1']),
    ],
    ['SERVER_NAMES refuses a URL', {SERVER_NAMES: 'https://api.example.com'}, 'invalid'],
    ['SERVER_NAMES refuses a port', {SERVER_NAMES: 'api.example.com:8443'}, 'invalid'],
    ['SERVER_NAMES refuses a bracketed IPv6', {SERVER_NAMES: '[::1]'}, 'invalid'],
    ['TRUSTED_PROXIES default: none', {}, c => assert.deepEqual(c.proxy.trustedProxies, [])],
    [
      'TRUSTED_PROXIES bare IPs become host CIDRs',
      {TRUSTED_PROXIES: '127.0.0.2, ::1, 10.1.0.0/16'},
      c => assert.deepEqual(c.proxy.trustedProxies, ['127.0.0.2/32', '::1/128', '10.1.0.0/16']),
    ],
    ['TRUSTED_PROXIES refuses a short IPv4 form', {TRUSTED_PROXIES: '127.1'}, 'invalid'],
    ['TRUSTED_PROXIES refuses a host name', {TRUSTED_PROXIES: 'proxy.internal'}, 'invalid'],
  ];
  for (const [name, env, check] of edgeCases) {
    it(`edge config: ${name}`, () => {
      if (check === 'invalid') assert.throws(() => parseConfig(env), {code: 'CONFIG_INVALID'});
      else check(parseConfig(env));
    });
  }

  it('production: enforce modes, explicit files, no dev PKI', () => {
    const c = parseConfig({...PROD, MTLS_REVOCATION: 'none'}, {cwd: '/srv'});
    assert.equal(c.env, 'production');
    assert.equal(c.tls.devPki, false);
    assert.equal(c.auditMode, 'enforce');
    assert.equal(c.postureMode, 'enforce');
    assert.deepEqual(c.mtls.revocation, []);
  });

  it('production: a CRL file or a stated MTLS_REVOCATION is a revocation choice; exemptions are normalised fingerprints', () => {
    assert.deepEqual(parseConfig({...PROD, TLS_CRL_FILES: '/x/ca.crl'}, {cwd: '/srv'}).mtls.revocation, ['crl']);
    assert.deepEqual(parseConfig({...PROD, MTLS_REVOCATION: 'ocsp'}, {cwd: '/srv'}).mtls.revocation, ['ocsp']);
    const fp = 'ab'.repeat(32);
    assert.deepEqual(parseConfig({...PROD, MTLS_REVOCATION: 'none', MTLS_REVOCATION_EXEMPT: fp}, {cwd: '/srv'}).mtls.revocationExempt, [
      Array(32).fill('AB').join(':'),
    ]);
  });

  it('resolves relative paths against the working directory and splits CRL lists', () => {
    const c = parseConfig({TLS_CERT_FILE: 'a.crt', TLS_KEY_FILE: 'a.key', TLS_CA_FILE: 'ca.crt', TLS_CRL_FILES: 'one.crl, two.crl'}, {cwd: '/srv'});
    assert.equal(c.tls.certFile, '/srv/a.crt');
    assert.deepEqual(c.tls.crlFiles, ['/srv/one.crl', '/srv/two.crl']);
    assert.deepEqual(c.mtls.revocation, ['crl']);
  });

  it('is deeply frozen', () => {
    const c = parseConfig({});
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.tls) && Object.isFrozen(c.mtls.allowedSubjects) && Object.isFrozen(c.tls.crlFiles));
    assert.throws(() => {
      (c as unknown as {port: number}).port = 1;
    }, TypeError);
  });

  it('MTLS_REVOCATION=none turns revocation checking off explicitly', () => {
    assert.deepEqual(parseConfig({MTLS_REVOCATION: 'none'}).mtls.revocation, []);
  });

  it('lists every variable it reads', () => {
    assert.ok(CONFIG_VARIABLES.includes('MTLS_ALLOWED_SUBJECTS'));
    assert.equal(new Set(CONFIG_VARIABLES).size, CONFIG_VARIABLES.length);
  });
});

import assert from 'node:assert/strict';
import type {ErrorCode} from '../../../src/errors';
import {
  CertificateFacts,
  checkExtendedKeyUsage,
  checkIdentity,
  checkKeyStrength,
  checkKeyUsage,
  checkNotCa,
  checkValidity,
  CheckResult,
  evaluateCertificate,
  PolicyContext,
} from '../../../src/auth/certificate-policy';
import type {KeyUsageName, PublicKeyDescription} from '../../../src/x509/certificate';
import {CertificateIdentity, parseIdentityRules} from '../../../src/identity/identity-rules';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const ANY_EKU = '2.5.29.37.0';

function codeOf(r: CheckResult): ErrorCode | 'ok' {
  return r.ok ? 'ok' : r.code;
}

const T0 = new Date('2030-06-01T12:00:00Z');
const sec = (n: number) => new Date(T0.getTime() + n * 1000);

describe('auth: certificate-policy (unit)', () => {
  describe('checkValidity', () => {
    const cases: Array<[string, {notBefore: Date; notAfter: Date}, number, ErrorCode | 'ok']> = [
      ['inside the window', {notBefore: sec(-10), notAfter: sec(10)}, 0, 'ok'],
      ['exactly at notBefore (inclusive)', {notBefore: T0, notAfter: sec(10)}, 0, 'ok'],
      ['exactly at notAfter (inclusive)', {notBefore: sec(-10), notAfter: T0}, 0, 'ok'],
      ['one second before notBefore', {notBefore: sec(1), notAfter: sec(10)}, 0, 'AUTH_CERT_NOT_YET_VALID'],
      ['one second after notAfter', {notBefore: sec(-10), notAfter: sec(-1)}, 0, 'AUTH_CERT_EXPIRED'],
      ['before notBefore but within skew', {notBefore: sec(30), notAfter: sec(100)}, 30, 'ok'],
      ['before notBefore beyond skew', {notBefore: sec(31), notAfter: sec(100)}, 30, 'AUTH_CERT_NOT_YET_VALID'],
      ['after notAfter but within skew', {notBefore: sec(-100), notAfter: sec(-30)}, 30, 'ok'],
      ['after notAfter beyond skew', {notBefore: sec(-100), notAfter: sec(-31)}, 30, 'AUTH_CERT_EXPIRED'],
      ['invalid date', {notBefore: new Date(NaN), notAfter: sec(10)}, 0, 'AUTH_CERT_MALFORMED'],
    ];
    for (const [name, v, skew, expected] of cases) {
      it(`${name} -> ${expected}`, () => assert.equal(codeOf(checkValidity(v, T0, skew)), expected));
    }
  });

  describe('checkExtendedKeyUsage', () => {
    const cases: Array<[string, readonly string[] | null, ErrorCode | 'ok']> = [
      ['clientAuth', [CLIENT_AUTH], 'ok'],
      ['serverAuth + clientAuth', [SERVER_AUTH, CLIENT_AUTH], 'ok'],
      ['no EKU extension (Node would accept)', null, 'AUTH_EKU_NOT_CLIENT_AUTH'],
      ['empty EKU', [], 'AUTH_EKU_NOT_CLIENT_AUTH'],
      ['serverAuth only', [SERVER_AUTH], 'AUTH_EKU_NOT_CLIENT_AUTH'],
      ['anyExtendedKeyUsage only', [ANY_EKU], 'AUTH_EKU_NOT_CLIENT_AUTH'],
      ['OCSPSigning only', ['1.3.6.1.5.5.7.3.9'], 'AUTH_EKU_NOT_CLIENT_AUTH'],
    ];
    for (const [name, eku, expected] of cases) {
      it(`${name} -> ${expected}`, () => assert.equal(codeOf(checkExtendedKeyUsage(eku)), expected));
    }
  });

  describe('checkNotCa', () => {
    const cases: Array<[string, {ca: boolean; pathLength?: number} | null, ErrorCode | 'ok']> = [
      ['no basicConstraints', null, 'ok'],
      ['CA:FALSE', {ca: false}, 'ok'],
      ['CA:TRUE', {ca: true}, 'AUTH_CERT_IS_CA'],
      ['CA:TRUE, pathlen 0', {ca: true, pathLength: 0}, 'AUTH_CERT_IS_CA'],
    ];
    for (const [name, bc, expected] of cases) {
      it(`${name} -> ${expected}`, () => assert.equal(codeOf(checkNotCa(bc)), expected));
    }
  });

  describe('checkKeyUsage', () => {
    const cases: Array<[string, readonly KeyUsageName[] | null, ErrorCode | 'ok']> = [
      ['absent', null, 'ok'],
      ['digitalSignature', ['digitalSignature'], 'ok'],
      ['digitalSignature + keyEncipherment', ['digitalSignature', 'keyEncipherment'], 'ok'],
      ['keyEncipherment only', ['keyEncipherment'], 'AUTH_KEY_USAGE_INVALID'],
      ['keyAgreement only', ['keyAgreement'], 'AUTH_KEY_USAGE_INVALID'],
      ['nonRepudiation only', ['nonRepudiation'], 'AUTH_KEY_USAGE_INVALID'],
      ['present but empty', [], 'AUTH_KEY_USAGE_INVALID'],
    ];
    for (const [name, ku, expected] of cases) {
      it(`${name} -> ${expected}`, () => assert.equal(codeOf(checkKeyUsage(ku)), expected));
    }
  });

  describe('checkKeyStrength', () => {
    const cases: Array<[PublicKeyDescription, ErrorCode | 'ok']> = [
      [{algorithm: 'rsa', bits: 2048}, 'ok'],
      [{algorithm: 'rsa', bits: 4096}, 'ok'],
      [{algorithm: 'rsa-pss', bits: 3072}, 'ok'],
      [{algorithm: 'rsa', bits: 2047}, 'AUTH_KEY_WEAK'],
      [{algorithm: 'rsa', bits: 1024}, 'AUTH_KEY_WEAK'],
      [{algorithm: 'rsa'}, 'AUTH_KEY_WEAK'],
      [{algorithm: 'ec', curve: 'prime256v1'}, 'ok'],
      [{algorithm: 'ec', curve: 'secp384r1'}, 'ok'],
      [{algorithm: 'ec', curve: 'secp521r1'}, 'AUTH_KEY_WEAK'],
      [{algorithm: 'ec', curve: 'secp256k1'}, 'AUTH_KEY_WEAK'],
      [{algorithm: 'ec', curve: 'prime192v1'}, 'AUTH_KEY_WEAK'],
      [{algorithm: 'ec'}, 'AUTH_KEY_WEAK'],
      [{algorithm: 'ed25519'}, 'ok'],
      [{algorithm: 'ed448'}, 'AUTH_KEY_WEAK'],
      [{algorithm: 'dsa'}, 'AUTH_KEY_WEAK'],
      [{algorithm: 'unknown'}, 'AUTH_KEY_WEAK'],
    ];
    for (const [key, expected] of cases) {
      it(`${key.algorithm} ${key.bits ?? key.curve ?? ''} -> ${expected}`, () => assert.equal(codeOf(checkKeyStrength(key)), expected));
    }
  });

  describe('checkIdentity', () => {
    const id = (p: Partial<CertificateIdentity>): CertificateIdentity => ({commonNames: [], dns: [], uris: [], emails: [], ips: [], ...p});
    const cases: Array<[string, string | null, CertificateIdentity, ErrorCode | 'ok']> = [
      ['no allow-list configured', null, id({}), 'ok'],
      ['URI SAN matches a wildcard segment', 'uri:spiffe://td/client/*', id({uris: ['spiffe://td/client/a']}), 'ok'],
      ['URI SAN in another trust domain', 'uri:spiffe://td/client/*', id({uris: ['spiffe://evil/client/a']}), 'AUTH_IDENTITY_NOT_ALLOWED'],
      ['dns SAN exact', 'dns:svc.example.com', id({dns: ['svc.example.com']}), 'ok'],
      ['dns rule never falls back to CN', 'dns:svc.example.com', id({commonNames: ['svc.example.com']}), 'AUTH_IDENTITY_NOT_ALLOWED'],
      [
        'one SAN smuggling a second name (CVE-2021-44532)',
        'dns:good.example',
        id({dns: ['evil.example, DNS:good.example']}),
        'AUTH_IDENTITY_NOT_ALLOWED',
      ],
      ['cn rule matches a CN', 'cn:alice', id({commonNames: ['alice']}), 'ok'],
      ['cn rule matches any of several CNs', 'cn:alice', id({commonNames: ['bob', 'alice']}), 'ok'],
      ['CN with embedded NUL never matches', 'cn:alice', id({commonNames: ['alice\u0000.evil']}), 'AUTH_IDENTITY_NOT_ALLOWED'],
      ['CN equal to rule plus NUL never matches', 'cn:alice', id({commonNames: ['alice\u0000']}), 'AUTH_IDENTITY_NOT_ALLOWED'],
      ['CN with a control character never matches', 'cn:alice', id({commonNames: ['ali\u0007ce']}), 'AUTH_IDENTITY_NOT_ALLOWED'],
      ['dns SAN with NUL never matches', 'dns:good.example', id({dns: ['good.example\u0000.evil']}), 'AUTH_IDENTITY_NOT_ALLOWED'],
      ['email SAN, case-insensitive domain', 'email:ops@Example.com', id({emails: ['ops@EXAMPLE.com']}), 'ok'],
      ['ip SAN in canonical form', 'ip:2001:db8::1', id({ips: ['2001:db8:0:0:0:0:0:1']}), 'ok'],
      ['ip SAN different address', 'ip:192.0.2.1', id({ips: ['192.0.2.2']}), 'AUTH_IDENTITY_NOT_ALLOWED'],
      ['no names at all', 'uri:spiffe://td/client/*', id({}), 'AUTH_IDENTITY_NOT_ALLOWED'],
    ];
    for (const [name, rules, ident, expected] of cases) {
      it(`${name} -> ${expected}`, () => assert.equal(codeOf(checkIdentity(ident, rules === null ? null : parseIdentityRules(rules))), expected));
    }
    it('an empty rule list matches nothing', () => assert.equal(codeOf(checkIdentity(id({commonNames: ['a']}), [])), 'AUTH_IDENTITY_NOT_ALLOWED'));
    it('reports the matching rule', () => {
      const r = checkIdentity(id({dns: ['b.example']}), parseIdentityRules('dns:a.example,dns:b.example'));
      assert.equal(r.ok && r.rule?.text, 'dns:b.example');
    });
  });

  describe('evaluateCertificate', () => {
    const good: CertificateFacts = {
      notBefore: sec(-3600),
      notAfter: sec(3600),
      extendedKeyUsage: [CLIENT_AUTH],
      basicConstraints: {ca: false},
      keyUsage: ['digitalSignature'],
      publicKey: {algorithm: 'ec', curve: 'prime256v1'},
      identity: {commonNames: ['c'], dns: [], uris: ['spiffe://td/client/c'], emails: [], ips: []},
    };
    const ctx: PolicyContext = {now: T0, clockSkewSec: 0, allowedSubjects: parseIdentityRules('uri:spiffe://td/client/*')};

    const cases: Array<[string, Partial<CertificateFacts>, ErrorCode | 'ok']> = [
      ['a good certificate', {}, 'ok'],
      ['expired', {notAfter: sec(-1)}, 'AUTH_CERT_EXPIRED'],
      ['not yet valid', {notBefore: sec(1)}, 'AUTH_CERT_NOT_YET_VALID'],
      ['no EKU', {extendedKeyUsage: null}, 'AUTH_EKU_NOT_CLIENT_AUTH'],
      ['CA:TRUE', {basicConstraints: {ca: true}}, 'AUTH_CERT_IS_CA'],
      ['keyUsage without digitalSignature', {keyUsage: ['keyEncipherment']}, 'AUTH_KEY_USAGE_INVALID'],
      ['RSA-1024', {publicKey: {algorithm: 'rsa', bits: 1024}}, 'AUTH_KEY_WEAK'],
      ['identity not allowed', {identity: {commonNames: [], dns: [], uris: ['spiffe://other/x'], emails: [], ips: []}}, 'AUTH_IDENTITY_NOT_ALLOWED'],
      // Order: the first failing check in issue order decides.
      ['expired AND no EKU -> validity first', {notAfter: sec(-1), extendedKeyUsage: null}, 'AUTH_CERT_EXPIRED'],
      ['no EKU AND CA -> EKU first', {extendedKeyUsage: null, basicConstraints: {ca: true}}, 'AUTH_EKU_NOT_CLIENT_AUTH'],
      ['CA AND bad keyUsage -> CA first', {basicConstraints: {ca: true}, keyUsage: ['keyCertSign']}, 'AUTH_CERT_IS_CA'],
      ['bad keyUsage AND weak key -> keyUsage first', {keyUsage: ['keyAgreement'], publicKey: {algorithm: 'dsa'}}, 'AUTH_KEY_USAGE_INVALID'],
      [
        'weak key AND identity -> key first',
        {publicKey: {algorithm: 'ed448'}, identity: {commonNames: [], dns: [], uris: [], emails: [], ips: []}},
        'AUTH_KEY_WEAK',
      ],
    ];
    for (const [name, patch, expected] of cases) {
      it(`${name} -> ${expected}`, () => {
        const r = evaluateCertificate({...good, ...patch}, ctx);
        assert.equal(r.ok ? 'ok' : r.code, expected);
      });
    }

    it('stops at the first failure by default and lists every check with all: true', () => {
      const facts = {...good, extendedKeyUsage: null, publicKey: {algorithm: 'dsa'} as PublicKeyDescription};
      const first = evaluateCertificate(facts, ctx);
      assert.deepEqual(
        first.checks.map(c => c.check),
        ['validity', 'extendedKeyUsage'],
      );
      const all = evaluateCertificate(facts, ctx, {all: true});
      assert.equal(all.ok ? 'ok' : all.code, 'AUTH_EKU_NOT_CLIENT_AUTH');
      assert.deepEqual(
        all.checks.map(c => [c.check, c.ok ? 'ok' : c.code]),
        [
          ['validity', 'ok'],
          ['extendedKeyUsage', 'AUTH_EKU_NOT_CLIENT_AUTH'],
          ['basicConstraints', 'ok'],
          ['keyUsage', 'ok'],
          ['keyStrength', 'AUTH_KEY_WEAK'],
          ['identity', 'ok'],
        ],
      );
    });

    it('reports the matched rule on success', () => {
      const r = evaluateCertificate(good, ctx);
      assert.ok(r.ok);
      assert.equal(r.matchedRule?.text, 'uri:spiffe://td/client/*');
    });
  });
});

/**
 * parseCertificate() on certificates made at test time by `openssl ca`, plus byte-patched
 * variants for encodings openssl will not produce (NUL in a name, non-ASCII IA5, negative serial).
 */
import assert from 'node:assert/strict';
import {MAX_CERTIFICATE_BYTES, parseCertificate} from '../../../src/x509/certificate';
import {pemToDerList} from '../../../src/x509/pem';
import {isAppError} from '../../../src/errors';
import {givenTempDir, removeTempDir} from '../../fixtures/temp-dir';
import {IssuedCert, OpensslCa} from './support/openssl-pki';

function codeOf(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    return isAppError(e) ? e.code : `non-AppError ${(e as Error).message}`;
  }
}

/** Replace the first occurrence of `from` in `der` by `to` (same length). */
function patch(der: Buffer, from: Buffer | string, to: Buffer | string): Buffer {
  const a = Buffer.isBuffer(from) ? from : Buffer.from(from, 'latin1');
  const b = Buffer.isBuffer(to) ? to : Buffer.from(to, 'latin1');
  assert.equal(a.length, b.length);
  const i = der.indexOf(a);
  assert.ok(i >= 0, `pattern ${a.toString('hex')} not found`);
  const out = Buffer.from(der);
  b.copy(out, i);
  return out;
}

describe('auth: certificate parsing, openssl-made certificates (integration)', function () {
  this.timeout(60_000);
  let tmp: string;
  let ca: OpensslCa;
  const certs: Record<string, IssuedCert> = {};

  before(async () => {
    tmp = givenTempDir('auth-pki-');
    ca = await OpensslCa.createRoot(tmp, 'Parse Root');
    certs.full = await ca.issue('full', {
      subject: '/O=Example/OU=Team/CN=first/CN=second',
      san: 'DNS:svc.example.com, URI:spiffe://td/client/a, email:ops@example.com, IP:192.0.2.7, IP:2001:db8::1',
      ocspUrl: 'http://127.0.0.1:9/ocsp',
      crlUrl: 'http://127.0.0.1:9/ca.crl',
      serialHex: '9F01',
      keyUsage: 'critical,digitalSignature,keyEncipherment',
      eku: 'clientAuth,serverAuth',
    });
    // One dNSName whose text looks like two names (the CVE-2021-44532 shape).
    certs.smuggle = await ca.issue('smuggle', {san: '@alt', extraExtensions: ['[alt]', 'DNS.1 = evil.example, DNS:good.example']});
    certs.noEku = await ca.issue('noeku', {eku: null, keyUsage: null, basicConstraints: null});
    certs.isCa = await ca.issue('isca', {basicConstraints: 'critical,CA:TRUE,pathlen:3', keyUsage: 'keyCertSign'});
    certs.rsa = await ca.issue('rsa', {key: 'rsa-1024'});
    certs.ed = await ca.issue('ed', {key: 'ed25519'});
    certs.p384 = await ca.issue('p384', {key: 'ec-p384'});
    certs.critical = await ca.issue('critical', {extraExtensions: ['1.3.6.1.4.1.99999.1 = critical,ASN1:NULL']});
    certs.nulCn = await ca.issue('nulcn', {subject: '/CN=aliceXevil', san: 'DNS:goodXevil.example'});
    certs.nonAscii = await ca.issue('nonascii', {san: 'DNS:qa.example'});
    certs.negSerial = await ca.issue('negserial', {serialHex: '7F0102'});
    certs.badIp = await ca.issue('badip', {san: null, extraExtensions: ['subjectAltName = DER:30078705C000020701']});
    // openssl merges duplicate keys, so a second SAN is made by patching the OID of an issuerAltName.
    certs.dupExt = await ca.issue('dupext', {san: 'DNS:a.example', extraExtensions: ['2.5.29.18 = DER:300b8209622e6578616d706c65']});
    certs.ctrlCn = await ca.issue('ctrlcn', {subject: '/CN=ali\u0001ce'});
  });

  after(() => removeTempDir(tmp));

  it('decodes subject, issuer, serial, fingerprint and validity', () => {
    const p = parseCertificate(certs.full.der);
    assert.equal(p.subject, 'CN=second,CN=first,OU=Team,O=Example');
    assert.equal(p.issuer, 'CN=Parse Root');
    assert.equal(p.serialKey, '9F01');
    assert.equal(p.fingerprint256, certs.full.x509.fingerprint256);
    assert.equal(p.notBefore.getTime(), new Date(certs.full.x509.validFrom).getTime());
    assert.equal(p.notAfter.getTime(), new Date(certs.full.x509.validTo).getTime());
    assert.deepEqual(p.commonNames, ['first', 'second']);
    assert.equal(p.selfIssued, false);
  });

  it('decodes structured SANs from the DER', () => {
    const p = parseCertificate(certs.full.der);
    assert.deepEqual(p.sans.dns, ['svc.example.com']);
    assert.deepEqual(p.sans.uris, ['spiffe://td/client/a']);
    assert.deepEqual(p.sans.emails, ['ops@example.com']);
    assert.deepEqual(p.sans.ips, ['192.0.2.7', '2001:db8:0:0:0:0:0:1']);
    assert.deepEqual(p.identity.dns, p.sans.dns);
  });

  it('keeps a SAN that looks like two names as ONE name (CVE-2021-44532)', () => {
    const p = parseCertificate(certs.smuggle.der);
    assert.deepEqual(p.sans.dns, ['evil.example, DNS:good.example']);
    // Node's display string shows both "names"; the parser never splits it.
    assert.match(certs.smuggle.x509.subjectAltName ?? '', /good\.example/);
  });

  it('decodes EKU, keyUsage and basicConstraints, null when absent', () => {
    const full = parseCertificate(certs.full.der);
    assert.deepEqual(full.extendedKeyUsage, ['1.3.6.1.5.5.7.3.2', '1.3.6.1.5.5.7.3.1']);
    assert.deepEqual(full.keyUsage, ['digitalSignature', 'keyEncipherment']);
    assert.deepEqual(full.basicConstraints, {ca: false});
    const none = parseCertificate(certs.noEku.der);
    assert.equal(none.extendedKeyUsage, null);
    assert.equal(none.keyUsage, null);
    assert.equal(none.basicConstraints, null);
    const isCa = parseCertificate(certs.isCa.der);
    assert.deepEqual(isCa.basicConstraints, {ca: true, pathLength: 3});
    assert.deepEqual(isCa.keyUsage, ['keyCertSign']);
  });

  it('describes the public key', () => {
    assert.deepEqual(parseCertificate(certs.full.der).publicKey, {algorithm: 'ec', curve: 'prime256v1'});
    assert.deepEqual(parseCertificate(certs.p384.der).publicKey, {algorithm: 'ec', curve: 'secp384r1'});
    assert.deepEqual(parseCertificate(certs.rsa.der).publicKey, {algorithm: 'rsa', bits: 1024});
    assert.deepEqual(parseCertificate(certs.ed.der).publicKey, {algorithm: 'ed25519'});
  });

  it('extracts CRL distribution points and AIA OCSP URLs', () => {
    const p = parseCertificate(certs.full.der);
    assert.deepEqual(p.crlDistributionPoints, ['http://127.0.0.1:9/ca.crl']);
    assert.deepEqual(p.ocspUrls, ['http://127.0.0.1:9/ocsp']);
  });

  it('lists unrecognised critical extensions', () => {
    assert.deepEqual(parseCertificate(certs.critical.der).unrecognisedCriticalExtensions, ['1.3.6.1.4.1.99999.1']);
    assert.deepEqual(parseCertificate(certs.full.der).unrecognisedCriticalExtensions, []);
  });

  it('keeps an embedded NUL in CN and dNSName (matching then refuses it)', () => {
    const der = patch(patch(certs.nulCn.der, 'aliceXevil', 'alice\u0000evil'), 'goodXevil', 'good\u0000evil');
    const p = parseCertificate(der);
    assert.deepEqual(p.commonNames, ['alice\u0000evil']);
    assert.deepEqual(p.sans.dns, ['good\u0000evil.example']);
    assert.equal(p.subject, 'CN=alice\\00evil');
  });

  it('keeps control characters in CN and escapes them in the subject string', () => {
    const p = parseCertificate(certs.ctrlCn.der);
    assert.deepEqual(p.commonNames, ['ali\u0001ce']);
    assert.equal(p.subject, 'CN=ali\\01ce');
  });

  describe('malformed input -> AUTH_CERT_MALFORMED', () => {
    const cases: Array<[string, () => Buffer]> = [
      ['empty', () => Buffer.alloc(0)],
      ['garbage', () => Buffer.from('this is not a certificate')],
      ['truncated DER', () => certs.full.der.subarray(0, certs.full.der.length - 10)],
      ['trailing bytes', () => Buffer.concat([certs.full.der, Buffer.from([0])])],
      ['PEM text instead of DER', () => Buffer.from(certs.full.pem)],
      ['non-ASCII byte in a dNSName', () => patch(certs.nonAscii.der, 'qa.example', '\u00c3a.example')],
      ['negative serial', () => patch(certs.negSerial.der, Buffer.from('02037f0102', 'hex'), Buffer.from('0203ff0102', 'hex'))],
      ['iPAddress of 5 bytes', () => certs.badIp.der],
      ['duplicate subjectAltName extension', () => patch(certs.dupExt.der, Buffer.from('0603551d12', 'hex'), Buffer.from('0603551d11', 'hex'))],
      ['larger than the bound', () => Buffer.alloc(MAX_CERTIFICATE_BYTES + 1, 0x30)],
    ];
    for (const [name, der] of cases) {
      it(name, () =>
        assert.equal(
          codeOf(() => parseCertificate(der())),
          'AUTH_CERT_MALFORMED',
        ),
      );
    }
  });

  it('pemToDerList reads every certificate of a bundle', () => {
    const ders = pemToDerList(certs.full.pem + '\nnoise\n' + ca.cert.pem);
    assert.equal(ders.length, 2);
    assert.ok(ders[0].equals(certs.full.der));
    assert.ok(ders[1].equals(ca.cert.der));
  });
});

/**
 * RevocationIndex against real CRLs made by the openssl CLI (`openssl ca -revoke` / `-gencrl`).
 */
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {parseCrl} from '../../../src/tls/revocation/crl-parser';
import {verifyCrlSignature} from '../../../src/tls/revocation/crl-signature';
import {RevocationIndex} from '../../../src/tls/revocation/revocation-index';
import {normalizeSerial} from '../../../src/x509/serial';
import {givenTempDir, removeTempDir} from '../../fixtures/temp-dir';
import {expectAppError, givenOpensslCa, KeyAlg, LeafCert, OpensslCa, opensslTime} from '../../unit/revocation/fixtures/openssl-ca';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

interface IssuerFixture {
  ca: OpensslCa;
  /** Revoked, serial 9F01 (DER 00 9F 01). */
  revokedLeadingZero: LeafCert;
  /** Revoked, negative serial -5 (non-conforming; Node reports "-05"). */
  revokedNegative: LeafCert;
  /** Never revoked. */
  good: LeafCert;
  pemCrl: string;
  derCrl: string;
}

function givenIssuer(root: string, name: string, keyAlg: KeyAlg, md?: string): IssuerFixture {
  const ca = givenOpensslCa(root, {name, keyAlg, md});
  const revokedLeadingZero = ca.issueLeaf(`${name}-revoked`, '9F01');
  const good = ca.issueLeaf(`${name}-good`);
  const revokedNegative = ca.issueLeafWithSetSerial(`${name}-negative`, '-5');
  ca.revoke(revokedLeadingZero.certFile);
  ca.revoke(revokedNegative.certFile);
  const pemCrl = ca.genCrl({out: 'crl.pem'});
  const derCrl = ca.genCrl({out: 'crl.der', der: true});
  return {ca, revokedLeadingZero, revokedNegative, good, pemCrl, derCrl};
}

describe('revocation: RevocationIndex, openssl-made CAs and CRLs (integration)', function () {
  this.timeout(120_000);
  let tmp: string;
  const issuers: Record<string, IssuerFixture> = {};
  let impostor: OpensslCa;
  let noCrlSign: OpensslCa;
  let noKeyUsage: OpensslCa;
  let untrusted: OpensslCa;
  let pss: OpensslCa;

  before(() => {
    tmp = givenTempDir('revocation-');
    issuers.rsa = givenIssuer(tmp, 'rsa', 'rsa');
    issuers.rsa512 = givenIssuer(tmp, 'rsa512', 'rsa', 'sha512');
    issuers.ec256 = givenIssuer(tmp, 'ec256', 'ec256');
    issuers.ec384 = givenIssuer(tmp, 'ec384', 'ec384', 'sha384');
    issuers.ed25519 = givenIssuer(tmp, 'ed25519', 'ed25519');
    // Same subject as the RSA CA, different key.
    impostor = givenOpensslCa(tmp, {name: 'impostor', keyAlg: 'rsa', cn: 'Test CA rsa'});
    noCrlSign = givenOpensslCa(tmp, {name: 'nocrlsign', keyAlg: 'ec256', keyUsage: 'keyCertSign'});
    noKeyUsage = givenOpensslCa(tmp, {name: 'noku', keyAlg: 'ec256', keyUsage: null});
    untrusted = givenOpensslCa(tmp, {name: 'untrusted', keyAlg: 'ec256'});
    pss = givenOpensslCa(tmp, {name: 'pss', keyAlg: 'rsa-pss'});
  });
  after(() => removeTempDir(tmp));

  const trusted = () =>
    Object.values(issuers)
      .map(i => i.ca.cert)
      .concat(noCrlSign.cert, noKeyUsage.cert, pss.cert);
  const file = (ca: OpensslCa, name: string) => path.join(ca.dir, name);

  for (const alg of ['rsa', 'rsa512', 'ec256', 'ec384', 'ed25519']) {
    for (const form of ['PEM', 'DER'] as const) {
      it(`${alg} issuer, ${form} CRL: revoked, good, leading-00 and negative serials`, async () => {
        const fx = issuers[alg];
        const crlFile = form === 'PEM' ? fx.pemCrl : fx.derCrl;
        const index = await RevocationIndex.load([crlFile], trusted());
        const fp = fx.ca.cert.fingerprint256;
        assert.equal(fx.revokedLeadingZero.cert.serialNumber, '9F01');
        assert.equal(index.status(fp, normalizeSerial(fx.revokedLeadingZero.cert.serialNumber)), 'revoked');
        assert.equal(index.status(fp, normalizeSerial(fx.revokedNegative.cert.serialNumber)), 'revoked');
        assert.equal(index.status(fp, normalizeSerial(fx.good.cert.serialNumber)), 'good');
        assert.equal(index.status(fp, '9F02'), 'good');
        assert.deepEqual(index.statusOfCertificate(fx.revokedLeadingZero.cert), {status: 'revoked', issuerFingerprint256: fp, crlFile});
        assert.deepEqual(index.statusOfCertificate(fx.revokedNegative.cert), {status: 'revoked', issuerFingerprint256: fp, crlFile});
        assert.deepEqual(index.statusOfCertificate(fx.good.cert), {status: 'good', issuerFingerprint256: fp, crlFile});
        // Another issuer's leaf: its CA is trusted but has no CRL in this index.
        const other = alg === 'ec256' ? issuers.rsa : issuers.ec256;
        assert.deepEqual(index.statusOfCertificate(other.revokedLeadingZero.cert), {
          status: 'unknown',
          issuerFingerprint256: other.ca.cert.fingerprint256,
        });
        assert.equal(index.status(other.ca.cert.fingerprint256, '9F01'), 'unknown');
        const [record] = index.crls;
        assert.equal(index.crls.length, 1);
        assert.equal(record.file, crlFile);
        assert.equal(record.issuerFingerprint256, fp);
        assert.equal(record.entryCount, 2);
        assert.equal(typeof record.crlNumber, 'bigint');
      });
    }
  }

  it('loads several CRLs at once and reports the earliest nextUpdate', async () => {
    const early = issuers.ec384.ca.genCrl({out: 'crl-early.pem', crlHours: 2});
    const index = await RevocationIndex.load([issuers.rsa.pemCrl, issuers.ec256.derCrl, early], trusted());
    assert.equal(index.crls.length, 3);
    const nu = index.earliestNextUpdate();
    assert.ok(nu && Math.abs(nu.getTime() - (Date.now() + 2 * HOUR)) < 10 * 60_000, String(nu));
    for (const k of ['rsa', 'ec256', 'ec384']) {
      assert.equal(index.statusOfCertificate(issuers[k].revokedLeadingZero.cert).status, 'revoked');
    }
  });

  it('keeps the newer of two CRLs for the same issuer (higher CRL number)', async () => {
    const ca = issuers.ec256.ca;
    const older = ca.genCrl({out: 'crl-older.pem'});
    const extra = ca.issueLeaf('ec256-late');
    ca.revoke(extra.certFile);
    const newer = ca.genCrl({out: 'crl-newer.pem'});
    for (const order of [
      [older, newer],
      [newer, older],
    ]) {
      const index = await RevocationIndex.load(order, trusted());
      assert.equal(index.crls.length, 1);
      assert.equal(index.crls[0].file, newer);
      assert.equal(index.statusOfCertificate(extra.cert).status, 'revoked');
    }
  });

  it('indexes a CRL under every configured certificate of its CA (re-issued CA certificate)', async () => {
    const fx = issuers.ec256;
    const reissued = fx.ca.reissueCaCert('ca-reissued.pem');
    assert.notEqual(reissued.fingerprint256, fx.ca.cert.fingerprint256);
    const index = await RevocationIndex.load([fx.pemCrl], [fx.ca.cert, reissued]);
    assert.equal(index.crls.length, 2);
    assert.equal(index.status(reissued.fingerprint256, '9F01'), 'revoked');
    assert.equal(index.status(fx.ca.cert.fingerprint256, '9F01'), 'revoked');
    assert.equal(index.statusOfCertificate(fx.revokedLeadingZero.cert).status, 'revoked');
  });

  describe('dates (RFC 5280 §6.3.3)', () => {
    it('rejects a CRL past its nextUpdate with CRL_EXPIRED; status is unknown once stale', async () => {
      const now = Date.now();
      const ca = issuers.rsa.ca;
      const expired = ca.genCrl({
        out: 'crl-expired.pem',
        lastUpdate: opensslTime(new Date(now - 2 * DAY)),
        nextUpdate: opensslTime(new Date(now - DAY)),
      });
      const err = await expectAppError(RevocationIndex.load([expired], trusted()), 'CRL_EXPIRED');
      assert.equal(err.details.file, expired);
      // Loaded while it was current, then queried after nextUpdate.
      const index = await RevocationIndex.load([expired], trusted(), new Date(now - 1.5 * DAY));
      const fp = ca.cert.fingerprint256;
      assert.equal(index.status(fp, '9F01', new Date(now - 1.5 * DAY)), 'revoked');
      assert.equal(index.status(fp, '9F01'), 'unknown');
      assert.equal(index.status(fp, normalizeSerial(issuers.rsa.good.cert.serialNumber)), 'unknown');
      assert.equal(index.statusOfCertificate(issuers.rsa.revokedLeadingZero.cert).status, 'unknown');
    });

    it('rejects a CRL whose thisUpdate is in the future with CRL_EXPIRED; status is unknown before thisUpdate', async () => {
      const now = Date.now();
      const ca = issuers.ec256.ca;
      const future = ca.genCrl({
        out: 'crl-future.pem',
        lastUpdate: opensslTime(new Date(now + DAY)),
        nextUpdate: opensslTime(new Date(now + 2 * DAY)),
      });
      await expectAppError(RevocationIndex.load([future], trusted()), 'CRL_EXPIRED');
      const index = await RevocationIndex.load([future], trusted(), new Date(now + 1.5 * DAY));
      assert.equal(index.status(ca.cert.fingerprint256, '9F01'), 'unknown');
      assert.equal(index.status(ca.cert.fingerprint256, '9F01', new Date(now + 1.5 * DAY)), 'revoked');
    });

    it('accepts a CRL exactly at its nextUpdate and rejects it one second later', async () => {
      const crl = await parseCrl(fs.readFileSync(issuers.ec256.pemCrl));
      const nu = crl.nextUpdate!;
      const index = await RevocationIndex.load([issuers.ec256.pemCrl], trusted(), nu);
      assert.equal(index.status(issuers.ec256.ca.cert.fingerprint256, '9F01', nu), 'revoked');
      assert.equal(index.status(issuers.ec256.ca.cert.fingerprint256, '9F01', new Date(nu.getTime() + 1000)), 'unknown');
      await expectAppError(RevocationIndex.load([issuers.ec256.pemCrl], trusted(), new Date(nu.getTime() + 1000)), 'CRL_EXPIRED');
    });
  });

  describe('issuer and signature checks', () => {
    it('rejects a CRL signed by another key under the same CA name with CRL_SIGNATURE_INVALID', async () => {
      impostor.revoke(impostor.issueLeaf('x').certFile);
      const forged = impostor.genCrl({out: 'crl.pem'});
      const crl = await parseCrl(fs.readFileSync(forged));
      assert.ok(crl.issuerNameDer.length > 0);
      assert.equal(await verifyCrlSignature(crl, issuers.rsa.ca.cert), false);
      const err = await expectAppError(RevocationIndex.load([forged], trusted()), 'CRL_SIGNATURE_INVALID');
      assert.equal(err.details.file, forged);
    });

    it('rejects a CRL from a CA that is not configured with CRL_SIGNATURE_INVALID', async () => {
      const crl = untrusted.genCrl({out: 'crl.pem'});
      await expectAppError(RevocationIndex.load([crl], trusted()), 'CRL_SIGNATURE_INVALID');
      await expectAppError(RevocationIndex.load([issuers.rsa.pemCrl], []), 'CRL_SIGNATURE_INVALID');
    });

    it('rejects a CRL whose signature bytes were altered with CRL_SIGNATURE_INVALID', async () => {
      const der = Buffer.from(fs.readFileSync(issuers.rsa.derCrl));
      der[der.length - 1] ^= 0x01;
      const f = file(issuers.rsa.ca, 'crl-badsig.der');
      fs.writeFileSync(f, der);
      await expectAppError(RevocationIndex.load([f], trusted()), 'CRL_SIGNATURE_INVALID');
    });

    it('rejects a CRL whose signed content was altered (revoked entry removed) with CRL_SIGNATURE_INVALID', async () => {
      const der = Buffer.from(fs.readFileSync(issuers.ec256.derCrl));
      const at = der.indexOf(Buffer.from([0x02, 0x03, 0x00, 0x9f, 0x01]));
      assert.ok(at > 0);
      der[at + 4] = 0x02; // 9F01 -> 9F02: still well-formed DER
      const f = file(issuers.ec256.ca, 'crl-tampered.der');
      fs.writeFileSync(f, der);
      await expectAppError(RevocationIndex.load([f], trusted()), 'CRL_SIGNATURE_INVALID');
    });

    it('rejects a CRL from a CA whose keyUsage lacks cRLSign with CRL_ISSUER_NOT_CRLSIGN', async () => {
      noCrlSign.revoke(noCrlSign.issueLeaf('y').certFile);
      const crlFile = noCrlSign.genCrl({out: 'crl.pem'});
      const crl = await parseCrl(fs.readFileSync(crlFile));
      await expectAppError(verifyCrlSignature(crl, noCrlSign.cert), 'CRL_ISSUER_NOT_CRLSIGN');
      const err = await expectAppError(RevocationIndex.load([crlFile], trusted()), 'CRL_ISSUER_NOT_CRLSIGN');
      assert.equal(err.details.file, crlFile);
    });

    it('accepts a CA certificate without a keyUsage extension', async () => {
      const leaf = noKeyUsage.issueLeaf('z');
      noKeyUsage.revoke(leaf.certFile);
      const index = await RevocationIndex.load([noKeyUsage.genCrl({out: 'crl.pem'})], trusted());
      assert.equal(index.statusOfCertificate(leaf.cert).status, 'revoked');
    });

    it('rejects an RSASSA-PSS-signed CRL as unsupported with CRL_INVALID', async () => {
      const crlFile = pss.genCrl({out: 'crl.pem'});
      const crl = await parseCrl(fs.readFileSync(crlFile));
      assert.equal(crl.signatureAlgorithmOid, '1.2.840.113549.1.1.10');
      await expectAppError(verifyCrlSignature(crl, pss.cert), 'CRL_INVALID');
      await expectAppError(RevocationIndex.load([crlFile], trusted()), 'CRL_INVALID');
    });

    it('rejects a sha1WithRSAEncryption CRL as unsupported with CRL_INVALID', async () => {
      const crlFile = issuers.rsa.ca.genCrl({out: 'crl-sha1.pem', md: 'sha1'});
      const crl = await parseCrl(fs.readFileSync(crlFile));
      assert.equal(crl.signatureAlgorithmOid, '1.2.840.113549.1.1.5');
      await expectAppError(RevocationIndex.load([crlFile], trusted()), 'CRL_INVALID');
    });

    it('verifyCrlSignature is false for an issuer with the right name but the wrong key type', async () => {
      const crl = await parseCrl(fs.readFileSync(issuers.rsa.pemCrl));
      assert.equal(await verifyCrlSignature(crl, impostor.cert), false);
      assert.equal(await verifyCrlSignature(crl, issuers.ec256.ca.cert), false);
      assert.equal(await verifyCrlSignature(crl, issuers.rsa.ca.cert), true);
    });
  });

  describe('unreadable and malformed files', () => {
    const cases: Array<[string, () => string, string]> = [
      ['a missing file', () => path.join(tmp, 'missing.crl'), 'TLS_MATERIAL_UNREADABLE'],
      ['a directory', () => tmp, 'TLS_MATERIAL_UNREADABLE'],
      ['an empty file', () => write('empty.crl', Buffer.alloc(0)), 'CRL_INVALID'],
      ['a garbage file', () => write('garbage.crl', Buffer.from('this is not a CRL\n')), 'CRL_INVALID'],
      ['a truncated DER CRL', () => write('truncated.der', fs.readFileSync(issuers.rsa.derCrl).subarray(0, 200)), 'CRL_INVALID'],
      ['a truncated PEM CRL', () => write('truncated.pem', fs.readFileSync(issuers.rsa.pemCrl).subarray(0, 300)), 'CRL_INVALID'],
      [
        'a PEM CRL with corrupt base64',
        () =>
          write('corrupt.pem', Buffer.from(fs.readFileSync(issuers.rsa.pemCrl, 'latin1').replace(/\n[A-Za-z0-9+/]{10}/, '\n**********'), 'latin1')),
        'CRL_INVALID',
      ],
      [
        'a DER CRL with trailing garbage',
        () => write('trailing.der', Buffer.concat([fs.readFileSync(issuers.rsa.derCrl), Buffer.from('xx')])),
        'CRL_INVALID',
      ],
      ['a certificate instead of a CRL', () => issuers.rsa.ca.certFile, 'CRL_INVALID'],
    ];
    function write(name: string, data: Buffer): string {
      const f = path.join(tmp, name);
      fs.writeFileSync(f, data);
      return f;
    }
    for (const [title, makeFile, code] of cases) {
      it(`rejects ${title} with ${code} and names the file`, async () => {
        const f = makeFile();
        const err = await expectAppError(RevocationIndex.load([issuers.ec256.pemCrl, f], trusted()), code);
        assert.equal(err.details.file, f);
      });
    }
  });

  describe('addFetched (distribution-point CRLs)', () => {
    it('installs a newer CRL, ignores an older one and applies the load() checks', async () => {
      const fx = issuers.ed25519;
      const ca = fx.ca;
      const first = ca.genCrl({out: 'crl-dp1.der', der: true});
      const later = ca.issueLeaf('ed-late');
      ca.revoke(later.certFile);
      const second = ca.genCrl({out: 'crl-dp2.der', der: true});
      const index = await RevocationIndex.load([first], trusted());
      assert.equal(index.statusOfCertificate(later.cert).status, 'good');

      const newer = await parseCrl(fs.readFileSync(second));
      assert.equal(await index.addFetched(newer, ca.cert, 'http://127.0.0.1/ed.crl'), true);
      assert.deepEqual(index.statusOfCertificate(later.cert), {
        status: 'revoked',
        issuerFingerprint256: ca.cert.fingerprint256,
        crlFile: 'http://127.0.0.1/ed.crl',
      });
      assert.equal(index.crls[0].crlNumber, newer.crlNumber);

      const older = await parseCrl(fs.readFileSync(first));
      assert.equal(await index.addFetched(older, ca.cert, 'old'), false);
      assert.equal(index.statusOfCertificate(later.cert).status, 'revoked');

      // Wrong issuer, issuer not configured, expired, not cRLSign.
      await expectAppError(index.addFetched(newer, issuers.ec256.ca.cert), 'CRL_SIGNATURE_INVALID');
      await expectAppError(index.addFetched(newer, untrusted.cert), 'CRL_SIGNATURE_INVALID');
      const expired = await parseCrl(
        fs.readFileSync(
          ca.genCrl({
            out: 'crl-dp-expired.pem',
            lastUpdate: opensslTime(new Date(Date.now() - 2 * DAY)),
            nextUpdate: opensslTime(new Date(Date.now() - DAY)),
          }),
        ),
      );
      const err = await expectAppError(index.addFetched(expired, ca.cert, 'http://127.0.0.1/expired.crl'), 'CRL_EXPIRED');
      assert.equal(err.details.file, 'http://127.0.0.1/expired.crl');
      const bad = await parseCrl(fs.readFileSync(noCrlSign.genCrl({out: 'crl-dp.pem'})));
      await expectAppError(index.addFetched(bad, noCrlSign.cert), 'CRL_ISSUER_NOT_CRLSIGN');
      assert.equal(index.statusOfCertificate(later.cert).status, 'revoked');
    });
  });

  describe('lookups', () => {
    it('empty(): every status is unknown', () => {
      const index = RevocationIndex.empty();
      assert.equal(index.status(issuers.rsa.ca.cert.fingerprint256, '9F01'), 'unknown');
      assert.deepEqual(index.statusOfCertificate(issuers.rsa.revokedLeadingZero.cert), {status: 'unknown'});
      assert.deepEqual(index.crls, []);
      assert.equal(index.earliestNextUpdate(), undefined);
    });

    it('a leaf whose issuer is not configured is unknown', async () => {
      const index = await RevocationIndex.load([issuers.rsa.pemCrl], [issuers.rsa.ca.cert]);
      assert.deepEqual(index.statusOfCertificate(untrusted.issueLeaf('u').cert), {status: 'unknown'});
    });

    it('a leaf signed by another key under the same CA name is not matched to that CA', async () => {
      const index = await RevocationIndex.load([issuers.rsa.pemCrl], [issuers.rsa.ca.cert]);
      const fake = impostor.issueLeaf('fake', '9F01'); // same name + serial as a revoked leaf
      assert.equal(index.statusOfCertificate(fake.cert).status, 'unknown');
    });

    it('remembers the issuer match per leaf; the CRL lookup stays per call (a newer CRL applies at once)', async () => {
      const fx = issuers.ec256;
      const ca = fx.ca;
      const first = ca.genCrl({out: 'crl-cache1.der', der: true});
      const leaf = ca.issueLeaf('ec-cache');
      const index = await RevocationIndex.load([first], trusted());
      const expected = {status: 'good', issuerFingerprint256: ca.cert.fingerprint256, crlFile: first};
      assert.deepEqual(index.statusOfCertificate(leaf.cert), expected);
      assert.deepEqual(index.issuerCacheStats, {size: 1, hits: 0, misses: 1});
      // The same certificate again, also as another X509Certificate object (same DER): a hit.
      assert.deepEqual(index.statusOfCertificate(leaf.cert), expected);
      assert.deepEqual(index.statusOfCertificate(new crypto.X509Certificate(leaf.cert.raw)), expected);
      assert.deepEqual(index.issuerCacheStats, {size: 1, hits: 2, misses: 1});
      // Revoked later: the cached issuer match does not hide the new CRL.
      ca.revoke(leaf.certFile);
      const second = await parseCrl(fs.readFileSync(ca.genCrl({out: 'crl-cache2.der', der: true})));
      assert.equal(await index.addFetched(second, ca.cert, 'http://127.0.0.1/cache.crl'), true);
      assert.deepEqual(index.statusOfCertificate(leaf.cert), {
        status: 'revoked',
        issuerFingerprint256: ca.cert.fingerprint256,
        crlFile: 'http://127.0.0.1/cache.crl',
      });
      assert.equal(index.issuerCacheStats.misses, 1);
    });

    it('caches "no trusted issuer" too, per leaf: an impostor leaf stays unknown, the real one is matched', async () => {
      const index = await RevocationIndex.load([issuers.rsa.pemCrl], [issuers.rsa.ca.cert]);
      const fake = impostor.issueLeaf('fake-cache', '9F02');
      for (let i = 0; i < 3; i++) assert.deepEqual(index.statusOfCertificate(fake.cert), {status: 'unknown'});
      for (let i = 0; i < 3; i++) assert.equal(index.statusOfCertificate(issuers.rsa.revokedLeadingZero.cert).status, 'revoked');
      assert.deepEqual(index.issuerCacheStats, {size: 2, hits: 4, misses: 2});
    });

    it('the issuer cache is bounded (least recently used evicted) and can be disabled', async () => {
      const fx = issuers.ec384;
      const leaves = [fx.good, fx.revokedLeadingZero, fx.ca.issueLeaf('ec384-c')];
      const index = await RevocationIndex.load([fx.derCrl], trusted(), new Date(), {issuerCacheSize: 2});
      const statuses = () => leaves.map(l => index.statusOfCertificate(l.cert).status);
      assert.deepEqual(statuses(), ['good', 'revoked', 'good']);
      assert.deepEqual(index.issuerCacheStats, {size: 2, hits: 0, misses: 3});
      // leaves[0] was evicted by leaves[2]; leaves[2] is cached.
      assert.equal(index.statusOfCertificate(leaves[2].cert).status, 'good');
      assert.equal(index.statusOfCertificate(leaves[0].cert).status, 'good');
      assert.deepEqual(index.issuerCacheStats, {size: 2, hits: 1, misses: 4});

      const uncached = await RevocationIndex.load([fx.derCrl], trusted(), new Date(), {issuerCacheSize: 0});
      assert.deepEqual(
        leaves.map(l => uncached.statusOfCertificate(l.cert).status),
        ['good', 'revoked', 'good'],
      );
      assert.deepEqual(uncached.issuerCacheStats, {size: 0, hits: 0, misses: 3});
      await expectAppError(RevocationIndex.load([fx.derCrl], trusted(), new Date(), {issuerCacheSize: -1}), 'INTERNAL_ERROR');
    });

    it('a malformed serial key throws AUTH_CERT_MALFORMED (never "good")', async () => {
      const index = await RevocationIndex.load([issuers.rsa.pemCrl], trusted());
      await expectAppError(() => index.status(issuers.rsa.ca.cert.fingerprint256, 'not-hex'), 'AUTH_CERT_MALFORMED');
    });
  });
});

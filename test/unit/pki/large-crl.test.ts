/**
 * buildLargeCrlDer(): a 100,000-entry CRL that openssl parses, verifies and counts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {DerReader, TAG} from '../../../src/x509/der';
import {
  buildLargeCrlDer,
  CaHandle,
  createRootCa,
  givenTempDir,
  givenTestIntermediateCa,
  largeCrlSerialBytes,
  largeCrlSerialHex,
} from '../../fixtures/pki';
import {openssl} from '../../fixtures/openssl';
import {signatureAlgorithms} from './openssl-helper';

describe('pki: large CRL builder (unit)', function () {
  let work: string;
  let inter: CaHandle;
  before(async () => {
    work = givenTempDir('hmtls-large-crl-');
    inter = await givenTestIntermediateCa();
  });

  const check = (name: string, der: Buffer, ca: CaHandle): string => {
    const crlFile = path.join(work, `${name}.der`);
    const caFile = path.join(work, `${name}-ca.pem`);
    fs.writeFileSync(crlFile, der);
    fs.writeFileSync(caFile, ca.certPem);
    const r = openssl(['crl', '-inform', 'DER', '-in', crlFile, '-noout', '-verify', '-text', '-CAfile', caFile]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /verify OK/);
    return r.stdout;
  };

  it('100,000 entries plus included serials: verifies with openssl and lists every entry', () => {
    const seed = 'unit-test';
    const include = ['0ABC', 'DEADBEEF', '7F0000000000000000000000000000000000'];
    const thisUpdate = new Date(Date.now() - 3600_000);
    const der = buildLargeCrlDer(inter, 100_000, {includeSerials: include, seed, thisUpdate});
    const text = check('big', der, inter);
    const serials = [...text.matchAll(/Serial Number: ([0-9A-F]+)/g)].map(m => m[1]);
    assert.equal(serials.length, 100_003);
    assert.deepEqual(serials.slice(-3), include);
    const bytes = largeCrlSerialBytes(100_000, seed);
    for (const i of [0, 1, 4242, 99_999]) assert.equal(serials[i], largeCrlSerialHex(bytes, i));
    assert.equal(new Set(serials).size, serials.length, 'serials are unique');
    assert.deepEqual(signatureAlgorithms(text), ['ecdsa-with-SHA256', 'ecdsa-with-SHA256']);
    assert.match(text, /Version 2 \(0x1\)/);
    assert.match(text, /X509v3 CRL Number:\s+1\n/);
    assert.match(text, /X509v3 Authority Key Identifier/);
    assert.match(text, /Issuer: O = Hardened mTLS Dev, CN = Hardened mTLS Dev Intermediate CA/);
  });

  it('is deterministic for a seed (entries identical; only the ECDSA signature differs)', () => {
    const thisUpdate = new Date('2030-01-01T00:00:00Z');
    const a = buildLargeCrlDer(inter, 1000, {seed: 7, thisUpdate});
    const b = buildLargeCrlDer(inter, 1000, {seed: 7, thisUpdate});
    const c = buildLargeCrlDer(inter, 1000, {seed: 8, thisUpdate});
    const tbs = (der: Buffer): Buffer => {
      const r = new DerReader(der);
      r.expect(0, der.length, TAG.SEQUENCE, 'CertificateList');
      const tbsStart = r.start;
      return der.subarray(tbsStart, r.expect(tbsStart, der.length, TAG.SEQUENCE, 'TBSCertList'));
    };
    assert.ok(tbs(a).length > 1000 * 35);
    assert.ok(tbs(a).equals(tbs(b)));
    assert.ok(!tbs(a).equals(tbs(c)));
  });

  it('signs with sha256WithRSAEncryption for an RSA issuer; an empty list is valid', async () => {
    const rsa = await createRootCa({name: 'rsa-big', cn: 'RSA Big', keyAlg: 'RSA-2048'});
    const text = check('rsa', buildLargeCrlDer(rsa, 500, {crlNumber: 9}), rsa);
    assert.deepEqual(signatureAlgorithms(text), ['sha256WithRSAEncryption', 'sha256WithRSAEncryption']);
    assert.equal([...text.matchAll(/Serial Number:/g)].length, 500);
    assert.match(text, /X509v3 CRL Number:\s+9\n/);
    assert.match(check('empty', buildLargeCrlDer(rsa, 0), rsa), /No Revoked Certificates/);
  });

  it('dates: thisUpdate/nextUpdate as given (GeneralizedTime after 2049)', () => {
    const der = buildLargeCrlDer(inter, 10, {thisUpdate: new Date('2049-12-31T23:00:00Z'), nextUpdate: new Date('2050-01-30T00:00:00Z')});
    const text = check('dates', der, inter);
    assert.match(text, /Last Update: Dec 31 23:00:00 2049 GMT/);
    assert.match(text, /Next Update: Jan 30 00:00:00 2050 GMT/);
  });
});

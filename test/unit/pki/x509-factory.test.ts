/**
 * The certificate/CRL factory, checked with the openssl CLI and Node's X509Certificate.
 */
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CaHandle,
  createCrl,
  createIntermediateCa,
  createRootCa,
  givenTempDir,
  issueCertificate,
  IssuedCert,
  KeyAlg,
  KeyUsage,
  loadCaHandle,
  OID,
  randomSerialHex,
  x509,
} from '../../fixtures/pki';
import {openssl, opensslOk} from '../../fixtures/openssl';
import {certText, extensionBlock, signatureAlgorithms} from './openssl-helper';

describe('pki: x509-factory (unit)', function () {
  let work: string;
  let root: CaHandle;
  let inter: CaHandle;
  const write = (name: string, data: string | Buffer): string => {
    const f = path.join(work, name);
    fs.writeFileSync(f, data);
    return f;
  };
  const verifyLeaf = (leaf: IssuedCert, ca: CaHandle[], extra: string[] = []): ReturnType<typeof openssl> => {
    const [anchor, ...untrusted] = ca;
    const args = ['verify', '-CAfile', write(`${anchor.name}.pem`, anchor.certPem)];
    if (untrusted.length) args.push('-untrusted', write('untrusted.pem', untrusted.map(c => c.certPem).join('')));
    return openssl([...args, ...extra, write(`${leaf.name}.pem`, leaf.certPem)]);
  };

  before(async () => {
    work = givenTempDir('hmtls-factory-');
    root = await createRootCa({name: 'root', cn: 'Factory Root'});
    inter = await createIntermediateCa(root, {name: 'inter', cn: 'Factory Intermediate'});
  });

  describe('key algorithms: SHA-256 signatures whatever the key', () => {
    const table: {alg: KeyAlg; sig: string; key: RegExp}[] = [
      {alg: 'P-256', sig: 'ecdsa-with-SHA256', key: /NIST CURVE: P-256/},
      {alg: 'P-384', sig: 'ecdsa-with-SHA256', key: /NIST CURVE: P-384/},
      {alg: 'RSA-2048', sig: 'sha256WithRSAEncryption', key: /Public-Key: \(2048 bit\)/},
      {alg: 'RSA-3072', sig: 'sha256WithRSAEncryption', key: /Public-Key: \(3072 bit\)/},
      {alg: 'Ed25519', sig: 'ED25519', key: /ED25519 Public-Key/},
    ];
    for (const row of table) {
      it(`${row.alg} CA signs itself, a leaf and a CRL with ${row.sig}`, async () => {
        const ca = await createRootCa({name: `ca-${row.alg}`, cn: `CA ${row.alg}`, keyAlg: row.alg});
        const leaf = await issueCertificate(ca, {name: `leaf-${row.alg}`, cn: 'leaf', keyAlg: row.alg});
        const r = verifyLeaf(leaf, [ca]);
        assert.equal(r.status, 0, r.output);
        const t = certText(write(`leaf-${row.alg}.pem`, leaf.certPem));
        assert.deepEqual(signatureAlgorithms(t), [row.sig, row.sig]);
        assert.match(t, row.key);
        assert.deepEqual(signatureAlgorithms(certText(write(`ca-${row.alg}.pem`, ca.certPem))), [row.sig, row.sig]);
        const crl = await createCrl(ca, [{serialHex: leaf.serialHex}]);
        const v = openssl([
          'crl',
          '-in',
          write(`crl-${row.alg}.pem`, crl.pem),
          '-noout',
          '-verify',
          '-text',
          '-CAfile',
          write(`ca-${row.alg}.pem`, ca.certPem),
        ]);
        assert.equal(v.status, 0, v.output);
        assert.deepEqual(signatureAlgorithms(v.stdout), [row.sig, row.sig]);
      });
    }
  });

  it('root + intermediate chain verifies; intermediate has pathlen 0 and keyCertSign + cRLSign', () => {
    const t = certText(write('inter.pem', inter.certPem));
    assert.equal(extensionBlock(t, 'X509v3 Basic Constraints'), 'X509v3 Basic Constraints: critical\nCA:TRUE, pathlen:0');
    assert.equal(extensionBlock(t, 'X509v3 Key Usage'), 'X509v3 Key Usage: critical\nCertificate Sign, CRL Sign');
    const r = openssl(['verify', '-CAfile', write('root.pem', root.certPem), write('inter2.pem', inter.certPem)]);
    assert.equal(r.status, 0, r.output);
  });

  it('keyUsage override makes a CA without cRLSign', async () => {
    const ca = await createIntermediateCa(root, {name: 'no-crlsign', cn: 'No CRL Sign CA', keyUsage: KeyUsage.keyCertSign});
    const t = certText(write('no-crlsign.pem', ca.certPem));
    assert.equal(extensionBlock(t, 'X509v3 Key Usage'), 'X509v3 Key Usage: critical\nCertificate Sign');
    // openssl refuses a CRL from this CA for CRL checking (X509_V_ERR_KEYUSAGE_NO_CRL_SIGN = 35).
    const leaf = await issueCertificate(ca, {name: 'ncs-leaf', cn: 'ncs-leaf'});
    const crl = await createCrl(ca, []);
    const rootCrl = await createCrl(root, []);
    const r = verifyLeaf(leaf, [root, ca], ['-crl_check_all', '-CRLfile', write('ncs.crl', crl.pem), '-CRLfile', write('root.crl', rootCrl.pem)]);
    assert.notEqual(r.status, 0, r.output);
    assert.match(r.output, /error 35 at 0 depth/);
  });

  it('default leaf: P-256, clientAuth, digitalSignature, CA:FALSE, SKI/AKI linked to the issuer', async () => {
    const leaf = await issueCertificate(inter, {name: 'default', cn: 'default', sans: {uri: ['spiffe://t/x']}});
    const t = certText(write('default.pem', leaf.certPem));
    assert.match(t, /NIST CURVE: P-256/);
    assert.equal(extensionBlock(t, 'X509v3 Extended Key Usage'), 'X509v3 Extended Key Usage:\nTLS Web Client Authentication');
    assert.equal(extensionBlock(t, 'X509v3 Key Usage'), 'X509v3 Key Usage: critical\nDigital Signature');
    assert.equal(extensionBlock(t, 'X509v3 Basic Constraints'), 'X509v3 Basic Constraints: critical\nCA:FALSE');
    const interSki = extensionBlock(certText(write('inter.pem', inter.certPem)), 'X509v3 Subject Key Identifier')!.split('\n')[1];
    assert.equal(extensionBlock(t, 'X509v3 Authority Key Identifier')!.split('\n')[1], interSki);
    const r = verifyLeaf(leaf, [root, inter], ['-purpose', 'sslclient']);
    assert.equal(r.status, 0, r.output);
  });

  it('profile knobs: no EKU, no keyUsage, CA:TRUE, every SAN type, AIA, CDP, ocsp-nocheck, extra extension', async () => {
    const extra = new x509.Extension('1.3.6.1.4.1.99999.1', false, new Uint8Array([0x05, 0x00]));
    const leaf = await issueCertificate(inter, {
      name: 'knobs',
      cn: 'knobs',
      eku: null,
      keyUsage: null,
      isCa: true,
      sans: {dns: ['a.test'], uri: ['spiffe://t/a'], email: ['a@t.test'], ip: ['127.0.0.1', '::1']},
      ocspUrl: 'http://127.0.0.1:9/ocsp',
      crlUrl: 'http://127.0.0.1:9/c.crl',
      ocspNoCheck: true,
      extraExtensions: [extra],
    });
    const t = certText(write('knobs.pem', leaf.certPem));
    assert.equal(extensionBlock(t, 'X509v3 Extended Key Usage'), undefined);
    assert.equal(extensionBlock(t, 'X509v3 Key Usage'), undefined);
    assert.equal(extensionBlock(t, 'X509v3 Basic Constraints'), 'X509v3 Basic Constraints: critical\nCA:TRUE');
    assert.equal(
      extensionBlock(t, 'X509v3 Subject Alternative Name'),
      'X509v3 Subject Alternative Name:\nDNS:a.test, URI:spiffe://t/a, email:a@t.test, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    assert.equal(extensionBlock(t, 'Authority Information Access'), 'Authority Information Access:\nOCSP - URI:http://127.0.0.1:9/ocsp');
    assert.match(extensionBlock(t, 'X509v3 CRL Distribution Points')!, /URI:http:\/\/127\.0\.0\.1:9\/c\.crl/);
    assert.match(t, /OCSP No Check/);
    assert.match(t, /1\.3\.6\.1\.4\.1\.99999\.1:/);
  });

  it('EKU list is honoured (serverAuth + OCSPSigning)', async () => {
    const leaf = await issueCertificate(inter, {name: 'eku', cn: 'eku', eku: [OID.serverAuth, OID.ocspSigning]});
    assert.equal(
      extensionBlock(certText(write('eku.pem', leaf.certPem)), 'X509v3 Extended Key Usage'),
      'X509v3 Extended Key Usage:\nTLS Web Server Authentication, OCSP Signing',
    );
  });

  it('serials: random ones are 16 positive bytes; explicit ones are normalised; fingerprints match Node', async () => {
    for (let i = 0; i < 50; i++) assert.match(randomSerialHex(), /^[1-7][0-9A-F]{31}$/);
    const a = await issueCertificate(inter, {name: 'rand', cn: 'rand'});
    const node = new crypto.X509Certificate(a.certPem);
    assert.match(a.serialHex, /^[1-7][0-9A-F]{31}$/);
    assert.equal(node.serialNumber.toUpperCase(), a.serialHex);
    assert.equal(node.fingerprint256, a.fingerprint256);
    assert.ok(node.raw.equals(a.certDer));
    const b = await issueCertificate(inter, {name: 'explicit', cn: 'explicit', serialHex: '00009f01'});
    assert.equal(b.serialHex, '9F01');
    const t = opensslOk(['x509', '-in', write('explicit.pem', b.certPem), '-noout', '-serial']);
    assert.equal(t.trim(), 'serial=9F01');
    // A high-bit serial gets a leading 00 in DER and stays positive.
    const c = await issueCertificate(inter, {name: 'high', cn: 'high', serialHex: 'FF'});
    assert.equal(c.serialHex, 'FF');
    assert.equal(opensslOk(['x509', '-in', write('high.pem', c.certPem), '-noout', '-serial']).trim(), 'serial=FF');
  });

  it('keys are PKCS#8 PEM that match the certificate', async () => {
    const leaf = await issueCertificate(inter, {name: 'pk', cn: 'pk', keyAlg: 'RSA-2048'});
    // Built from parts so no PEM key header appears literally in a tracked file.
    assert.match(leaf.keyPem, new RegExp(`^-----BEGIN ${'PRIVATE'} KEY-----\n`));
    const fromKey = opensslOk(['pkey', '-in', write('pk.key', leaf.keyPem), '-pubout']);
    const fromCert = opensslOk(['x509', '-in', write('pk.pem', leaf.certPem), '-noout', '-pubkey']);
    assert.equal(fromKey, fromCert);
  });

  it('loadCaHandle re-creates a CA from PEM that can keep issuing', async () => {
    for (const alg of ['P-384', 'RSA-2048', 'Ed25519'] as KeyAlg[]) {
      const ca = await createRootCa({name: `l-${alg}`, cn: `Loaded ${alg}`, keyAlg: alg});
      const loaded = await loadCaHandle(`l-${alg}`, ca.certPem, ca.keyPem);
      assert.equal(loaded.serialHex, ca.serialHex);
      const leaf = await issueCertificate(loaded, {name: `ll-${alg}`, cn: 'loaded-leaf'});
      const r = verifyLeaf(leaf, [ca]);
      assert.equal(r.status, 0, `${alg}: ${r.output}`);
    }
  });

  describe('createCrl', () => {
    it('v2 CRL with a bigint crlNumber, AKI, reasons and explicit dates', async () => {
      const thisUpdate = new Date('2030-01-02T03:04:05Z');
      const nextUpdate = new Date('2030-02-02T03:04:05Z');
      const crl = await createCrl(
        inter,
        [{serialHex: '0A0B', revokedAt: new Date('2029-12-31T00:00:00Z'), reason: 1}, {serialHex: 'FF01', reason: 5}, {serialHex: '1234'}],
        {thisUpdate, nextUpdate, crlNumber: 2n ** 70n},
      );
      const f = write('c.crl', crl.pem);
      assert.ok(crl.der.equals(Buffer.from(crl.pem.replace(/-----[^-]+-----|\s/g, ''), 'base64')));
      const r = openssl(['crl', '-in', f, '-noout', '-verify', '-text', '-CAfile', write('inter.pem', inter.certPem)]);
      assert.equal(r.status, 0, r.output);
      const t = r.stdout;
      assert.match(t, /Version 2 \(0x1\)/);
      assert.match(t, /Last Update: Jan {2}2 03:04:05 2030 GMT/);
      assert.match(t, /Next Update: Feb {2}2 03:04:05 2030 GMT/);
      assert.match(t, new RegExp(`X509v3 CRL Number:\\s+${(2n ** 70n).toString()}\\n`));
      assert.match(t, /X509v3 Authority Key Identifier/);
      assert.deepEqual(
        [...t.matchAll(/Serial Number: ([0-9A-F]+)/g)].map(x => x[1]),
        ['0A0B', 'FF01', '1234'],
      );
      assert.match(t, /Revocation Date: Dec 31 00:00:00 2029 GMT\n\s+CRL entry extensions:\n\s+X509v3 CRL Reason Code:\s+Key Compromise/);
      assert.match(t, /Cessation Of Operation/);
      // @peculiar/x509 parses it too (a second, independent reader).
      const parsed = new x509.X509Crl(crl.der);
      assert.equal(parsed.entries.length, 3);
      assert.equal(await parsed.verify({publicKey: inter.cert}), true);
    });

    it('an empty CRL verifies and lists nothing', async () => {
      const crl = await createCrl(root, []);
      const r = openssl(['crl', '-in', write('empty.crl', crl.pem), '-noout', '-verify', '-text', '-CAfile', write('root.pem', root.certPem)]);
      assert.equal(r.status, 0, r.output);
      assert.match(r.stdout, /No Revoked Certificates/);
    });

    it('a CRL signed by another key fails openssl verification', async () => {
      const other = await createRootCa({name: 'other', cn: 'Factory Intermediate', subject: inter.cert.subjectName});
      const crl = await createCrl(other, []);
      const r = openssl(['crl', '-in', write('forged.crl', crl.pem), '-noout', '-verify', '-CAfile', write('inter.pem', inter.certPem)]);
      assert.match(r.output, /verify fail/i);
    });
  });
});

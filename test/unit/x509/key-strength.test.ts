/**
 * keyStrength(): the connection gate's DER walk to the public key, table-driven over real
 * certificates made by the openssl CLI, each answer compared with OpenSSL's own view of the key
 * (Node's X509Certificate.publicKey, backed by OpenSSL, and `openssl x509 -text`'s key size).
 */
import assert from 'node:assert/strict';
import {X509Certificate} from 'node:crypto';
import {readFileSync} from 'node:fs';
import path from 'node:path';
import {isAppError} from '../../../src/errors';
import {keyStrength} from '../../../src/x509/key-strength';
import {opensslOk} from '../../fixtures/openssl';
import {givenTempDir, removeTempDir} from '../../fixtures/temp-dir';

interface Row {
  name: string;
  newkey: string[];
  expect: {algorithm: string; bits?: number};
}

const ROWS: Row[] = [
  {name: 'RSA 1024', newkey: ['-newkey', 'rsa:1024'], expect: {algorithm: 'rsa', bits: 1024}},
  {name: 'RSA 2048', newkey: ['-newkey', 'rsa:2048'], expect: {algorithm: 'rsa', bits: 2048}},
  {name: 'RSA 2047 (odd size)', newkey: ['-newkey', 'rsa:2047'], expect: {algorithm: 'rsa', bits: 2047}},
  {name: 'RSA 3072', newkey: ['-newkey', 'rsa:3072'], expect: {algorithm: 'rsa', bits: 3072}},
  {name: 'RSASSA-PSS 2048', newkey: ['-newkey', 'rsa-pss', '-pkeyopt', 'rsa_keygen_bits:2048'], expect: {algorithm: 'rsa-pss', bits: 2048}},
  {name: 'EC P-224', newkey: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-224'], expect: {algorithm: 'ec', bits: 224}},
  {name: 'EC P-256', newkey: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], expect: {algorithm: 'ec', bits: 256}},
  {name: 'EC P-384', newkey: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'], expect: {algorithm: 'ec', bits: 384}},
  {name: 'EC P-521', newkey: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521'], expect: {algorithm: 'ec', bits: 521}},
  {name: 'EC secp256k1', newkey: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1'], expect: {algorithm: 'ec', bits: 256}},
  {name: 'EC brainpoolP256r1', newkey: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:brainpoolP256r1'], expect: {algorithm: 'ec', bits: 256}},
  {name: 'EC brainpoolP384r1', newkey: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:brainpoolP384r1'], expect: {algorithm: 'ec', bits: 384}},
  {name: 'Ed25519', newkey: ['-newkey', 'ed25519'], expect: {algorithm: 'ed25519'}},
  {name: 'Ed448', newkey: ['-newkey', 'ed448'], expect: {algorithm: 'ed448'}},
];

describe('x509: keyStrength from DER, against OpenSSL (unit)', function () {
  this.timeout(120_000);
  let dir: string;
  const certs = new Map<string, Buffer>();

  before(() => {
    dir = givenTempDir('hmtls-keystrength-');
    ROWS.forEach((row, i) => {
      const file = path.join(dir, `c${i}.pem`);
      opensslOk(['req', '-x509', ...row.newkey, '-nodes', '-keyout', path.join(dir, `k${i}.pem`), '-out', file, '-subj', `/CN=k${i}`, '-days', '1']);
      certs.set(row.name, new X509Certificate(readFileSync(file)).raw);
    });
  });

  after(() => removeTempDir(dir));

  for (const row of ROWS) {
    it(`${row.name}: ${row.expect.algorithm}${row.expect.bits !== undefined ? `, ${row.expect.bits} bits` : ''}, as OpenSSL says`, () => {
      const der = certs.get(row.name)!;
      const got = keyStrength(der);
      assert.deepEqual(got, row.expect);
      // Oracle: OpenSSL's parse of the same certificate.
      const key = new X509Certificate(der).publicKey;
      assert.equal(key.asymmetricKeyType, row.expect.algorithm);
      const details = key.asymmetricKeyDetails ?? {};
      if (row.expect.algorithm.startsWith('rsa')) assert.equal(details.modulusLength, got.bits);
      const text = opensslOk(['x509', '-inform', 'DER', '-noout', '-text'], {input: der});
      const size = /Public-Key: \((\d+) bit\)/.exec(text)?.[1];
      if (got.bits !== undefined) assert.equal(Number(size), got.bits, text.slice(0, 400));
    });
  }

  const malformed: [string, (der: Buffer) => Buffer][] = [
    ['truncated', der => der.subarray(0, der.length - 10)],
    ['trailing byte', der => Buffer.concat([der, Buffer.from([0])])],
    ['not a SEQUENCE', der => Buffer.concat([Buffer.from([0x31]), der.subarray(1)])],
    ['empty', () => Buffer.alloc(0)],
  ];
  for (const [name, mutate] of malformed) {
    it(`malformed DER (${name}): AppError AUTH_CERT_MALFORMED, never an answer`, () => {
      const der = mutate(certs.get('EC P-256')!);
      assert.throws(
        () => keyStrength(der),
        (e: unknown) => isAppError(e) && e.code === 'AUTH_CERT_MALFORMED',
      );
    });
  }
});

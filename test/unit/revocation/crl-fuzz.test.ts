/**
 * Fuzz-ish robustness of parseCrl over a real (openssl-made) CRL: every truncation, every
 * single-byte flip, random multi-byte mutations. parseCrl must either resolve or reject with an
 * AppError CRL_INVALID — nothing else — and a mutated CRL must never verify.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import fc from 'fast-check';
import {AppError} from '../../../src/errors';
import {parseCrl, ParsedCrl} from '../../../src/tls/revocation/crl-parser';
import {verifyCrlSignature} from '../../../src/tls/revocation/crl-signature';
import {givenTempDir, removeTempDir} from '../../fixtures/temp-dir';
import {givenOpensslCa, OpensslCa} from './fixtures/openssl-ca';

/** Resolve to the parsed CRL or undefined; fail the test on anything but AppError CRL_INVALID. */
async function parseOrInvalid(input: Buffer, label: string): Promise<ParsedCrl | undefined> {
  try {
    return await parseCrl(input);
  } catch (e) {
    assert.ok(e instanceof AppError, `${label}: threw a non-AppError: ${String(e)}`);
    assert.equal(e.code, 'CRL_INVALID', `${label}: code ${e.code}`);
    return undefined;
  }
}

/** A mutated CRL that parses must not verify (false, or an AppError CRL_INVALID for its algorithm). */
async function assertDoesNotVerify(crl: ParsedCrl, ca: OpensslCa, label: string): Promise<void> {
  let ok: boolean;
  try {
    ok = await verifyCrlSignature(crl, ca.cert);
  } catch (e) {
    assert.ok(e instanceof AppError, `${label}: verify threw a non-AppError: ${String(e)}`);
    assert.equal(e.code, 'CRL_INVALID', `${label}: verify code ${e.code}`);
    return;
  }
  assert.equal(ok, false, `${label}: a mutated CRL verified`);
}

describe('revocation: parseCrl fuzz, openssl-made CRLs (unit)', function () {
  this.timeout(120_000);
  let tmp: string;
  let ca: OpensslCa;
  let der: Buffer;
  let pem: Buffer;

  before(() => {
    tmp = givenTempDir('revocation-');
    ca = givenOpensslCa(tmp, {name: 'fuzz', keyAlg: 'ec256'});
    ca.revoke(ca.issueLeaf('revoked-a', '9F01').certFile);
    ca.revoke(ca.issueLeaf('revoked-b').certFile);
    der = fs.readFileSync(ca.genCrl({out: 'crl.der', der: true}));
    pem = fs.readFileSync(ca.genCrl({out: 'crl.pem'}));
  });
  after(() => removeTempDir(tmp));

  it('the unmutated CRLs parse and verify (the fuzz baseline)', async () => {
    for (const input of [der, pem]) {
      const crl = await parseCrl(input);
      assert.equal(crl.entryCount, 2);
      assert.equal(await verifyCrlSignature(crl, ca.cert), true);
    }
  });

  it('rejects every truncation of the DER with CRL_INVALID', async () => {
    for (let n = 0; n < der.length; n++) {
      const crl = await parseOrInvalid(der.subarray(0, n), `truncated at ${n}`);
      assert.equal(crl, undefined, `truncation at ${n} of ${der.length} parsed`);
    }
  });

  it('rejects every truncation of the PEM body with CRL_INVALID', async () => {
    const text = pem.toString('latin1');
    const end = text.indexOf('-----END');
    const lastBase64 = text.slice(0, end).trimEnd().length; // cutting at or after this keeps all data
    for (let n = 0; n < lastBase64; n += 3) {
      const cut = Buffer.from(text.slice(0, n) + text.slice(end), 'latin1');
      const crl = await parseOrInvalid(cut, `PEM truncated at ${n}`);
      assert.equal(crl, undefined, `PEM truncation at ${n} parsed`);
    }
  });

  it('never throws a non-AppError and never verifies after a single-byte flip at any offset', async () => {
    let parsed = 0;
    for (let i = 0; i < der.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const m = Buffer.from(der);
        m[i] ^= mask;
        const label = `offset ${i} ^ 0x${mask.toString(16)}`;
        const crl = await parseOrInvalid(m, label);
        if (crl) {
          parsed++;
          await assertDoesNotVerify(crl, ca, label);
        }
      }
    }
    // Flips inside serials, dates and the signature still parse; the loop must have exercised them.
    assert.ok(parsed > 0);
  });

  it('survives random multi-byte mutations, insertions and deletions (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(), fc.integer({min: 0, max: 255}), fc.constantFrom('set', 'insert', 'delete')), {minLength: 1, maxLength: 6}),
        fc.boolean(),
        async (edits, usePem) => {
          const bytes = [...(usePem ? pem : der)];
          for (const [pos, value, op] of edits) {
            const at = pos % (bytes.length + 1);
            if (op === 'set' && at < bytes.length) bytes[at] = value;
            else if (op === 'insert') bytes.splice(at, 0, value);
            else if (op === 'delete' && at < bytes.length) bytes.splice(at, 1);
          }
          const m = Buffer.from(bytes);
          const crl = await parseOrInvalid(m, 'random mutation');
          if (crl && !m.equals(usePem ? pem : der)) {
            // A PEM edit may only touch whitespace/explanatory text and leave the DER intact.
            const original = await parseCrl(usePem ? pem : der);
            if (!crl.tbsDer.equals(original.tbsDer) || !crl.signature.equals(original.signature)) {
              await assertDoesNotVerify(crl, ca, 'random mutation');
            }
          }
        },
      ),
      {numRuns: 400},
    );
  });

  it('rejects garbage of every small length and random garbage with CRL_INVALID', async () => {
    for (let n = 0; n < 64; n++) {
      assert.equal(await parseOrInvalid(Buffer.alloc(n, 0x30), `0x30 x ${n}`), undefined);
      assert.equal(await parseOrInvalid(Buffer.alloc(n, 0xff), `0xff x ${n}`), undefined);
    }
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({maxLength: 512}), async bytes => {
        await parseOrInvalid(Buffer.from(bytes), 'random garbage');
      }),
      {numRuns: 500},
    );
  });
});

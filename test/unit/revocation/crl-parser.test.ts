import assert from 'node:assert/strict';
import fc from 'fast-check';
import {CLOCK_CHECK_EVERY, parseCrl, SLICE_BUDGET_MS} from '../../../src/tls/revocation/crl-parser';
import {serialKeyOfDerInteger} from '../../../src/x509/serial';
import {MAX_OVERFLOW_SERIALS} from '../../../src/tls/revocation/serial-set';
import {expectAppError} from './fixtures/openssl-ca';
import {ALG, CrlParts, crlOf, entry, ext, gen, hex, int, name, NULL, octet, oid, pem, seq, tlv, tbsOf, utc} from './fixtures/der-builder';

const CRL_NUMBER = '2.5.29.20';
const AKI = '2.5.29.35';
const IDP = '2.5.29.28';
const DELTA = '2.5.29.27';
const REASON = '2.5.29.21';
const INVALIDITY_DATE = '2.5.29.24';
const CERT_ISSUER = '2.5.29.29';

describe('revocation: parseCrl, hand-made DER edge cases (unit)', () => {
  it('parses a minimal v2 CRL', async () => {
    const crl = await parseCrl(crlOf({entries: [entry('00 9F 01'), entry('05')]}));
    assert.equal(crl.version, 2);
    assert.equal(crl.signatureAlgorithmOid, '1.2.840.10045.4.3.2');
    assert.equal(crl.signatureAlgorithmParams, undefined);
    assert.equal(crl.entryCount, 2);
    assert.equal(crl.revoked.size, 2);
    assert.equal(crl.revoked.has('9F01'), true);
    assert.equal(crl.revoked.has('5'), true);
    assert.equal(crl.revoked.has('6'), false);
    assert.equal(crl.crlNumber, 1n);
    assert.equal(crl.thisUpdate.toISOString(), '2026-01-01T00:00:00.000Z');
    assert.equal(crl.nextUpdate?.toISOString(), '2049-01-01T00:00:00.000Z');
    assert.equal(crl.hasCriticalUnknownExtension, false);
    assert.deepEqual(crl.issuerNameDer, name('Builder CA'));
    assert.deepEqual(crl.tbsDer, tbsOf({entries: [entry('00 9F 01'), entry('05')]}));
  });

  it('accepts a v1 CRL (no version, no extensions) and an absent revokedCertificates', async () => {
    const crl = await parseCrl(crlOf({version: null, extensions: null}));
    assert.equal(crl.version, 1);
    assert.equal(crl.entryCount, 0);
    assert.equal(crl.revoked.size, 0);
    assert.equal(crl.crlNumber, undefined);
  });

  it('accepts an absent nextUpdate', async () => {
    const crl = await parseCrl(crlOf({nextUpdate: null}));
    assert.equal(crl.nextUpdate, undefined);
  });

  it('handles UTCTime across the 1950/2049 pivot and GeneralizedTime', async () => {
    const a = await parseCrl(crlOf({thisUpdate: utc('500101000000Z'), nextUpdate: gen('20500101000000Z')}));
    assert.equal(a.thisUpdate.toISOString(), '1950-01-01T00:00:00.000Z');
    assert.equal(a.nextUpdate?.toISOString(), '2050-01-01T00:00:00.000Z');
    const b = await parseCrl(crlOf({thisUpdate: utc('491231235959Z'), nextUpdate: gen('20491231235959Z')}));
    assert.equal(b.thisUpdate.toISOString(), '2049-12-31T23:59:59.000Z');
    const leap = await parseCrl(crlOf({thisUpdate: gen('20240229120000Z')}));
    assert.equal(leap.thisUpdate.toISOString(), '2024-02-29T12:00:00.000Z');
  });

  it('reads the AKI keyIdentifier and a 20-octet CRL number', async () => {
    const crl = await parseCrl(
      crlOf({
        extensions: [ext(AKI, seq(tlv(0x80, hex('01 02 0A FF')))), ext(CRL_NUMBER, int('00' + 'FF'.repeat(20)))],
      }),
    );
    assert.equal(crl.authorityKeyIdentifier, '01020AFF');
    assert.equal(crl.crlNumber, (1n << 160n) - 1n);
  });

  it('keeps RSA NULL parameters and skips valid entry extensions', async () => {
    const crl = await parseCrl(
      crlOf({
        alg: ALG.rsaSha256,
        entries: [
          entry('01', ext(REASON, tlv(0x0a, hex('01')))),
          entry('02', ext(REASON, tlv(0x0a, hex('01')), false), ext(INVALIDITY_DATE, gen('20250101000000Z'))),
        ],
      }),
    );
    assert.deepEqual(crl.signatureAlgorithmParams, NULL);
    assert.equal(crl.revoked.has('2'), true);
    assert.equal(crl.hasCriticalUnknownExtension, false);
  });

  it('stores negative and over-long serials', async () => {
    const crl = await parseCrl(crlOf({entries: [entry('FB'), entry('01' + '00'.repeat(24))]}));
    assert.equal(crl.revoked.has('-5'), true);
    assert.equal(crl.revoked.has('1' + '00'.repeat(24)), true);
    assert.equal(crl.revoked.has('5'), false);
  });

  const unusable: Array<[string, CrlParts, string]> = [
    ['unknown critical CRL extension', {extensions: [ext('1.2.3.4', NULL, true)]}, '1.2.3.4'],
    ['critical certificateIssuer entry extension', {entries: [entry('01', ext(CERT_ISSUER, seq(), true))]}, 'entry:' + CERT_ISSUER],
    ['unknown critical entry extension', {entries: [entry('01'), entry('02', ext('1.2.3.5', NULL, true))]}, 'entry:1.2.3.5'],
  ];
  for (const [title, parts, reported] of unusable) {
    it(`marks a CRL with ${title} as unusable`, async () => {
      const crl = await parseCrl(crlOf(parts));
      assert.equal(crl.hasCriticalUnknownExtension, true);
      assert.deepEqual(crl.unsupportedExtensions, [reported]);
    });
  }

  it('reads issuingDistributionPoint into a scope (distributionPoint URIs, only* flags)', async () => {
    const dp = tlv(0xa0, tlv(0xa0, Buffer.concat([tlv(0x86, Buffer.from('http://crl.example/part1.crl')), tlv(0x82, Buffer.from('dns.example'))])));
    const crl = await parseCrl(crlOf({extensions: [ext(IDP, seq(dp, tlv(0x81, hex('ff'))), true)]}));
    assert.equal(crl.hasCriticalUnknownExtension, false);
    assert.deepEqual(crl.scope && {...crl.scope, key: undefined}, {
      distributionPoints: ['http://crl.example/part1.crl'],
      hasDistributionPoint: true,
      onlyContainsUserCerts: true,
      onlyContainsCACerts: false,
      onlySomeReasons: false,
      onlyContainsAttributeCerts: false,
      key: undefined,
    });
    const reasons = await parseCrl(crlOf({extensions: [ext(IDP, seq(tlv(0x83, hex('07 80'))), true)]}));
    assert.equal(reasons.scope?.onlySomeReasons, true);
    assert.equal(reasons.scope?.hasDistributionPoint, false);
    assert.equal((await parseCrl(crlOf({extensions: [ext(IDP, seq(tlv(0x82, hex('ff'))))]}))).scope?.onlyContainsCACerts, true);
  });

  const refused: Array<[string, CrlParts, string]> = [
    ['deltaCRLIndicator (a delta CRL)', {extensions: [ext(DELTA, int('01'), true)]}, 'CRL_DELTA_UNSUPPORTED'],
    ['issuingDistributionPoint indirectCRL', {extensions: [ext(IDP, seq(tlv(0x84, hex('ff'))), true)]}, 'CRL_INDIRECT_UNSUPPORTED'],
    ['issuingDistributionPoint with a DEFAULT FALSE encoded', {extensions: [ext(IDP, seq(tlv(0x81, hex('00'))), true)]}, 'CRL_INVALID'],
    [
      'issuingDistributionPoint with two onlyContains flags',
      {extensions: [ext(IDP, seq(tlv(0x81, hex('ff')), tlv(0x82, hex('ff'))), true)]},
      'CRL_INVALID',
    ],
  ];
  for (const [title, parts, code] of refused) {
    it(`refuses a CRL with ${title}: ${code}`, async () => {
      await assert.rejects(parseCrl(crlOf(parts)), (e: unknown) => (e as {code?: string}).code === code);
    });
  }

  it('ignores unknown non-critical extensions', async () => {
    const crl = await parseCrl(crlOf({extensions: [ext('1.2.3.4', NULL), ext(CRL_NUMBER, int('07'), false)]}));
    assert.equal(crl.hasCriticalUnknownExtension, false);
    assert.equal(crl.crlNumber, 7n);
  });

  // Every row must be rejected with CRL_INVALID.
  const valid = crlOf();
  const malformed: Array<[string, Buffer | (() => Buffer)]> = [
    ['empty input', Buffer.alloc(0)],
    ['garbage', Buffer.from('hello world, not a CRL')],
    ['trailing garbage after CertificateList', Buffer.concat([valid, hex('00')])],
    ['indefinite length', () => Buffer.concat([hex('30 80'), valid.subarray(2), hex('00 00')])],
    [
      'non-minimal length (long form for < 128)',
      () => {
        const tbs = tbsOf();
        const body = Buffer.concat([tbs, ALG.ecdsaSha256, tlv(0x03, hex('00 01'))]);
        return Buffer.concat([hex('30 81'), Buffer.from([body.length]), body]);
      },
    ],
    [
      'non-minimal length (leading zero length octet)',
      () => {
        const body = valid.subarray(valid[1] & 0x80 ? 2 + (valid[1] & 0x7f) : 2);
        return Buffer.concat([hex('30 82 00'), Buffer.from([body.length]), body]);
      },
    ],
    ['length larger than the buffer', () => Buffer.concat([hex('30 84 7f ff ff ff'), valid.subarray(2)])],
    ['five length octets', () => Buffer.concat([hex('30 85 00 00 00 00 10'), Buffer.alloc(16)])],
    ['high tag number', crlOf({entries: [entry('01', ext(REASON, hex('9f 81 01 00')))]})],
    ['wrong outer tag', () => Buffer.concat([hex('31'), valid.subarray(1)])],
    ['wrong TBSCertList tag', () => seq(tlv(0x31, tbsOf().subarray(2)), ALG.ecdsaSha256, tlv(0x03, hex('00 01')))],
    ['version 1 encoded explicitly (INTEGER 0)', crlOf({version: int('00')})],
    ['version 3', crlOf({version: int('02')})],
    ['non-minimal version INTEGER', crlOf({version: int('00 01')})],
    ['v1 CRL with extensions', crlOf({version: null})],
    ['v1 CRL with entry extensions', crlOf({version: null, extensions: null, entries: [entry('01', ext(REASON, tlv(0x0a, hex('01'))))]})],
    ['inner/outer signature algorithm mismatch', crlOf({alg: ALG.ecdsaSha256, outerAlg: seq(oid('1.2.840.10045.4.3.3'))})],
    ['missing issuer', () => seq(seq(int('01'), ALG.ecdsaSha256, utc('260101000000Z')), ALG.ecdsaSha256, tlv(0x03, hex('00 01')))],
    ['empty RDN in issuer', crlOf({issuer: seq(tlv(0x31))})],
    ['issuer attribute with trailing data', crlOf({issuer: seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, hex('41')), tlv(0x0c, hex('41')))))})],
    ['thisUpdate missing', crlOf({thisUpdate: int('01')})],
    ['UTCTime without seconds', crlOf({thisUpdate: utc('2601010000Z')})],
    ['UTCTime with offset', crlOf({thisUpdate: utc('260101000000+0100')})],
    ['UTCTime not Zulu', crlOf({thisUpdate: utc('260101000000X')})],
    ['GeneralizedTime with fraction', crlOf({thisUpdate: gen('20260101000000.5Z')})],
    ['month 13', crlOf({thisUpdate: utc('261301000000Z')})],
    ['February 30', crlOf({thisUpdate: utc('260230000000Z')})],
    ['February 29 in a non-leap year', crlOf({thisUpdate: gen('21000229000000Z')})],
    ['hour 24', crlOf({thisUpdate: utc('260101240000Z')})],
    ['second 60', crlOf({thisUpdate: utc('260101235960Z')})],
    ['non-digit in time', crlOf({thisUpdate: utc('2601010000a0Z')})],
    ['nextUpdate before thisUpdate', crlOf({thisUpdate: utc('260102000000Z'), nextUpdate: utc('260101000000Z')})],
    ['entry with empty serial', crlOf({entries: [seq(tlv(0x02), utc('260101000000Z'))]})],
    ['entry with non-minimal serial', crlOf({entries: [entry('00 05')]})],
    ['entry with non-minimal negative serial', crlOf({entries: [entry('FF 85')]})],
    ['entry without revocationDate', crlOf({entries: [seq(int('01'))]})],
    ['entry with trailing data', crlOf({entries: [seq(int('01'), utc('260101000000Z'), seq(ext(REASON, tlv(0x0a, hex('01')))), NULL)]})],
    ['entry with empty extensions', crlOf({entries: [seq(int('01'), utc('260101000000Z'), seq())]})],
    ['entry extension with garbage value', crlOf({entries: [entry('01', ext(REASON, hex('0a 05 01')))]})],
    ['entry extension value with two TLVs', crlOf({entries: [entry('01', ext(REASON, Buffer.concat([tlv(0x0a, hex('01')), NULL])))]})],
    ['entry extension with non-DER BOOLEAN', crlOf({entries: [entry('01', seq(oid(REASON), tlv(0x01, hex('01')), octet(tlv(0x0a, hex('01')))))]})],
    ['duplicate entry extension', crlOf({entries: [entry('01', ext(REASON, tlv(0x0a, hex('01'))), ext(REASON, tlv(0x0a, hex('02'))))]})],
    ['entry that is not a SEQUENCE', crlOf({entries: [int('01')]})],
    ['empty crlExtensions', crlOf({extensions: []})],
    ['duplicate CRL extension', crlOf({extensions: [ext(CRL_NUMBER, int('01')), ext(CRL_NUMBER, int('02'))]})],
    ['negative CRL number', crlOf({extensions: [ext(CRL_NUMBER, int('FF'))]})],
    ['21-octet CRL number', crlOf({extensions: [ext(CRL_NUMBER, int('01' + '00'.repeat(20)))]})],
    ['CRL number that is not an INTEGER', crlOf({extensions: [ext(CRL_NUMBER, octet(hex('01')))]})],
    ['AKI with unexpected field', crlOf({extensions: [ext(AKI, seq(tlv(0x83, hex('01'))))]})],
    ['AKI with empty keyIdentifier', crlOf({extensions: [ext(AKI, seq(tlv(0x80)))]})],
    [
      'crlExtensions wrapper with trailing data',
      () => {
        const tbs = seq(int('01'), ALG.ecdsaSha256, name('X'), utc('260101000000Z'), tlv(0xa0, seq(ext(CRL_NUMBER, int('01'))), NULL));
        return seq(tbs, ALG.ecdsaSha256, tlv(0x03, hex('00 01')));
      },
    ],
    [
      'data after crlExtensions',
      () => {
        const tbs = seq(int('01'), ALG.ecdsaSha256, name('X'), utc('260101000000Z'), tlv(0xa0, seq(ext(CRL_NUMBER, int('01')))), NULL);
        return seq(tbs, ALG.ecdsaSha256, tlv(0x03, hex('00 01')));
      },
    ],
    ['signature with unused bits', crlOf({signatureBits: tlv(0x03, hex('03 ff'))})],
    ['empty signature', crlOf({signatureBits: tlv(0x03, hex('00'))})],
    ['signature not a BIT STRING', crlOf({signatureBits: octet(hex('00 01'))})],
    ['data after the signature', () => seq(tbsOf(), ALG.ecdsaSha256, tlv(0x03, hex('00 01')), NULL)],
    ['algorithm parameters with trailing data', crlOf({alg: seq(oid('1.2.840.113549.1.1.11'), NULL, NULL)})],
    ['OID with non-minimal sub-identifier', crlOf({alg: seq(tlv(0x06, hex('2a 80 48')))})],
    ['truncated OID', crlOf({alg: seq(tlv(0x06, hex('2a 86')))})],
    ['Extension with non-boolean critical', crlOf({extensions: [seq(oid(CRL_NUMBER), tlv(0x01, hex('7f')), octet(int('01')))]})],
  ];
  for (const [title, input] of malformed) {
    it(`rejects ${title} with CRL_INVALID`, async () => {
      await expectAppError(parseCrl(typeof input === 'function' ? input() : input), 'CRL_INVALID');
    });
  }

  it('rejects non-buffer input and a bad chunkSize with CRL_INVALID', async () => {
    await expectAppError(parseCrl('30 00' as unknown as Buffer), 'CRL_INVALID');
    await expectAppError(parseCrl(crlOf(), {chunkSize: 0}), 'CRL_INVALID');
    await expectAppError(parseCrl(crlOf(), {maxBytes: 10}), 'CRL_INVALID');
  });

  it('parses many entries identically whatever the chunk size', async () => {
    const minimal = (n: number): string => {
      const h = n.toString(16).padStart(n.toString(16).length + (n.toString(16).length % 2), '0');
      return parseInt(h.slice(0, 2), 16) & 0x80 ? '00' + h : h;
    };
    const entries = Array.from({length: 500}, (_, i) => entry(minimal(i + 1)));
    const der = crlOf({entries});
    for (const chunkSize of [1, 7, 500, 100_000]) {
      const crl = await parseCrl(der, {chunkSize});
      assert.equal(crl.entryCount, 500);
      assert.equal(crl.revoked.has('1F4'), true);
      assert.equal(crl.revoked.has('1F5'), false);
    }
  });

  describe('time slicing (injected clock: deterministic)', () => {
    const minimal = (n: number): string => {
      const h = n.toString(16).padStart(n.toString(16).length + (n.toString(16).length % 2), '0');
      return parseInt(h.slice(0, 2), 16) & 0x80 ? '00' + h : h;
    };
    // 2,000 conforming serials, then 600 negative ones (they take the overflow path).
    const negative = (i: number): string => (0x80 + (i % 0x7f)).toString(16) + (i & 0xff).toString(16).padStart(2, '0');
    const POSITIVE = 2000;
    const NEGATIVE = 600;
    const entries = [
      ...Array.from({length: POSITIVE}, (_, i) => entry(minimal(i + 1))),
      ...Array.from({length: NEGATIVE}, (_, i) => entry(negative(i))),
    ];
    const der = crlOf({entries});

    async function slicesOf(clock: () => number, chunkSize?: number): Promise<{units: number[]; revokedSize: number}> {
      const units: number[] = [];
      const crl = await parseCrl(der, {clock, onSlice: (_ms, n) => units.push(n), ...(chunkSize ? {chunkSize} : {})});
      assert.equal(crl.entryCount, POSITIVE + NEGATIVE);
      assert.equal(crl.revoked.has('7D0'), true);
      assert.equal(crl.revoked.has('-7EFF'), true); // negative(1) = DER 81 01 = -0x7EFF
      return {units, revokedSize: crl.revoked.size};
    }
    // Every entry is ticked twice: validation (pass 1), then insert or overflow key (pass 2).
    const TOTAL_UNITS = 2 * (POSITIVE + NEGATIVE);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

    it('a clock always over budget: no slice does more than CLOCK_CHECK_EVERY units (validation, inserts, overflow keys, zeroing)', async () => {
      let t = 0;
      const {units} = await slicesOf(() => (t += 1000));
      assert.ok(Math.max(...units) <= CLOCK_CHECK_EVERY, `largest slice ${Math.max(...units)} units`);
      assert.equal(sum(units), TOTAL_UNITS);
      assert.ok(units.length >= TOTAL_UNITS / CLOCK_CHECK_EVERY);
    });

    it('a clock advancing 1 ms per read: slices end once the budget is spent', async () => {
      let t = 0;
      const {units} = await slicesOf(() => (t += 1));
      assert.ok(Math.max(...units) <= SLICE_BUDGET_MS * CLOCK_CHECK_EVERY, `largest slice ${Math.max(...units)} units`);
      assert.equal(sum(units), TOTAL_UNITS);
    });

    it('a stopped clock: the chunk size alone bounds a slice; the result does not depend on slicing', async () => {
      const stopped = await slicesOf(() => 0, 700);
      assert.ok(Math.max(...stopped.units) <= 700);
      assert.equal(sum(stopped.units), TOTAL_UNITS);
      let t = 0;
      assert.equal((await slicesOf(() => (t += 1000))).revokedSize, stopped.revokedSize);
      assert.equal((await parseCrl(der)).revoked.size, stopped.revokedSize);
    });

    it('rejects a clock that is not a function with CRL_INVALID', async () => {
      await expectAppError(parseCrl(der, {clock: 5 as unknown as () => number}), 'CRL_INVALID');
    });
  });

  it('indexes positive, negative and over-long serials exactly (oracle: the serial keys of the DER)', async () => {
    /** The minimal DER content of a two's-complement integer given as bytes. */
    const minimalDer = (b: Uint8Array): Buffer => {
      let i = 0;
      while (i < b.length - 1 && ((b[i] === 0 && (b[i + 1] & 0x80) === 0) || (b[i] === 0xff && (b[i + 1] & 0x80) !== 0))) i++;
      return Buffer.from(b.subarray(i));
    };
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({minLength: 1, maxLength: 24}), {minLength: 1, maxLength: 60}),
        fc.array(fc.uint8Array({minLength: 1, maxLength: 24}), {maxLength: 30}),
        async (members, probes) => {
          const ders = members.map(minimalDer);
          const crl = await parseCrl(crlOf({entries: ders.map(d => entry(d.toString('hex')))}));
          const keyOf = (d: Buffer) => serialKeyOfDerInteger(d, 0, d.length);
          const oracle = new Set(ders.map(keyOf));
          assert.equal(crl.entryCount, ders.length);
          assert.equal(crl.revoked.size, oracle.size);
          for (const k of oracle) assert.equal(crl.revoked.has(k), true, k);
          for (const p of probes.map(minimalDer)) assert.equal(crl.revoked.has(keyOf(p)), oracle.has(keyOf(p)));
        },
      ),
      {numRuns: 150},
    );
  });

  it('refuses a CRL with more than MAX_OVERFLOW_SERIALS serials longer than 20 octets (CRL_INVALID)', async () => {
    const longSerial = (i: number) => '01' + '00'.repeat(17) + i.toString(16).padStart(8, '0');
    const at = (n: number) => crlOf({entries: Array.from({length: n}, (_, i) => entry(longSerial(i)))});
    assert.equal((await parseCrl(at(MAX_OVERFLOW_SERIALS))).revoked.size, MAX_OVERFLOW_SERIALS);
    await expectAppError(parseCrl(at(MAX_OVERFLOW_SERIALS + 1)), 'CRL_INVALID');
  });

  it('accepts a Uint8Array that is not a Buffer', async () => {
    const der = crlOf({entries: [entry('01')]});
    const crl = await parseCrl(new Uint8Array(der));
    assert.equal(crl.revoked.has('1'), true);
  });
});

describe('revocation / parseCrl PEM detection', () => {
  const der = crlOf({entries: [entry('00 9F 01')]});

  const good: Array<[string, string]> = [
    ['plain PEM', pem(der)],
    ['CRLF line endings', pem(der).replace(/\n/g, '\r\n')],
    ['leading whitespace and explanatory text', `  \nIssuer: CN=Builder CA\n${pem(der)}`],
    ['one long base64 line', `-----BEGIN X509 CRL-----\n${der.toString('base64')}\n-----END X509 CRL-----`],
    ['trailing blank lines', pem(der) + '\n\n  \n'],
  ];
  for (const [title, text] of good) {
    it(`decodes ${title}`, async () => {
      const crl = await parseCrl(Buffer.from(text, 'latin1'));
      assert.equal(crl.revoked.has('9F01'), true);
      assert.ok(crl.tbsDer.equals(tbsOf({entries: [entry('00 9F 01')]})));
    });
  }

  const b64 = der.toString('base64');
  const bad: Array<[string, string]> = [
    ['a certificate PEM', pem(der, 'CERTIFICATE')],
    ['missing END line', `-----BEGIN X509 CRL-----\n${b64}\n`],
    ['garbage after END', pem(der) + 'garbage'],
    ['a second CRL block', pem(der) + pem(der)],
    ['another block before the CRL', pem(der, 'CERTIFICATE') + pem(der)],
    ['non-base64 characters', pem(der).replace(b64.slice(0, 4), 'ab!d')],
    ['data after padding', `-----BEGIN X509 CRL-----\nAA==AAAA\n-----END X509 CRL-----\n`],
    ['too much padding', `-----BEGIN X509 CRL-----\nA===\n-----END X509 CRL-----\n`],
    ['length not a multiple of 4', `-----BEGIN X509 CRL-----\n${b64.replace(/=+$/, '')}A\n-----END X509 CRL-----\n`],
    ['non-canonical padding bits', `-----BEGIN X509 CRL-----\nAB==\n-----END X509 CRL-----\n`],
    ['empty body', `-----BEGIN X509 CRL-----\n-----END X509 CRL-----\n`],
    ['PEM of garbage DER', pem(Buffer.from('not DER at all'))],
  ];
  for (const [title, text] of bad) {
    it(`rejects ${title} with CRL_INVALID`, async () => {
      await expectAppError(parseCrl(Buffer.from(text, 'latin1')), 'CRL_INVALID');
    });
  }
});

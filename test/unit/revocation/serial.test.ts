import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import fc from 'fast-check';
import {normalizeSerial} from '../../../src/x509/serial';
import {MAX_OVERFLOW_SERIALS, SerialSet, SerialSetBuilder} from '../../../src/tls/revocation/serial-set';
import {expectAppError} from './fixtures/openssl-ca';

describe('revocation: normalizeSerial (unit)', () => {
  const cases: Array<[string, string | Uint8Array, string]> = [
    ['Node hex', '9F01', '9F01'],
    ['Node hex with leading zeros', '009F01', '9F01'],
    ['lower case', '0a0b', 'A0B'],
    ['odd length', '5', '5'],
    ['zero', '00', '0'],
    ['single zero', '0', '0'],
    ['negative (Node format)', '-05', '-5'],
    ['negative zero', '-00', '0'],
    ['DER with sign byte', Uint8Array.from([0x00, 0x9f, 0x01]), '9F01'],
    ['DER without sign byte', Uint8Array.from([0x7f, 0x01]), '7F01'],
    ['DER zero', Uint8Array.from([0x00]), '0'],
    ['DER small', Uint8Array.from([0x05]), '5'],
    ['DER negative -5', Uint8Array.from([0xfb]), '-5'],
    ['DER negative -128', Uint8Array.from([0x80]), '-80'],
    ['DER negative -1', Uint8Array.from([0xff]), '-1'],
    ['DER negative -256', Uint8Array.from([0xff, 0x00]), '-100'],
    ['DER 20-octet', Buffer.from('00' + 'FF'.repeat(20), 'hex'), 'FF'.repeat(20)],
    ['Buffer input', Buffer.from([0x00, 0x80]), '80'],
  ];
  for (const [title, input, expected] of cases) {
    it(`normalises ${title}`, () => {
      assert.equal(normalizeSerial(input), expected);
    });
  }

  const bad: Array<[string, unknown]> = [
    ['empty string', ''],
    ['non-hex', '9G'],
    ['colons', '9F:01'],
    ['0x prefix', '0x9F'],
    ['whitespace', ' 9F'],
    ['empty bytes', new Uint8Array(0)],
    ['number', 5],
  ];
  for (const [title, input] of bad) {
    it(`rejects ${title} with AUTH_CERT_MALFORMED`, async () => {
      await expectAppError(() => normalizeSerial(input as string), 'AUTH_CERT_MALFORMED');
    });
  }

  it('agrees between Node serialNumber strings and DER INTEGER bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({minLength: 1, maxLength: 24}), bytes => {
        // A positive DER INTEGER content: prepend the sign byte when the top bit is set.
        const der = bytes[0] & 0x80 ? Uint8Array.from([0, ...bytes]) : bytes;
        const nodeStyle = Buffer.from(bytes).toString('hex').toUpperCase();
        assert.equal(normalizeSerial(der), normalizeSerial(nodeStyle));
        assert.equal(
          normalizeSerial(nodeStyle),
          BigInt('0x' + nodeStyle)
            .toString(16)
            .toUpperCase(),
        );
      }),
    );
  });
});

describe('revocation / SerialSet', () => {
  it('is empty', () => {
    const s = SerialSet.empty();
    assert.equal(s.size, 0);
    assert.equal(s.has('1'), false);
    assert.equal(s.has('0'), false);
  });

  it('answers membership for short, 20-octet, zero, negative and over-long serials', () => {
    const members = ['1', '0', '9F01', 'FF'.repeat(20), '-5', 'AB'.repeat(25), '7'.repeat(39)];
    const s = SerialSet.fromKeys(members);
    assert.equal(s.size, members.length);
    for (const m of members) assert.equal(s.has(m), true, m);
    for (const m of ['2', '9F02', 'FE' + 'FF'.repeat(19), '5', '-6', 'AB'.repeat(24), 'AB'.repeat(26), '1'.repeat(41)]) {
      assert.equal(s.has(m), false, m);
    }
  });

  it('normalises lookup keys (leading zeros, lower case)', () => {
    const s = SerialSet.fromKeys(['9F01']);
    assert.equal(s.has('009F01'), true);
    assert.equal(s.has('9f01'), true);
    assert.equal(s.has('-9F01'), false);
  });

  it('throws AUTH_CERT_MALFORMED for a non-hex lookup key (never a silent "not revoked")', async () => {
    const s = SerialSet.fromKeys(['1']);
    await expectAppError(() => s.has('zz'), 'AUTH_CERT_MALFORMED');
    await expectAppError(() => s.has(''), 'AUTH_CERT_MALFORMED');
  });

  it('deduplicates', () => {
    const s = SerialSet.fromKeys(['01', '1', '001', '2']);
    assert.equal(s.size, 2);
  });

  it('builds from DER INTEGER content with sign bytes', () => {
    const b = new SerialSetBuilder(2, 2, true, {count: 2, maxMagnitudeBytes: 2});
    const der = Buffer.from([0x00, 0x9f, 0x01, 0x05, 0xfb, 0x80, 0x00]);
    b.addDerInteger(der, 0, 3); // 00 9F 01
    b.addDerInteger(der, 3, 4); // 05
    b.addDerInteger(der, 4, 5); // FB = -5 (negative table)
    b.addDerInteger(der, 5, 7); // 80 00 = -0x8000
    const s = b.build();
    assert.deepEqual(
      [s.has('9F01'), s.has('5'), s.has('-5'), s.has('FB'), s.has('-FB'), s.has('-8000'), s.has('8000'), s.has('-9F01'), s.size],
      [true, true, true, false, false, true, false, false, 4],
    );
  });

  it('keeps negative serials in a table, not in per-key strings', () => {
    const keys = Array.from({length: 20_000}, (_, i) => `-${(i + 1).toString(16).toUpperCase()}`);
    const s = SerialSet.fromKeys([...keys, '1', '2']);
    assert.equal(s.size, 20_002);
    for (let i = 0; i < keys.length; i += 101) assert.equal(s.has(keys[i]), true);
    assert.equal(s.has('-4E21'), false); // 20,001
    assert.equal(s.has('3'), false);
    assert.equal(s.has('-1') && s.has('1'), true);
    // 2-byte magnitudes => 3-byte slots, not a Set of 20k strings (~64 B each).
    assert.ok(s.byteLength < 20_000 * 8, `byteLength ${s.byteLength}`);
  });

  it('refuses more than MAX_OVERFLOW_SERIALS serials longer than 20 octets with CRL_INVALID', async () => {
    const b = new SerialSetBuilder(0, 1);
    const longKey = (i: number) => 'AB'.repeat(20) + i.toString(16).toUpperCase().padStart(6, '0');
    for (let i = 0; i < MAX_OVERFLOW_SERIALS; i++) b.addKey(longKey(i));
    b.addKey(longKey(0)); // a duplicate does not count
    await expectAppError(() => b.addKey(longKey(MAX_OVERFLOW_SERIALS)), 'CRL_INVALID');
    const neg = new SerialSetBuilder(0, 1);
    const der = Buffer.alloc(22, 0xff);
    der[0] = 0x80; // a 22-octet negative INTEGER: magnitude over 20 octets
    for (let i = 0; i < MAX_OVERFLOW_SERIALS; i++) {
      der.writeUInt32BE(i, 18);
      neg.addDerInteger(der, 0, 22);
    }
    der.writeUInt32BE(MAX_OVERFLOW_SERIALS, 18);
    await expectAppError(() => neg.addDerInteger(der, 0, 22), 'CRL_INVALID');
  });

  it('refuses negative serials beyond the declared negative capacity', async () => {
    const b = new SerialSetBuilder(1, 1, true, {count: 1, maxMagnitudeBytes: 1});
    b.addKey('-1');
    b.addKey('1');
    await expectAppError(() => b.addKey('-2'), 'INTERNAL_ERROR');
  });

  it('refuses inserts beyond its declared capacity and a second build()', async () => {
    const b = new SerialSetBuilder(1, 1);
    b.addKey('1');
    b.addKey('1'); // duplicate: fine
    await expectAppError(() => b.addKey('2'), 'INTERNAL_ERROR');
    b.build();
    await expectAppError(() => b.build(), 'INTERNAL_ERROR');
  });

  it('requires zeroFill() before inserting into a deferred table', async () => {
    const b = new SerialSetBuilder(10, 4, false);
    await expectAppError(() => b.addKey('1'), 'INTERNAL_ERROR');
    await b.zeroFill(8, async () => undefined);
    b.addKey('1');
    assert.equal(b.build().has('1'), true);
  });

  it('matches a Set<string> oracle on random sequential and random serials (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.uint8Array({minLength: 1, maxLength: 22})), {maxLength: 300}),
        fc.array(fc.tuple(fc.boolean(), fc.uint8Array({minLength: 1, maxLength: 22})), {maxLength: 50}),
        (members, probes) => {
          const keyOf = ([neg, b]: [boolean, Uint8Array]) => normalizeSerial(`${neg ? '-' : ''}${Buffer.from(b).toString('hex')}`);
          const keys = members.map(keyOf);
          const oracle = new Set(keys);
          const s = SerialSet.fromKeys(keys);
          assert.equal(s.size, oracle.size);
          for (const k of keys) assert.equal(s.has(k), true);
          for (const p of probes) {
            const k = keyOf(p);
            assert.equal(s.has(k), oracle.has(k));
          }
        },
      ),
    );
  });

  it('handles 100k sequential serials (hash spread) exactly', () => {
    const keys: string[] = [];
    for (let i = 1; i <= 100_000; i++) keys.push(i.toString(16).toUpperCase());
    const s = SerialSet.fromKeys(keys);
    assert.equal(s.size, 100_000);
    for (let i = 1; i <= 100_000; i += 997) assert.equal(s.has(i.toString(16)), true);
    for (let i = 100_001; i <= 101_000; i++) assert.equal(s.has(i.toString(16)), false);
    // 3-byte magnitudes => 4-byte slots: far smaller than 20-octet slots.
    assert.ok(s.byteLength < 100_000 * 8, `byteLength ${s.byteLength}`);
  });

  it('handles random 20-octet serials exactly', () => {
    const pool = crypto.randomBytes(22_000 * 20);
    const keyAt = (i: number): string => normalizeSerial(pool.subarray(i * 20, i * 20 + 20).toString('hex'));
    const keys = Array.from({length: 20_000}, (_, i) => keyAt(i));
    const s = SerialSet.fromKeys(keys);
    for (const k of keys) assert.equal(s.has(k), true);
    for (let i = 20_000; i < 22_000; i++) assert.equal(s.has(keyAt(i)), false);
  });
});

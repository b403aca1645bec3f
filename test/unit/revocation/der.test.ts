import assert from 'node:assert/strict';
import {DerReader} from '../../../src/x509/der';
import {expectAppError} from './fixtures/openssl-ca';

const reader = (h: string) => new DerReader(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

describe('revocation: DerReader (unit)', () => {
  const good: Array<[string, string, number, number]> = [
    ['short length', '04 02 aa bb', 2, 4],
    ['zero length', '05 00', 2, 2],
    ['long form 0x81 (128)', '04 81 80' + ' 00'.repeat(128), 3, 131],
    ['long form 0x82 (256)', '04 82 01 00' + ' 00'.repeat(256), 4, 260],
  ];
  for (const [title, hex, start, end] of good) {
    it(`reads ${title}`, () => {
      const r = reader(hex);
      assert.equal(r.header(0, r.buf.length), end);
      assert.deepEqual([r.start, r.end], [start, end]);
    });
  }

  const bad: Array<[string, string, number?]> = [
    ['an empty buffer', ''],
    ['a lone tag', '04'],
    ['an indefinite length', '30 80 00 00'],
    ['five length octets', '04 85 00 00 00 00 01 00'],
    ['a leading zero length octet', '04 82 00 80' + ' 00'.repeat(128)],
    ['long form for a short length', '04 81 05 00 00 00 00 00'],
    ['a length past the buffer', '04 05 00 00'],
    ['a truncated long length', '04 82 01'],
    ['a high tag number', '1f 81 01 00'],
    ['a length past the parent limit', '04 03 00 00 00', 4],
  ];
  for (const [title, hex, limit] of bad) {
    it(`rejects ${title}`, async () => {
      const r = reader(hex);
      await expectAppError(() => r.header(0, limit ?? r.buf.length), 'CRL_INVALID');
    });
  }

  it('bounds nesting depth in checkTlvs', async () => {
    let h = '05 00';
    for (let i = 0; i < 40; i++) {
      const len = h.replace(/\s+/g, '').length / 2;
      h = `30 ${len < 128 ? len.toString(16).padStart(2, '0') : '81 ' + len.toString(16)} ${h}`;
    }
    const r = reader(h);
    await expectAppError(() => r.checkTlvs(0, r.buf.length), 'CRL_INVALID');
  });

  it('decodes OIDs (including large arcs)', () => {
    const r = reader('2a 86 48 86 f7 0d 01 01 0b 55 1d 14 81 34 01');
    assert.equal(r.oidString(0, 9), '1.2.840.113549.1.1.11');
    assert.equal(r.oidString(9, 12), '2.5.29.20');
    assert.equal(r.oidString(12, 15), '2.100.1');
  });

  it('uses the error code it was given', async () => {
    const r = new DerReader(Buffer.from([0x30, 0x80]), 'TLS_MATERIAL_UNREADABLE');
    await expectAppError(() => r.header(0, 2), 'TLS_MATERIAL_UNREADABLE');
  });
});

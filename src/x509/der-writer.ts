/**
 * DER writing, the one place it is done (the CRL writer in src/pki, test fixtures): lengths, TLV,
 * INTEGER, OID, Time. Reading is der.ts (the strict DerReader); fields of a certificate are read
 * by certificate-fields.ts.
 */
import {normalizeSerial} from './serial';

/** DER length octets for `len`. */
export function derLength(len: number): Buffer {
  if (len < 0x80) return Buffer.from([len]);
  const bytes: number[] = [];
  let n = len;
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV with the given tag byte around already-encoded content. */
export function derTlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

export const derSequence = (...content: Buffer[]): Buffer => derTlv(0x30, ...content);

/** Content octets of a positive DER INTEGER for a hex magnitude (leading 00 when the high bit is set). */
export function positiveIntegerOctets(hex: string): Buffer {
  let h = normalizeSerial(hex.replace(/[:\s]/g, ''));
  if (h.startsWith('-')) throw new Error(`negative serial ${hex}`);
  if (h.length % 2 === 1) h = '0' + h;
  let b = Buffer.from(h, 'hex');
  if (b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return b;
}

export function derIntegerFromHex(hex: string): Buffer {
  return derTlv(0x02, positiveIntegerOctets(hex));
}

export function derIntegerFromBigInt(n: bigint): Buffer {
  if (n < 0n) throw new Error('negative integers are not supported');
  return derIntegerFromHex(n.toString(16));
}

export function derOid(oid: string): Buffer {
  const parts = oid.split('.').map(p => BigInt(p));
  if (parts.length < 2) throw new Error(`invalid OID ${oid}`);
  const out: number[] = [];
  const enc = (v: bigint): void => {
    const tmp: number[] = [Number(v & 0x7fn)];
    v >>= 7n;
    while (v > 0n) {
      tmp.unshift(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(...tmp);
  };
  enc(parts[0] * 40n + parts[1]);
  for (const p of parts.slice(2)) enc(p);
  return derTlv(0x06, Buffer.from(out));
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** RFC 5280 time: UTCTime through 2049, GeneralizedTime from 2050 (seconds precision, Z). */
export function derTime(d: Date): Buffer {
  const y = d.getUTCFullYear();
  const rest = `${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
  if (y >= 1950 && y < 2050) return derTlv(0x17, Buffer.from(`${pad(y % 100)}${rest}`, 'latin1'));
  return derTlv(0x18, Buffer.from(`${pad(y, 4)}${rest}`, 'latin1'));
}

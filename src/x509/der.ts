/**
 * Minimal, strict DER TLV reader used by the CRL parser and by the certificate field extractor.
 *
 * Why not asn1js/pkijs here: a general ASN.1 library materialises one JS object (plus nested
 * objects for every TLV) per CRL entry. At 1,000,000 entries that is tens of millions of objects,
 * hundreds of MB of heap and several seconds of uninterrupted event-loop time in one synchronous
 * call. This reader allocates nothing per TLV: `header()` fills mutable fields on the reader
 * instance, and callers walk the buffer by offset.
 *
 * Strictness (every violation throws AppError CRL_INVALID, or the code given to the constructor):
 * - single-byte tags only (tag numbers >= 31 are never used by X.509 CRLs/certificates);
 * - definite lengths only (0x80 indefinite length rejected), minimal length encoding
 *   (long form only for >= 128, no leading zero length octets), at most 4 length octets;
 * - every TLV must fit inside its parent (bounds checked against the parent's end, not only the
 *   buffer), and callers check that children exactly fill their parent (no trailing bytes).
 *
 * Pure module: no LoopBack imports.
 */
import {AppError, ErrorCode} from '../errors';

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
  CTX0_CONSTRUCTED: 0xa0,
  CTX1_CONSTRUCTED: 0xa1,
  CTX2_CONSTRUCTED: 0xa2,
  CTX3_CONSTRUCTED: 0xa3,
  CTX0_PRIMITIVE: 0x80,
} as const;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export class DerReader {
  /** Tag byte of the last header read. */
  tag = 0;
  /** Offset of the first content byte of the last header read. */
  start = 0;
  /** Offset just past the last content byte of the last header read. */
  end = 0;

  constructor(
    readonly buf: Buffer,
    private readonly errorCode: ErrorCode = 'CRL_INVALID',
  ) {}

  fail(what: string, offset: number): never {
    throw new AppError(this.errorCode, `malformed DER: ${what}`, {offset});
  }

  /**
   * Read the TLV header at `pos`, which must lie inside [pos, limit). Sets tag/start/end and
   * returns `end` (the offset of the next sibling). Does not check the tag.
   */
  header(pos: number, limit: number): number {
    const buf = this.buf;
    if (pos + 2 > limit) this.fail('truncated header', pos);
    const tag = buf[pos];
    if ((tag & 0x1f) === 0x1f) this.fail('high tag number', pos);
    let lenByte = buf[pos + 1];
    let p = pos + 2;
    let len: number;
    if (lenByte < 0x80) {
      len = lenByte;
    } else {
      lenByte &= 0x7f;
      if (lenByte === 0) this.fail('indefinite length', pos);
      if (lenByte > 4) this.fail('length too large', pos);
      if (p + lenByte > limit) this.fail('truncated length', pos);
      if (buf[p] === 0) this.fail('non-minimal length', pos);
      len = 0;
      for (let i = 0; i < lenByte; i++) len = len * 256 + buf[p + i];
      p += lenByte;
      if (len < 0x80) this.fail('non-minimal length', pos);
    }
    if (len > limit - p) this.fail('length exceeds enclosing element', pos);
    this.tag = tag;
    this.start = p;
    this.end = p + len;
    return this.end;
  }

  /** Read a header and require `tag`. Returns the end offset. */
  expect(pos: number, limit: number, tag: number, what: string): number {
    if (pos >= limit) this.fail(`missing ${what}`, pos);
    if (this.buf[pos] !== tag) this.fail(`wrong tag for ${what}`, pos);
    return this.header(pos, limit);
  }

  /** Peek the tag at pos (or -1 at limit). */
  peek(pos: number, limit: number): number {
    return pos < limit ? this.buf[pos] : -1;
  }

  /** Validate INTEGER content at [start,end): non-empty, minimally encoded. */
  checkInteger(start: number, end: number): void {
    const buf = this.buf;
    if (end <= start) this.fail('empty INTEGER', start);
    if (end - start > 1) {
      const b0 = buf[start];
      const b1 = buf[start + 1];
      if ((b0 === 0x00 && (b1 & 0x80) === 0) || (b0 === 0xff && (b1 & 0x80) !== 0)) {
        this.fail('non-minimal INTEGER', start);
      }
    }
  }

  /** Validate OID content at [start,end) without allocating. */
  checkOid(start: number, end: number): void {
    const buf = this.buf;
    if (end <= start) this.fail('empty OID', start);
    let atSubidStart = true;
    for (let i = start; i < end; i++) {
      const b = buf[i];
      if (atSubidStart && b === 0x80) this.fail('non-minimal OID sub-identifier', i);
      atSubidStart = (b & 0x80) === 0;
    }
    if (!atSubidStart) this.fail('truncated OID', end);
  }

  /** Decode OID content to dotted form (for the few OIDs that need a name). */
  oidString(start: number, end: number): string {
    this.checkOid(start, end);
    const buf = this.buf;
    const parts: string[] = [];
    let value = 0n;
    let first = true;
    for (let i = start; i < end; i++) {
      value = (value << 7n) | BigInt(buf[i] & 0x7f);
      if ((buf[i] & 0x80) === 0) {
        if (first) {
          if (value < 40n) parts.push('0', value.toString());
          else if (value < 80n) parts.push('1', (value - 40n).toString());
          else parts.push('2', (value - 80n).toString());
          first = false;
        } else {
          parts.push(value.toString());
        }
        value = 0n;
      }
    }
    return parts.join('.');
  }

  /** BOOLEAN content: DER TRUE is 0xFF, FALSE 0x00; anything else is rejected. */
  boolean(start: number, end: number): boolean {
    if (end - start !== 1) this.fail('BOOLEAN length', start);
    const b = this.buf[start];
    if (b === 0xff) return true;
    if (b === 0x00) return false;
    return this.fail('non-DER BOOLEAN', start);
  }

  /**
   * Parse UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) content, as RFC 5280
   * §4.1.2.5 requires (seconds present, Zulu, no fractions). Returns epoch milliseconds.
   */
  time(tag: number, start: number, end: number): number {
    const buf = this.buf;
    const len = end - start;
    let p = start;
    let year: number;
    if (tag === TAG.UTC_TIME) {
      if (len !== 13) this.fail('UTCTime length', start);
      const yy = this.digits2(p);
      year = yy >= 50 ? 1900 + yy : 2000 + yy;
      p += 2;
    } else if (tag === TAG.GENERALIZED_TIME) {
      if (len !== 15) this.fail('GeneralizedTime length', start);
      year = this.digits2(p) * 100 + this.digits2(p + 2);
      p += 4;
    } else {
      return this.fail('wrong tag for Time', start);
    }
    const month = this.digits2(p);
    const day = this.digits2(p + 2);
    const hour = this.digits2(p + 4);
    const minute = this.digits2(p + 6);
    const second = this.digits2(p + 8);
    if (buf[p + 10] !== 0x5a /* Z */) this.fail('Time not in UTC (Z)', p + 10);
    if (month < 1 || month > 12) this.fail('Time month', p);
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    const dim = month === 2 ? (leap ? 29 : 28) : DAYS_IN_MONTH[month - 1];
    if (day < 1 || day > dim) this.fail('Time day', p + 2);
    if (hour > 23 || minute > 59 || second > 59) this.fail('Time of day', p + 4);
    const ms = Date.UTC(year, month - 1, day, hour, minute, second);
    // Date.UTC maps years 0..99 to 1900..1999; GeneralizedTime years < 100 are not meaningful here.
    if (year < 100) this.fail('Time year', start);
    return ms;
  }

  private digits2(p: number): number {
    const a = this.buf[p] - 0x30;
    const b = this.buf[p + 1] - 0x30;
    if (a < 0 || a > 9 || b < 0 || b > 9) this.fail('Time digit', p);
    return a * 10 + b;
  }

  /**
   * Validate that [start,end) is a well-formed sequence of complete TLVs, recursing into
   * constructed ones (depth-bounded). Used for opaque values (Name attribute values, extension
   * payloads we do not interpret).
   */
  checkTlvs(start: number, end: number, depth = 0): void {
    if (depth > 32) this.fail('nesting too deep', start);
    let p = start;
    while (p < end) {
      const next = this.header(p, end);
      if ((this.tag & 0x20) !== 0) {
        const s = this.start;
        this.checkTlvs(s, next, depth + 1);
      }
      p = next;
    }
  }
}

export function toHex(buf: Uint8Array, start = 0, end = buf.length): string {
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start)
    .toString('hex')
    .toUpperCase();
}

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }; TLV at [start,end). */
export function readAlgorithmIdentifier(r: DerReader, start: number, end: number): {oid: string; params?: Buffer} {
  const seqEnd = r.expect(start, end, TAG.SEQUENCE, 'AlgorithmIdentifier');
  if (seqEnd !== end) r.fail('trailing data after AlgorithmIdentifier', seqEnd);
  const oidEnd = r.expect(r.start, seqEnd, TAG.OID, 'algorithm');
  const oid = r.oidString(r.start, r.end);
  if (oidEnd === seqEnd) return {oid};
  const paramsEnd = r.header(oidEnd, seqEnd);
  if ((r.tag & 0x20) !== 0) r.checkTlvs(r.start, r.end);
  if (paramsEnd !== seqEnd) r.fail('trailing data in AlgorithmIdentifier', paramsEnd);
  return {oid, params: r.buf.subarray(oidEnd, paramsEnd)};
}

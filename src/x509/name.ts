/**
 * X.501 Names compared as RFC 5280 §7.1 says: attribute types by OID, string values after the
 * LDAP string preparation of RFC 4518 (Unicode NFKC, case folded, leading/trailing space removed,
 * inner whitespace runs folded to one space), whatever the string type: a PrintableString
 * "Example  CA" and a UTF8String "example ca" are the same name. Non-string values compare by
 * their DER. An RDN is a set: its attributes compare in any order.
 *
 * Used wherever an issuer is matched (chain building's self-issued test, CRL signer selection,
 * the name-constraint directoryName subtrees). One strict DER reader (der.ts); a malformed Name
 * throws AppError with the caller's code.
 *
 * Pure module: no LoopBack imports, no I/O.
 */
import type {ErrorCode} from '../errors';
import {DerReader, TAG} from './der';

/** Canonical form of one RDN: its attributes' canonical keys, sorted. */
export type CanonicalRdn = string;

export interface NameAttributeValue {
  readonly oid: string;
  /** Decoded string value; undefined when the value is not a string type. */
  readonly text: string | undefined;
}

export const OID_EMAIL_ADDRESS = '1.2.840.113549.1.9.1';

const UTF8 = 0x0c;
const NUMERIC = 0x12;
const PRINTABLE = 0x13;
const T61 = 0x14;
const IA5 = 0x16;
const VISIBLE = 0x1a;
const UNIVERSAL = 0x1c;
const BMP = 0x1e;

const utf8Decoder = new TextDecoder('utf-8', {fatal: true});

function decodeString(r: DerReader, tag: number, start: number, end: number): string | undefined {
  const bytes = r.buf.subarray(start, end);
  switch (tag) {
    case UTF8:
      try {
        return utf8Decoder.decode(bytes);
      } catch {
        return r.fail('UTF8String not valid UTF-8', start);
      }
    case NUMERIC:
    case PRINTABLE:
    case IA5:
    case VISIBLE:
      for (const b of bytes) if (b > 0x7f) r.fail('non-ASCII byte in an ASCII string type', start);
      return bytes.toString('latin1');
    case T61:
      return bytes.toString('latin1');
    case BMP: {
      if (bytes.length % 2 !== 0) r.fail('BMPString of odd length', start);
      let s = '';
      for (let i = 0; i < bytes.length; i += 2) s += String.fromCharCode((bytes[i] << 8) | bytes[i + 1]);
      return s;
    }
    case UNIVERSAL: {
      if (bytes.length % 4 !== 0) r.fail('UniversalString length not a multiple of 4', start);
      let s = '';
      for (let i = 0; i < bytes.length; i += 4) {
        const cp = bytes.readUInt32BE(i);
        if (cp > 0x10ffff) r.fail('UniversalString code point out of range', start);
        s += String.fromCodePoint(cp);
      }
      return s;
    }
    default:
      return undefined;
  }
}

/** RFC 4518 preparation as far as RFC 5280 §7.1 needs it: NFKC, case fold, insignificant space. */
export function prepareString(s: string): string {
  return s.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();
}

interface ParsedName {
  readonly rdns: CanonicalRdn[];
  readonly attributes: NameAttributeValue[];
}

function parse(der: Uint8Array, code: ErrorCode): ParsedName {
  const buf = Buffer.isBuffer(der) ? der : Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const r = new DerReader(buf, code);
  const end = r.expect(0, buf.length, TAG.SEQUENCE, 'Name');
  if (end !== buf.length) r.fail('trailing data after Name', end);
  const rdns: CanonicalRdn[] = [];
  const attributes: NameAttributeValue[] = [];
  let p = r.start;
  while (p < end) {
    const setEnd = r.expect(p, end, TAG.SET, 'RelativeDistinguishedName');
    const keys: string[] = [];
    let q = r.start;
    while (q < setEnd) {
      const atvEnd = r.expect(q, setEnd, TAG.SEQUENCE, 'AttributeTypeAndValue');
      const oidEnd = r.expect(r.start, atvEnd, TAG.OID, 'attribute type');
      const oid = r.oidString(r.start, oidEnd);
      const valueStart = oidEnd;
      const valueEnd = r.header(valueStart, atvEnd);
      if (valueEnd !== atvEnd) r.fail('AttributeTypeAndValue with extra fields', valueEnd);
      const tag = r.tag;
      const contentStart = r.start;
      if ((tag & 0x20) !== 0) r.checkTlvs(contentStart, valueEnd);
      const text = decodeString(r, tag, contentStart, valueEnd);
      attributes.push({oid, text});
      keys.push(`${oid}=${text === undefined ? `#${buf.toString('hex', valueStart, valueEnd)}` : `"${prepareString(text)}`}`);
      q = atvEnd;
    }
    if (keys.length === 0) r.fail('empty RelativeDistinguishedName', p);
    rdns.push(keys.sort().join('\u0000+'));
    p = setEnd;
  }
  return {rdns, attributes};
}

/** The RDNs of a Name (DER), each canonical per RFC 5280 §7.1, most general first (encoding order). */
export function canonicalRdns(der: Uint8Array, code: ErrorCode = 'AUTH_CERT_MALFORMED'): CanonicalRdn[] {
  return parse(der, code).rdns;
}

/** One string per Name: equal strings <=> the names match under RFC 5280 §7.1. */
export function canonicalName(der: Uint8Array, code: ErrorCode = 'AUTH_CERT_MALFORMED'): string {
  return parse(der, code).rdns.join('\u0000,');
}

/** RFC 5280 §7.1 name equality of two DER Names. */
export function namesMatch(a: Uint8Array, b: Uint8Array, code: ErrorCode = 'AUTH_CERT_MALFORMED'): boolean {
  if (Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))) return true;
  return canonicalName(a, code) === canonicalName(b, code);
}

/** Every attribute of a Name with its decoded string value (e.g. emailAddress for rfc822Name constraints). */
export function nameAttributes(der: Uint8Array, code: ErrorCode = 'AUTH_CERT_MALFORMED'): NameAttributeValue[] {
  return parse(der, code).attributes;
}

/** §4.2.1.10 directoryName: `name` lies in the subtree `base` when base's RDNs are a prefix of name's. */
export function withinDirectorySubtree(name: readonly CanonicalRdn[], base: readonly CanonicalRdn[]): boolean {
  if (base.length > name.length) return false;
  for (let i = 0; i < base.length; i++) if (name[i] !== base[i]) return false;
  return true;
}

/**
 * Validate a Name without allocating: SEQUENCE OF SET OF SEQUENCE { type OID, value ANY },
 * content at [start, end) (the CRL parser and the certificate field reader).
 */
export function checkName(r: DerReader, start: number, end: number): void {
  let p = start;
  while (p < end) {
    const setEnd = r.expect(p, end, TAG.SET, 'RelativeDistinguishedName');
    let q = r.start;
    if (q === setEnd) r.fail('empty RelativeDistinguishedName', q);
    while (q < setEnd) {
      const atvEnd = r.expect(q, setEnd, TAG.SEQUENCE, 'AttributeTypeAndValue');
      const typeEnd = r.expect(r.start, atvEnd, TAG.OID, 'attribute type');
      r.checkOid(r.start, r.end);
      const valueEnd = r.header(typeEnd, atvEnd);
      if ((r.tag & 0x20) !== 0) r.checkTlvs(r.start, r.end);
      if (valueEnd !== atvEnd) r.fail('trailing data in AttributeTypeAndValue', valueEnd);
      q = atvEnd;
    }
    p = setEnd;
  }
}

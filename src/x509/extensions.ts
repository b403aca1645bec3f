/**
 * X.509 Extension parsing, one reader for certificates, CRLs and CRL entries (as Go's
 * crypto/x509 has one parseExtension):
 *   Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
 * extnValue must hold exactly one well-formed TLV. parseExtension() fills a caller-owned cursor
 * and allocates nothing (the CRL parser calls it for entry extensions of up to millions of
 * entries); readExtensions() returns the list of a certificate's or CRL's extensions with
 * duplicates refused.
 *
 * Pure module: no LoopBack imports, no I/O.
 */
import {DerReader, TAG} from './der';

/** One Extension's offsets (filled by parseExtension). */
export interface ExtensionCursor {
  oidStart: number;
  oidEnd: number;
  critical: boolean;
  valueStart: number;
  valueEnd: number;
}

export interface Extension {
  readonly oid: string;
  readonly critical: boolean;
  readonly valueStart: number;
  readonly valueEnd: number;
}

export function newExtensionCursor(): ExtensionCursor {
  return {oidStart: 0, oidEnd: 0, critical: false, valueStart: 0, valueEnd: 0};
}

/** Parse the Extension TLV at `p` (inside [p, end)) into `out`; returns the offset after it. */
export function parseExtension(r: DerReader, p: number, end: number, out: ExtensionCursor): number {
  const extEnd = r.expect(p, end, TAG.SEQUENCE, 'Extension');
  let q = r.expect(r.start, extEnd, TAG.OID, 'extnID');
  out.oidStart = r.start;
  out.oidEnd = r.end;
  r.checkOid(out.oidStart, out.oidEnd);
  out.critical = false;
  if (r.peek(q, extEnd) === TAG.BOOLEAN) {
    q = r.header(q, extEnd);
    out.critical = r.boolean(r.start, r.end);
  }
  q = r.expect(q, extEnd, TAG.OCTET_STRING, 'extnValue');
  out.valueStart = r.start;
  out.valueEnd = r.end;
  if (q !== extEnd) r.fail('trailing data in Extension', q);
  // extnValue holds exactly one well-formed TLV.
  const e = r.header(out.valueStart, out.valueEnd);
  if ((r.tag & 0x20) !== 0) r.checkTlvs(r.start, r.end);
  if (e !== out.valueEnd) r.fail('trailing data in extnValue', e);
  return extEnd;
}

/** Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension, content at [start, end); a duplicate extnID is refused. */
export function readExtensions(r: DerReader, start: number, end: number): Extension[] {
  const out: Extension[] = [];
  const cursor = newExtensionCursor();
  let p = start;
  if (p === end) r.fail('empty Extensions', p);
  while (p < end) {
    const next = parseExtension(r, p, end, cursor);
    const oid = r.oidString(cursor.oidStart, cursor.oidEnd);
    if (out.some(e => e.oid === oid)) r.fail(`duplicate extension ${oid}`, p);
    out.push({oid, critical: cursor.critical, valueStart: cursor.valueStart, valueEnd: cursor.valueEnd});
    p = next;
  }
  return out;
}

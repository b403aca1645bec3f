/**
 * Minimal DER writer/reader helpers shared by the CRL builders (no dependencies).
 * Only what the PKI generator needs: lengths, INTEGER, OID, time, and a TLV walker
 * to lift raw fields (subject Name) out of a certificate without re-encoding them.
 */

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

/** Upper-case hex without leading zeros ("0" for zero). Throws on non-hex input. */
export function normalizeSerialHex(hex: string): string {
  const clean = hex.replace(/[:\s]/g, '');
  if (!/^[0-9a-fA-F]+$/.test(clean)) throw new Error(`invalid serial hex: ${hex}`);
  const stripped = clean.replace(/^0+/, '').toUpperCase();
  return stripped === '' ? '0' : stripped;
}

/** Content octets of a positive DER INTEGER for a hex magnitude (leading 00 when the high bit is set). */
export function positiveIntegerOctets(hex: string): Buffer {
  let h = normalizeSerialHex(hex);
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

export interface DerNode {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset one past the last content byte. */
  end: number;
}

/** Reads the TLV at `offset` (definite lengths only, as DER requires). */
export function readTlv(buf: Buffer, offset: number): DerNode {
  if (offset + 2 > buf.length) throw new Error('DER: truncated');
  const tag = buf[offset];
  let len = buf[offset + 1];
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > buf.length) throw new Error('DER: bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i];
    p += n;
  }
  if (p + len > buf.length) throw new Error('DER: truncated');
  return {tag, start: offset, contentStart: p, end: p + len};
}

/** Children of a constructed node. */
export function readChildren(buf: Buffer, node: DerNode): DerNode[] {
  const out: DerNode[] = [];
  let p = node.contentStart;
  while (p < node.end) {
    const c = readTlv(buf, p);
    out.push(c);
    p = c.end;
  }
  return out;
}

/** Raw DER of the subject Name of a certificate (exact bytes, never re-encoded). */
export function certificateSubjectDer(certDer: Buffer): Buffer {
  const cert = readTlv(certDer, 0);
  const [tbs] = readChildren(certDer, cert);
  const fields = readChildren(certDer, tbs);
  // [0] version is optional; then serial, signature, issuer, validity, subject.
  const i = fields[0].tag === 0xa0 ? 1 : 0;
  const subject = fields[i + 4];
  if (!subject || subject.tag !== 0x30) throw new Error('DER: certificate has no subject');
  return certDer.subarray(subject.start, subject.end);
}

/** PEM (first block) to DER. */
export function pemToDer(pem: string): Buffer {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(pem);
  if (!m) throw new Error('no PEM block found');
  return Buffer.from(m[2].replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
}

export function derToPem(der: Buffer, label: string): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** Dotted OID string of an OBJECT IDENTIFIER node. */
export function readOid(buf: Buffer, node: DerNode): string {
  const out: number[] = [];
  let v = 0;
  for (let i = node.contentStart; i < node.end; i++) {
    v = v * 128 + (buf[i] & 0x7f);
    if ((buf[i] & 0x80) === 0) {
      if (out.length === 0) out.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else out.push(v);
      v = 0;
    }
  }
  return out.join('.');
}

/** subjectKeyIdentifier bytes of a certificate, or undefined when it has none. */
export function certificateSubjectKeyId(certDer: Buffer): Buffer | undefined {
  const cert = readTlv(certDer, 0);
  const [tbs] = readChildren(certDer, cert);
  const extsWrapper = readChildren(certDer, tbs).find(n => n.tag === 0xa3);
  if (!extsWrapper) return undefined;
  const [exts] = readChildren(certDer, extsWrapper);
  for (const ext of readChildren(certDer, exts)) {
    const parts = readChildren(certDer, ext);
    if (parts[0].tag !== 0x06 || readOid(certDer, parts[0]) !== '2.5.29.14') continue;
    const value = parts[parts.length - 1];
    const inner = readTlv(certDer, value.contentStart);
    return Buffer.from(certDer.subarray(inner.contentStart, inner.end));
  }
  return undefined;
}

/**
 * Fields of a certificate that Node's X509Certificate does not expose (subject Name DER,
 * subjectKeyIdentifier, keyUsage, basicConstraints cA, CRL distribution point URIs), read from
 * the DER with the strict reader (der.ts) and the one extension reader (extensions.ts). Used by
 * CRL signer selection, the revocation index's scope test and the CRL writer (src/pki).
 *
 * Pure module: no LoopBack imports, no I/O.
 */
import type * as crypto from 'node:crypto';
import type {ErrorCode} from '../errors';
import {DerReader, TAG, toHex} from './der';
import {readExtensions} from './extensions';
import {checkName} from './name';

/** Fields of a CA certificate that Node's X509Certificate does not expose. */
export interface CertificateFields {
  /** Raw TBSCertificate.subject Name TLV. */
  readonly subjectDer: Buffer;
  /** subjectKeyIdentifier, upper-case hex. */
  readonly subjectKeyIdentifier?: string;
  /** keyUsage bits, or undefined when the extension is absent. */
  readonly keyUsage?: {readonly keyCertSign: boolean; readonly cRLSign: boolean; readonly digitalSignature: boolean};
  /** basicConstraints cA (false when the extension is absent). */
  readonly isCa: boolean;
  /** fullName URIs of cRLDistributionPoints (a CRL's issuingDistributionPoint scope is matched against them). */
  readonly crlDistributionPoints: readonly string[];
}

const fieldsCache = new WeakMap<crypto.X509Certificate, CertificateFields>();

/**
 * Extract subject DER, SKI and keyUsage from `cert.raw`. Throws AppError
 * TLS_MATERIAL_UNREADABLE when the certificate DER is malformed.
 */
export function certificateFields(cert: crypto.X509Certificate): CertificateFields {
  const cached = fieldsCache.get(cert);
  if (cached) return cached;
  const fields = parseCertificateFields(cert.raw, 'TLS_MATERIAL_UNREADABLE');
  fieldsCache.set(cert, fields);
  return fields;
}

export function parseCertificateFields(raw: Buffer, code: ErrorCode): CertificateFields {
  const r = new DerReader(raw, code);
  const certEnd = r.expect(0, raw.length, TAG.SEQUENCE, 'Certificate');
  if (certEnd !== raw.length) r.fail('trailing data after Certificate', certEnd);
  const tbsEnd = r.expect(r.start, certEnd, TAG.SEQUENCE, 'TBSCertificate');
  let p = r.start;
  if (r.peek(p, tbsEnd) === TAG.CTX0_CONSTRUCTED) p = r.header(p, tbsEnd); // version
  p = r.expect(p, tbsEnd, TAG.INTEGER, 'serialNumber');
  p = r.expect(p, tbsEnd, TAG.SEQUENCE, 'signature');
  p = r.expect(p, tbsEnd, TAG.SEQUENCE, 'issuer');
  p = r.expect(p, tbsEnd, TAG.SEQUENCE, 'validity');
  const subjectStart = p;
  p = r.expect(p, tbsEnd, TAG.SEQUENCE, 'subject');
  checkName(r, r.start, r.end);
  const subjectDer = Buffer.from(raw.subarray(subjectStart, p));
  p = r.expect(p, tbsEnd, TAG.SEQUENCE, 'subjectPublicKeyInfo');
  if (r.peek(p, tbsEnd) === 0x81 || r.peek(p, tbsEnd) === 0xa1) p = r.header(p, tbsEnd); // issuerUniqueID
  if (r.peek(p, tbsEnd) === 0x82 || r.peek(p, tbsEnd) === 0xa2) p = r.header(p, tbsEnd); // subjectUniqueID
  let subjectKeyIdentifier: string | undefined;
  let keyUsage: CertificateFields['keyUsage'];
  let isCa = false;
  const crlDistributionPoints: string[] = [];
  if (r.peek(p, tbsEnd) === TAG.CTX3_CONSTRUCTED) {
    const wrapEnd = r.header(p, tbsEnd);
    const extsEnd = r.expect(r.start, wrapEnd, TAG.SEQUENCE, 'extensions');
    if (extsEnd !== wrapEnd) r.fail('trailing data after extensions', extsEnd);
    for (const ext of readExtensions(r, r.start, extsEnd)) {
      if (ext.oid === '2.5.29.14') {
        r.expect(ext.valueStart, ext.valueEnd, TAG.OCTET_STRING, 'subjectKeyIdentifier');
        subjectKeyIdentifier = toHex(raw, r.start, r.end);
      } else if (ext.oid === '2.5.29.15') {
        r.expect(ext.valueStart, ext.valueEnd, TAG.BIT_STRING, 'keyUsage');
        const len = r.end - r.start;
        if (len < 1 || raw[r.start] > 7) r.fail('keyUsage BIT STRING', r.start);
        const b0 = len > 1 ? raw[r.start + 1] : 0;
        keyUsage = {digitalSignature: (b0 & 0x80) !== 0, keyCertSign: (b0 & 0x04) !== 0, cRLSign: (b0 & 0x02) !== 0};
      } else if (ext.oid === '2.5.29.19') {
        const bcEnd = r.expect(ext.valueStart, ext.valueEnd, TAG.SEQUENCE, 'basicConstraints');
        if (r.peek(r.start, bcEnd) === TAG.BOOLEAN) {
          r.header(r.start, bcEnd);
          isCa = r.boolean(r.start, r.end);
        }
      } else if (ext.oid === '2.5.29.31') {
        readCrlDistributionPointUris(r, ext.valueStart, ext.valueEnd, crlDistributionPoints);
      }
    }
    p = wrapEnd;
  }
  if (p !== tbsEnd) r.fail('unexpected data in TBSCertificate', p);
  return {subjectDer, ...(subjectKeyIdentifier ? {subjectKeyIdentifier} : {}), ...(keyUsage ? {keyUsage} : {}), isCa, crlDistributionPoints};
}

/** CRLDistributionPoints ::= SEQUENCE OF DistributionPoint; collects the fullName URIs. */
function readCrlDistributionPointUris(r: DerReader, start: number, end: number, out: string[]): void {
  const seqEnd = r.expect(start, end, TAG.SEQUENCE, 'cRLDistributionPoints');
  let p = r.start;
  while (p < seqEnd) {
    const dpEnd = r.expect(p, seqEnd, TAG.SEQUENCE, 'DistributionPoint');
    if (r.peek(r.start, dpEnd) === TAG.CTX0_CONSTRUCTED) {
      const nameWrapEnd = r.header(r.start, dpEnd);
      if (r.peek(r.start, nameWrapEnd) === TAG.CTX0_CONSTRUCTED) {
        const namesEnd = r.header(r.start, nameWrapEnd);
        let q = r.start;
        while (q < namesEnd) {
          const e = r.header(q, namesEnd);
          if (r.tag === 0x86) out.push(r.buf.toString('latin1', r.start, r.end));
          q = e;
        }
      }
    }
    p = dpEnd;
  }
}

/**
 * The strength of a certificate's public key, read straight from the certificate's DER with the
 * strict DerReader: the algorithm and, for RSA, the modulus length, for EC the curve's size.
 *
 * The connection gate needs it once per handshake; Node's way
 * (X509Certificate.publicKey.asymmetricKeyDetails) costs about 30 µs and getPeerCertificate()
 * about 125 µs (Node 24, docs/benchmarks-fixes.md), this walk a few µs. The authenticator still
 * judges the key from its full parse (certificate.ts); this module only answers the gate's
 * "too weak?" question, with the same thresholds.
 *
 * Pure module: no I/O, no LoopBack imports.
 */
import type {ErrorCode} from '../errors';
import {DerReader, TAG} from './der';

export type KeyAlgorithm = 'rsa' | 'rsa-pss' | 'ec' | 'ed25519' | 'ed448' | 'other';

export interface KeyStrength {
  readonly algorithm: KeyAlgorithm;
  /** RSA: modulus bits; EC: the curve's bits (named curves) or the point's size; absent otherwise. */
  readonly bits?: number;
}

const ALGORITHMS: Readonly<Record<string, KeyAlgorithm>> = {
  '1.2.840.113549.1.1.1': 'rsa',
  '1.2.840.113549.1.1.10': 'rsa-pss',
  '1.2.840.10045.2.1': 'ec',
  '1.3.101.112': 'ed25519',
  '1.3.101.113': 'ed448',
};

/** Named curves by OID: their size in bits (the order's bit length, as OpenSSL reports it). */
export const CURVE_BITS: Readonly<Record<string, number>> = {
  '1.2.840.10045.3.1.1': 192, // P-192
  '1.3.132.0.33': 224, // P-224
  '1.2.840.10045.3.1.7': 256, // P-256
  '1.3.132.0.10': 256, // secp256k1
  '1.3.132.0.34': 384, // P-384
  '1.3.132.0.35': 521, // P-521
  '1.3.36.3.3.2.8.1.1.7': 256, // brainpoolP256r1
  '1.3.36.3.3.2.8.1.1.11': 384, // brainpoolP384r1
  '1.3.36.3.3.2.8.1.1.13': 512, // brainpoolP512r1
};

/** Bits of a positive INTEGER's content at [start, end) (one leading 0x00 allowed, as DER requires for a set top bit). */
function integerBits(buf: Buffer, start: number, end: number): number {
  let i = start;
  while (i < end && buf[i] === 0) i++;
  if (i === end) return 0;
  return (end - i - 1) * 8 + (32 - Math.clz32(buf[i]));
}

/** Read the key strength of a DER certificate. Throws AppError(code) on malformed DER. */
export function keyStrength(der: Buffer, code: ErrorCode = 'AUTH_CERT_MALFORMED'): KeyStrength {
  const r = new DerReader(der, code);
  const certEnd = r.expect(0, der.length, TAG.SEQUENCE, 'Certificate');
  if (certEnd !== der.length) r.fail('trailing data after Certificate', certEnd);
  const tbsEnd = r.expect(r.start, certEnd, TAG.SEQUENCE, 'TBSCertificate');
  let p = r.start;
  if (r.peek(p, tbsEnd) === TAG.CTX0_CONSTRUCTED) p = r.header(p, tbsEnd);
  p = r.expect(p, tbsEnd, TAG.INTEGER, 'serialNumber');
  p = r.expect(p, tbsEnd, TAG.SEQUENCE, 'signature');
  p = r.expect(p, tbsEnd, TAG.SEQUENCE, 'issuer');
  p = r.expect(p, tbsEnd, TAG.SEQUENCE, 'validity');
  p = r.expect(p, tbsEnd, TAG.SEQUENCE, 'subject');
  const spkiEnd = r.expect(p, tbsEnd, TAG.SEQUENCE, 'subjectPublicKeyInfo');
  const algEnd = r.expect(r.start, spkiEnd, TAG.SEQUENCE, 'algorithm');
  const oidEnd = r.expect(r.start, algEnd, TAG.OID, 'algorithm OID');
  const algorithm = ALGORITHMS[r.oidString(r.start, r.end)] ?? 'other';
  let curve: string | undefined;
  if (algorithm === 'ec' && r.peek(oidEnd, algEnd) === TAG.OID) {
    r.header(oidEnd, algEnd);
    curve = r.oidString(r.start, r.end);
  }
  const keyEnd = r.expect(algEnd, spkiEnd, TAG.BIT_STRING, 'subjectPublicKey');
  if (keyEnd !== spkiEnd) r.fail('trailing data in subjectPublicKeyInfo', keyEnd);
  if (r.end - r.start < 1 || der[r.start] !== 0) r.fail('subjectPublicKey with unused bits', r.start);
  const keyStart = r.start + 1;
  const keyBytesEnd = r.end;
  switch (algorithm) {
    case 'rsa':
    case 'rsa-pss': {
      // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
      const seqEnd = r.expect(keyStart, keyBytesEnd, TAG.SEQUENCE, 'RSAPublicKey');
      if (seqEnd !== keyBytesEnd) r.fail('trailing data after RSAPublicKey', seqEnd);
      r.expect(r.start, seqEnd, TAG.INTEGER, 'modulus');
      r.checkInteger(r.start, r.end);
      return {algorithm, bits: integerBits(der, r.start, r.end)};
    }
    case 'ec': {
      const named = curve !== undefined ? CURVE_BITS[curve] : undefined;
      if (named !== undefined) return {algorithm, bits: named};
      // An unnamed curve: the size of the point (04 || X || Y, or 02/03 || X).
      const len = keyBytesEnd - keyStart;
      const form = der[keyStart];
      const bits = form === 0x04 ? ((len - 1) / 2) * 8 : form === 0x02 || form === 0x03 ? (len - 1) * 8 : undefined;
      return bits !== undefined && Number.isInteger(bits) ? {algorithm, bits} : {algorithm};
    }
    default:
      return {algorithm};
  }
}

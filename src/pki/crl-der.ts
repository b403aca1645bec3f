/**
 * Direct DER writer for v2 CRLs (RFC 5280 §5), signed with Node's crypto.sign:
 * ecdsa-with-SHA256, sha256WithRSAEncryption or Ed25519. Used by createCrl() and the
 * large-CRL builder. Entries are written as raw bytes, so no per-entry objects are needed.
 */
import * as crypto from 'node:crypto';
import {parseCertificateFields} from '../x509/certificate-fields';
import {derIntegerFromBigInt, derIntegerFromHex, derOid, derSequence, derTime, derTlv} from '../x509/der-writer';

const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_RSA_SHA256 = '1.2.840.113549.1.1.11';
const OID_ED25519 = '1.3.101.112';
const OID_CRL_NUMBER = '2.5.29.20';
const OID_AKI = '2.5.29.35';
const OID_CRL_REASON = '2.5.29.21';

/** AlgorithmIdentifier DER and the digest name for crypto.sign (null for Ed25519). */
export function signatureAlgorithmFor(key: crypto.KeyObject): {der: Buffer; digest: string | null} {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return {der: derSequence(derOid(OID_ECDSA_SHA256)), digest: 'sha256'};
    case 'rsa':
      return {der: derSequence(derOid(OID_RSA_SHA256), Buffer.from([0x05, 0x00])), digest: 'sha256'};
    case 'ed25519':
      return {der: derSequence(derOid(OID_ED25519)), digest: null};
    default:
      throw new Error(`unsupported CRL signing key type ${String(key.asymmetricKeyType)}`);
  }
}

/** One RevokedCertificate SEQUENCE. reason 0 (unspecified) is omitted, as RFC 5280 recommends. */
export function encodeRevokedEntry(serialHex: string, revokedAt: Date, reason?: number): Buffer {
  const parts = [derIntegerFromHex(serialHex), derTime(revokedAt)];
  if (reason !== undefined && reason !== 0) {
    if (!Number.isInteger(reason) || reason < 0 || reason > 10 || reason === 7) throw new Error(`invalid CRL reason ${reason}`);
    const ext = derSequence(derOid(OID_CRL_REASON), derTlv(0x04, derTlv(0x0a, Buffer.from([reason]))));
    parts.push(derSequence(ext));
  }
  return derSequence(...parts);
}

export interface SignedCrlInput {
  issuerCertDer: Buffer;
  privateKey: crypto.KeyObject;
  thisUpdate: Date;
  nextUpdate?: Date;
  crlNumber: bigint;
  /** Concatenated RevokedCertificate SEQUENCEs (may be empty). */
  revoked: Buffer;
}

/** Builds and signs a v2 CertificateList with cRLNumber and authorityKeyIdentifier extensions. */
export function buildSignedCrl(input: SignedCrlInput): Buffer {
  const alg = signatureAlgorithmFor(input.privateKey);
  const exts: Buffer[] = [derSequence(derOid(OID_CRL_NUMBER), derTlv(0x04, derIntegerFromBigInt(input.crlNumber)))];
  const issuer = parseCertificateFields(input.issuerCertDer, 'TLS_MATERIAL_UNREADABLE');
  const keyId = issuer.subjectKeyIdentifier;
  if (keyId) exts.push(derSequence(derOid(OID_AKI), derTlv(0x04, derSequence(derTlv(0x80, Buffer.from(keyId, 'hex'))))));
  const tbsParts: Buffer[] = [
    Buffer.from([0x02, 0x01, 0x01]), // version v2
    alg.der,
    issuer.subjectDer,
    derTime(input.thisUpdate),
  ];
  if (input.nextUpdate) tbsParts.push(derTime(input.nextUpdate));
  if (input.revoked.length > 0) tbsParts.push(derTlv(0x30, input.revoked));
  tbsParts.push(derTlv(0xa0, derSequence(...exts)));
  const tbs = derSequence(...tbsParts);
  const signature = crypto.sign(alg.digest, tbs, input.privateKey);
  return derSequence(tbs, alg.der, derTlv(0x03, Buffer.from([0x00]), signature));
}

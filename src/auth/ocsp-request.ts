/**
 * OCSP request building (RFC 6960 §4.1): CertID with the configured hash, a fresh 32-byte nonce,
 * never signed.
 *
 * No LoopBack imports, no I/O.
 */
import crypto from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type {ParsedClientCertificate} from '../x509/certificate';

export const OCSP_NONCE_OID = '1.3.6.1.5.5.7.48.1.2';

export type CertIdHash = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';

const HASH_OIDS: Readonly<Record<CertIdHash, string>> = {
  'SHA-1': '1.3.14.3.2.26',
  'SHA-256': '2.16.840.1.101.3.4.2.1',
  'SHA-384': '2.16.840.1.101.3.4.2.2',
  'SHA-512': '2.16.840.1.101.3.4.2.3',
};
export const NODE_HASH_BY_OID: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

export function digest(alg: string, data: Uint8Array): Buffer {
  return crypto.createHash(alg).update(data).digest();
}

export interface BuiltOcspRequest {
  readonly der: Buffer;
  /** The nonce extension's extnValue (DER OCTET STRING wrapping the random bytes), or undefined. */
  readonly nonceExtnValue: Buffer | undefined;
}

/** Build a DER OCSPRequest for `leaf` issued by `issuer`, with a random 32-byte nonce unless `nonce: false`. */
export function buildOcspRequest(
  leaf: ParsedClientCertificate,
  issuer: ParsedClientCertificate,
  opts: {hash?: CertIdHash; nonce?: boolean | Buffer} = {},
): BuiltOcspRequest {
  const hash = opts.hash ?? 'SHA-256';
  const oid = HASH_OIDS[hash];
  const node = NODE_HASH_BY_OID[oid];
  const certId = new pkijs.CertID({
    hashAlgorithm: new pkijs.AlgorithmIdentifier({algorithmId: oid, algorithmParams: new asn1js.Null()}),
    issuerNameHash: new asn1js.OctetString({valueHex: digest(node, issuer.subjectDer)}),
    issuerKeyHash: new asn1js.OctetString({valueHex: digest(node, issuer.publicKeyBits)}),
    serialNumber: new asn1js.Integer({valueHex: new Uint8Array(leaf.pkijs.serialNumber.valueBlock.valueHexView)}),
  });
  const req = new pkijs.OCSPRequest();
  req.tbsRequest.requestList = [new pkijs.Request({reqCert: certId})];
  let nonceExtnValue: Buffer | undefined;
  if (opts.nonce !== false) {
    const raw = Buffer.isBuffer(opts.nonce) ? opts.nonce : crypto.randomBytes(32);
    nonceExtnValue = Buffer.from(new asn1js.OctetString({valueHex: raw}).toBER(false));
    req.tbsRequest.requestExtensions = [
      new pkijs.Extension({extnID: OCSP_NONCE_OID, critical: false, extnValue: new Uint8Array(nonceExtnValue).buffer}),
    ];
  }
  return {der: Buffer.from(req.toSchema(true).toBER(false)), nonceExtnValue};
}

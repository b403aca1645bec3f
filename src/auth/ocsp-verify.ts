/**
 * OCSP response verification (RFC 6960), not trusting pkijs' BasicOCSPResponse.verify() (which
 * ignores thisUpdate/nextUpdate and the nonce): see ocsp-client.ts for the full list of checks.
 * Every failure is an 'unknown' OcspResult with a reason, never a 'good'.
 *
 * No LoopBack imports, no I/O.
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import {OID, ParsedClientCertificate, parseCertificate} from '../x509/certificate';
import {WeakSignatureAlgorithmError, verifySignature} from '../x509/pki-crypto';
import type {RevocationStatus} from '../x509/revocation-status';
import {normalizeSerial} from '../x509/serial';
import {checkValidity} from './certificate-policy';
import {digest, NODE_HASH_BY_OID, OCSP_NONCE_OID} from './ocsp-request';

export const ID_PKIX_OCSP_BASIC = '1.3.6.1.5.5.7.48.1.1';

/** Why a lookup ended 'unknown' (never an ErrorCode: the authenticator maps unknown to AUTH_REVOCATION_UNKNOWN). */
export type OcspReason =
  | 'no_responder_url'
  | 'url_not_allowed'
  | 'timeout'
  | 'transport_error'
  | 'response_too_large'
  | 'http_status'
  | 'content_type'
  | 'malformed_response'
  | 'response_status'
  | 'unsupported_response_type'
  | 'certid_mismatch'
  | 'responder_not_authorized'
  | 'signature_invalid'
  | 'weak_signature_algorithm'
  | 'nonce_mismatch'
  | 'stale'
  | 'not_yet_valid'
  | 'responder_unknown'
  | 'internal_error';

export interface OcspResult {
  readonly status: RevocationStatus;
  /** Set when status is 'unknown'. */
  readonly reason?: OcspReason;
  /** Log-only detail (never shown to a caller). */
  readonly detail?: string;
  readonly url?: string;
  readonly thisUpdate?: Date;
  readonly nextUpdate?: Date;
  readonly revokedAt?: Date;
  /** CRLReason code when the responder gave one. */
  readonly revocationReason?: number;
  /** Until when this answer may be reused (good/revoked only). */
  readonly expiresAt?: Date;
  /** 'delegated' or 'ca' when the response verified. */
  readonly responder?: 'ca' | 'delegated';
  readonly cached?: boolean;
}

export interface OcspVerifyContext {
  readonly leaf: ParsedClientCertificate;
  readonly issuer: ParsedClientCertificate;
  /** extnValue of the nonce sent, if any. */
  readonly nonceExtnValue?: Buffer;
  readonly now: Date;
  readonly clockSkewSec: number;
  readonly maxAgeWithoutNextUpdateSec: number;
}

const RESPONSE_STATUS_NAMES: Readonly<Record<number, string>> = {
  1: 'malformedRequest',
  2: 'internalError',
  3: 'tryLater',
  5: 'sigRequired',
  6: 'unauthorized',
};

class VerifyFailure extends Error {
  constructor(
    readonly reason: OcspReason,
    detail: string,
  ) {
    super(detail);
  }
}

function reject(reason: OcspReason, detail: string): never {
  throw new VerifyFailure(reason, detail);
}

function strictDer(bytes: Uint8Array, what: string): asn1js.AsnType {
  const r = asn1js.fromBER(bytes);
  if (r.offset === -1 || r.result.error) reject('malformed_response', `${what}: not valid ASN.1`);
  if (r.offset !== bytes.byteLength) reject('malformed_response', `${what}: trailing data`);
  return r.result;
}

function certIdMatches(id: pkijs.CertID, leaf: ParsedClientCertificate, issuer: ParsedClientCertificate): boolean {
  const alg = NODE_HASH_BY_OID[id.hashAlgorithm.algorithmId];
  if (!alg) return false;
  const serial = new Uint8Array(id.serialNumber.valueBlock.valueHexView);
  if (serial.length === 0 || (serial[0] & 0x80) !== 0) return false;
  return (
    normalizeSerial(serial) === leaf.serialKey &&
    Buffer.from(id.issuerNameHash.valueBlock.valueHexView).equals(digest(alg, issuer.subjectDer)) &&
    Buffer.from(id.issuerKeyHash.valueBlock.valueHexView).equals(digest(alg, issuer.publicKeyBits))
  );
}

type Signer = {cert: ParsedClientCertificate; kind: 'ca' | 'delegated'};

function responderIdDesignates(responderID: unknown, cert: ParsedClientCertificate): boolean {
  if (responderID instanceof pkijs.RelativeDistinguishedNames) {
    return Buffer.from(responderID.valueBeforeDecode).equals(cert.subjectDer);
  }
  if (responderID instanceof asn1js.OctetString) {
    return Buffer.from(responderID.valueBlock.valueHexView).equals(digest('sha1', cert.publicKeyBits));
  }
  return false;
}

/** The issuing CA itself, or a delegated responder certificate the CA issued for OCSP signing. */
function authorisedSigners(basic: pkijs.BasicOCSPResponse, ctx: OcspVerifyContext): Signer[] {
  const signers: Signer[] = [];
  const responderID = basic.tbsResponseData.responderID;
  if (responderIdDesignates(responderID, ctx.issuer)) signers.push({cert: ctx.issuer, kind: 'ca'});
  for (const embedded of basic.certs ?? []) {
    let c: ParsedClientCertificate;
    try {
      c = parseCertificate(new Uint8Array(embedded.toSchema().toBER(false)));
    } catch {
      continue;
    }
    if (c.fingerprint256 === ctx.issuer.fingerprint256) continue; // the CA itself, handled above
    if (!responderIdDesignates(responderID, c)) continue;
    if (!c.issuerDer.equals(ctx.issuer.subjectDer)) continue;
    if (c.extendedKeyUsage === null || !c.extendedKeyUsage.includes(OID.kpOcspSigning)) continue;
    if (c.keyUsage !== null && !c.keyUsage.includes('digitalSignature') && !c.keyUsage.includes('nonRepudiation')) continue;
    if (!checkValidity(c, ctx.now, ctx.clockSkewSec).ok) continue;
    try {
      const sig = new Uint8Array(c.pkijs.signatureValue.valueBlock.valueHexView);
      if (!verifySignature(new Uint8Array(c.pkijs.tbsView), sig, ctx.issuer.spkiDer, c.pkijs.signatureAlgorithm)) continue;
    } catch {
      continue;
    }
    signers.push({cert: c, kind: 'delegated'});
  }
  return signers;
}

function certStatusOf(single: pkijs.SingleResponse): {status: RevocationStatus; revokedAt?: Date; revocationReason?: number} {
  const s = single.certStatus as asn1js.AsnType;
  if (!s || s.idBlock.tagClass !== 3) reject('malformed_response', 'bad certStatus');
  switch (s.idBlock.tagNumber) {
    case 0:
      return {status: 'good'};
    case 1: {
      if (!s.idBlock.isConstructed) reject('malformed_response', 'bad revokedInfo');
      const parts = (s as asn1js.Constructed).valueBlock.value as asn1js.AsnType[];
      const time = parts[0];
      if (!(time instanceof asn1js.GeneralizedTime)) reject('malformed_response', 'bad revocationTime');
      let revocationReason: number | undefined;
      const r = parts[1] as asn1js.Constructed | undefined;
      if (r && r.idBlock.tagClass === 3 && r.idBlock.tagNumber === 0) {
        const e = r.valueBlock.value[0];
        if (e instanceof asn1js.Enumerated) revocationReason = e.valueBlock.valueDec;
      }
      return revocationReason === undefined
        ? {status: 'revoked', revokedAt: time.toDate()}
        : {status: 'revoked', revokedAt: time.toDate(), revocationReason};
    }
    case 2:
      return {status: 'unknown'};
    default:
      return reject('malformed_response', 'bad certStatus tag');
  }
}

/**
 * Verify a DER OCSPResponse for `ctx.leaf`. Resolves with good/revoked, or 'unknown' with a
 * reason. Never throws.
 */
export function verifyOcspResponse(body: Uint8Array, ctx: OcspVerifyContext): OcspResult {
  try {
    return verifyOrThrow(body, ctx);
  } catch (e) {
    if (e instanceof VerifyFailure) return {status: 'unknown', reason: e.reason, detail: e.message};
    return {status: 'unknown', reason: 'malformed_response', detail: (e as Error)?.message ?? 'unparseable'};
  }
}

function verifyOrThrow(body: Uint8Array, ctx: OcspVerifyContext): OcspResult {
  const resp = new pkijs.OCSPResponse({schema: strictDer(body, 'OCSPResponse')});
  const status = resp.responseStatus.valueBlock.valueDec;
  if (status !== 0) reject('response_status', RESPONSE_STATUS_NAMES[status] ?? `status ${status}`);
  if (!resp.responseBytes) reject('malformed_response', 'no responseBytes');
  if (resp.responseBytes.responseType !== ID_PKIX_OCSP_BASIC) reject('unsupported_response_type', resp.responseBytes.responseType);
  const basic = new pkijs.BasicOCSPResponse({
    schema: strictDer(new Uint8Array(resp.responseBytes.response.valueBlock.valueHexView), 'BasicOCSPResponse'),
  });
  const data = basic.tbsResponseData;
  if (data.version !== undefined && data.version !== 0) reject('malformed_response', `ResponseData version ${data.version}`);

  // 1. The answer must be about this certificate.
  const matching = data.responses.filter(r => certIdMatches(r.certID, ctx.leaf, ctx.issuer));
  if (matching.length === 0) reject('certid_mismatch', 'no SingleResponse for this certificate');
  const statuses = matching.map(certStatusOf);
  if (new Set(statuses.map(s => s.status)).size !== 1) reject('malformed_response', 'conflicting SingleResponses');
  const single = matching[0];
  const cs = statuses[0];

  // 2. Signed by an authorised responder with an accepted algorithm.
  const signers = authorisedSigners(basic, ctx);
  if (signers.length === 0) reject('responder_not_authorized', 'signer is neither the issuing CA nor a delegated OCSP responder of it');
  let signer: Signer | undefined;
  const sig = new Uint8Array(basic.signature.valueBlock.valueHexView);
  for (const s of signers) {
    try {
      if (verifySignature(new Uint8Array(data.tbsView), sig, s.cert.spkiDer, basic.signatureAlgorithm)) {
        signer = s;
        break;
      }
    } catch (e) {
      if (e instanceof WeakSignatureAlgorithmError) reject('weak_signature_algorithm', e.message);
    }
  }
  if (!signer) reject('signature_invalid', 'response signature does not verify');

  // 3. Nonce echo (RFC 6960 §4.4.1: optional for the responder; checked when present).
  const nonces = (data.responseExtensions ?? []).filter(x => x.extnID === OCSP_NONCE_OID);
  if (nonces.length > 1) reject('malformed_response', 'duplicate nonce extension');
  if (nonces.length === 1) {
    const got = Buffer.from(nonces[0].extnValue.valueBlock.valueHexView);
    if (!ctx.nonceExtnValue || !got.equals(ctx.nonceExtnValue)) reject('nonce_mismatch', 'nonce not echoed');
  }

  // 4. Freshness.
  const now = ctx.now.getTime();
  const skew = ctx.clockSkewSec * 1000;
  const thisUpdate = single.thisUpdate;
  const nextUpdate = single.nextUpdate;
  if (!(thisUpdate instanceof Date) || Number.isNaN(thisUpdate.getTime())) reject('malformed_response', 'bad thisUpdate');
  if (thisUpdate.getTime() > now + skew) reject('not_yet_valid', 'thisUpdate in the future');
  if (data.producedAt instanceof Date && data.producedAt.getTime() > now + skew) reject('not_yet_valid', 'producedAt in the future');
  let expiresAt: Date;
  if (nextUpdate !== undefined) {
    if (!(nextUpdate instanceof Date) || Number.isNaN(nextUpdate.getTime()) || nextUpdate.getTime() < thisUpdate.getTime()) {
      reject('malformed_response', 'bad nextUpdate');
    }
    if (nextUpdate.getTime() < now - skew) reject('stale', 'past nextUpdate');
    expiresAt = nextUpdate;
  } else {
    const until = thisUpdate.getTime() + ctx.maxAgeWithoutNextUpdateSec * 1000;
    if (until < now - skew) reject('stale', 'no nextUpdate and older than the configured maximum age');
    expiresAt = new Date(until);
  }

  const base = {thisUpdate, ...(nextUpdate ? {nextUpdate} : {}), responder: signer.kind};
  if (cs.status === 'unknown') return {status: 'unknown', reason: 'responder_unknown', detail: 'responder does not know the certificate', ...base};
  if (cs.status === 'revoked') {
    return {
      status: 'revoked',
      ...base,
      ...(cs.revokedAt ? {revokedAt: cs.revokedAt} : {}),
      ...(cs.revocationReason !== undefined ? {revocationReason: cs.revocationReason} : {}),
      expiresAt,
    };
  }
  return {status: 'good', ...base, expiresAt};
}

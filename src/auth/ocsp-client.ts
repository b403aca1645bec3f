/**
 * OCSP client (RFC 6960) for the client-certificate authenticator.
 *
 * One lookup = POST application/ocsp-request with a fresh 32-byte nonce, then verification that
 * does not trust pkijs' BasicOCSPResponse.verify() (which ignores thisUpdate/nextUpdate and the
 * nonce) and never signs anything (pkijs sign() defaults to SHA-1):
 *   HTTP 200 + application/ocsp-response, size bound, DER without trailing bytes,
 *   responseStatus successful, id-pkix-ocsp-basic,
 *   a SingleResponse whose CertID matches (hash algorithm, issuer name hash, issuer key hash, serial),
 *   responder = the issuing CA, or a delegated responder certificate issued (and signed) by that CA
 *     carrying id-kp-OCSPSigning, valid now; responderID must designate the signer,
 *   signature with an accepted algorithm (pki-crypto.ts),
 *   nonce echoed byte-for-byte when the responder returns one,
 *   thisUpdate <= now + skew; nextUpdate >= now - skew; without nextUpdate the answer is fresh only
 *     for maxAgeWithoutNextUpdateSec after thisUpdate.
 *
 * Every error path yields status 'unknown' with a reason; nothing throws out of check() and no
 * error is ever 'good'. good/revoked answers are cached (bounded LRU) until nextUpdate (at most
 * cacheMaxTtlSec); concurrent
 * lookups for one certificate share one request.
 *
 * No LoopBack imports. The network is reached only through the injected OcspTransport.
 */
import crypto from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type {Agent} from 'undici';
import {OID, ParsedClientCertificate, parseCertificate} from '../x509/certificate';
import type {RevocationStatus} from '../x509/revocation-status';
import {normalizeSerial} from '../x509/serial';
import {checkValidity} from './certificate-policy';
import {LruCache} from './lru';
import {WeakSignatureAlgorithmError, verifySignature} from '../x509/pki-crypto';

export const OCSP_NONCE_OID = '1.3.6.1.5.5.7.48.1.2';
export const ID_PKIX_OCSP_BASIC = '1.3.6.1.5.5.7.48.1.1';
export const OCSP_REQUEST_MEDIA_TYPE = 'application/ocsp-request';
export const OCSP_RESPONSE_MEDIA_TYPE = 'application/ocsp-response';


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

// --- transport -----------------------------------------------------------------------------

export interface OcspTransportResponse {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

export interface OcspTransportOptions {
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

/** POST `body` to `url`; resolve with the response or reject (OcspTransportError when the cause is known). */
export type OcspTransport = (url: string, body: Buffer, opts: OcspTransportOptions) => Promise<OcspTransportResponse>;

export class OcspTransportError extends Error {
  constructor(readonly reason: 'timeout' | 'response_too_large' | 'transport_error' | 'url_not_allowed', message: string, options?: {cause?: unknown}) {
    super(message, options);
    this.name = 'OcspTransportError';
  }
}

let defaultAgent: Agent | undefined;

/**
 * undici `request` on a dedicated Agent: no redirects, AbortSignal.timeout over the whole
 * exchange (headers and body), body read with a hard byte bound (Content-Length checked first).
 */
export const defaultOcspTransport: OcspTransport = async (url, body, {timeoutMs, maxBytes}) => {
  let u: URL;
  try {
    u = new URL(url);
  } catch (e) {
    throw new OcspTransportError('url_not_allowed', 'responder URL does not parse', {cause: e});
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password) {
    throw new OcspTransportError('url_not_allowed', 'responder URL must be http(s) without userinfo');
  }
  // Loaded on first use: processes that inject a transport (or never query OCSP) do not pay for undici.
  const {Agent: UndiciAgent, request} = await import('undici');
  defaultAgent ??= new UndiciAgent({keepAliveTimeout: 1000, connections: 16, maxResponseSize: -1});
  const signal = AbortSignal.timeout(timeoutMs);
  const fail = (e: unknown): never => {
    if (e instanceof OcspTransportError) throw e;
    if (signal.aborted) throw new OcspTransportError('timeout', `no answer within ${timeoutMs} ms`, {cause: e});
    throw new OcspTransportError('transport_error', (e as Error)?.message ?? 'request failed', {cause: e});
  };
  let res: Awaited<ReturnType<typeof request>>;
  try {
    res = await request(u, {
      method: 'POST',
      body,
      headers: {'content-type': OCSP_REQUEST_MEDIA_TYPE, accept: OCSP_RESPONSE_MEDIA_TYPE},
      signal,
      dispatcher: defaultAgent,
    });
  } catch (e) {
    return fail(e);
  }
  const header = (name: string): string | undefined => {
    const v = res.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const declared = header('content-length');
  if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > maxBytes) {
    res.body.destroy();
    throw new OcspTransportError('response_too_large', `declared ${declared} bytes`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body) {
      const b = chunk as Buffer;
      total += b.length;
      if (total > maxBytes) {
        res.body.destroy();
        throw new OcspTransportError('response_too_large', `more than ${maxBytes} bytes`);
      }
      chunks.push(b);
    }
  } catch (e) {
    return fail(e);
  }
  return {status: res.statusCode, contentType: header('content-type'), body: Buffer.concat(chunks)};
};

// --- request -------------------------------------------------------------------------------

export type CertIdHash = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';

const HASH_OIDS: Readonly<Record<CertIdHash, string>> = {
  'SHA-1': '1.3.14.3.2.26',
  'SHA-256': '2.16.840.1.101.3.4.2.1',
  'SHA-384': '2.16.840.1.101.3.4.2.2',
  'SHA-512': '2.16.840.1.101.3.4.2.3',
};
const NODE_HASH_BY_OID: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

function digest(alg: string, data: Uint8Array): Buffer {
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
    req.tbsRequest.requestExtensions = [new pkijs.Extension({extnID: OCSP_NONCE_OID, critical: false, extnValue: new Uint8Array(nonceExtnValue).buffer})];
  }
  return {der: Buffer.from(req.toSchema(true).toBER(false)), nonceExtnValue};
}

// --- response verification -----------------------------------------------------------------

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
  1: 'malformedRequest', 2: 'internalError', 3: 'tryLater', 5: 'sigRequired', 6: 'unauthorized',
};

class VerifyFailure extends Error {
  constructor(readonly reason: OcspReason, detail: string) {
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
      return revocationReason === undefined ? {status: 'revoked', revokedAt: time.toDate()} : {status: 'revoked', revokedAt: time.toDate(), revocationReason};
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

// --- client --------------------------------------------------------------------------------

export interface OcspClientOptions {
  /** MTLS_OCSP_TIMEOUT_MS (default 2000). */
  readonly timeoutMs?: number;
  /** MTLS_OCSP_CACHE_SIZE (default 10000). */
  readonly cacheSize?: number;
  /** Responses larger than this are refused (default 64 KiB). */
  readonly maxResponseBytes?: number;
  /** MTLS_CLOCK_SKEW_SEC (default 0). */
  readonly clockSkewSec?: number;
  /** A response without nextUpdate is fresh for this long after thisUpdate (default 300 s). */
  readonly maxAgeWithoutNextUpdateSec?: number;
  /** A good/revoked answer is reused until nextUpdate but at most this long after it was fetched (default 3600 s). */
  readonly cacheMaxTtlSec?: number;
  /** CertID hash (default SHA-256; RFC 5019-only responders need SHA-1). */
  readonly certIdHash?: CertIdHash;
  /** MTLS_OCSP_URL: used instead of the certificate's AIA. */
  readonly url?: string;
  /** Send a nonce (default true). */
  readonly nonce?: boolean;
  readonly transport?: OcspTransport;
  readonly clock?: () => Date;
}

export interface OcspStats {
  /** Transport calls made. */
  requests: number;
  cacheHits: number;
  /** Lookups that joined an in-flight request. */
  coalesced: number;
}

interface CacheEntry {
  result: OcspResult;
  expiresAtMs: number;
}

export class OcspClient {
  readonly stats: OcspStats = {requests: 0, cacheHits: 0, coalesced: 0};
  private readonly cache: LruCache<string, CacheEntry>;
  private readonly inflight = new Map<string, Promise<OcspResult>>();
  private readonly transport: OcspTransport;
  private readonly clock: () => Date;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly skewSec: number;
  private readonly maxAgeSec: number;
  private readonly cacheMaxTtlMs: number;
  private readonly hash: CertIdHash;
  private epochValue = 0;

  constructor(private readonly opts: OcspClientOptions = {}) {
    this.cache = new LruCache(opts.cacheSize ?? 10_000);
    this.transport = opts.transport ?? defaultOcspTransport;
    this.clock = opts.clock ?? (() => new Date());
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.maxBytes = opts.maxResponseBytes ?? 64 * 1024;
    this.skewSec = opts.clockSkewSec ?? 0;
    this.maxAgeSec = opts.maxAgeWithoutNextUpdateSec ?? 300;
    this.cacheMaxTtlMs = (opts.cacheMaxTtlSec ?? 3600) * 1000;
    this.hash = opts.certIdHash ?? 'SHA-256';
  }

  /** Bumped whenever a fresh answer differs from the cached one for a certificate, and by clearCache(). */
  get epoch(): number {
    return this.epochValue;
  }

  clearCache(): void {
    this.cache.clear();
    this.epochValue++;
  }

  /** The responder URL for `leaf`: the configured override, else the first http(s) AIA OCSP URL. */
  responderUrl(leaf: ParsedClientCertificate): string | undefined {
    if (this.opts.url) return this.opts.url;
    return leaf.ocspUrls.find(u => /^https?:\/\//i.test(u));
  }

  /** Status of `leaf` (issued by `issuer`). Never throws; never 'good' on error. */
  async check(leaf: ParsedClientCertificate, issuer: ParsedClientCertificate): Promise<OcspResult> {
    const key = `${issuer.fingerprint256}|${leaf.serialKey}`;
    const now = this.clock().getTime();
    const hit = this.cache.get(key);
    // An expired entry stays until replaced: the next answer is compared with it (epoch bump on change).
    if (hit && hit.expiresAtMs >= now - this.skewSec * 1000) {
      this.stats.cacheHits++;
      return {...hit.result, cached: true};
    }
    const pending = this.inflight.get(key);
    if (pending) {
      this.stats.coalesced++;
      return pending;
    }
    const p = this.lookup(leaf, issuer, key).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async lookup(leaf: ParsedClientCertificate, issuer: ParsedClientCertificate, key: string): Promise<OcspResult> {
    const url = this.responderUrl(leaf);
    if (!url) return {status: 'unknown', reason: 'no_responder_url'};
    let result: OcspResult;
    try {
      result = {...(await this.query(url, leaf, issuer)), url};
    } catch (e) {
      result = {status: 'unknown', reason: 'internal_error', detail: (e as Error)?.message ?? 'error', url};
    }
    if ((result.status === 'good' || result.status === 'revoked') && result.expiresAt) {
      const previous = this.cache.peek(key);
      if (previous && previous.result.status !== result.status) this.epochValue++;
      const expiresAtMs = Math.min(result.expiresAt.getTime(), this.clock().getTime() + this.cacheMaxTtlMs);
      result = {...result, expiresAt: new Date(expiresAtMs)};
      this.cache.set(key, {result, expiresAtMs});
    }
    return result;
  }

  private async query(url: string, leaf: ParsedClientCertificate, issuer: ParsedClientCertificate): Promise<OcspResult> {
    const req = buildOcspRequest(leaf, issuer, {hash: this.hash, nonce: this.opts.nonce !== false});
    this.stats.requests++;
    let response: OcspTransportResponse;
    let timer: NodeJS.Timeout | undefined;
    try {
      // The transport gets the bound too; this race is the backstop for a transport that ignores it.
      const deadline = new Promise<never>((_, rejectDeadline) => {
        timer = setTimeout(() => rejectDeadline(new OcspTransportError('timeout', `no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      });
      response = await Promise.race([this.transport(url, req.der, {timeoutMs: this.timeoutMs, maxBytes: this.maxBytes}), deadline]);
    } catch (e) {
      if (e instanceof OcspTransportError) return {status: 'unknown', reason: e.reason, detail: e.message};
      return {status: 'unknown', reason: 'transport_error', detail: (e as Error)?.message ?? 'request failed'};
    } finally {
      if (timer) clearTimeout(timer);
    }
    if (response.status !== 200) return {status: 'unknown', reason: 'http_status', detail: `HTTP ${response.status}`};
    const mediaType = (response.contentType ?? '').split(';')[0].trim().toLowerCase();
    if (mediaType !== OCSP_RESPONSE_MEDIA_TYPE) return {status: 'unknown', reason: 'content_type', detail: mediaType || 'none'};
    if (response.body.length > this.maxBytes) return {status: 'unknown', reason: 'response_too_large', detail: `${response.body.length} bytes`};
    return verifyOcspResponse(response.body, {
      leaf,
      issuer,
      ...(req.nonceExtnValue ? {nonceExtnValue: req.nonceExtnValue} : {}),
      now: this.clock(),
      clockSkewSec: this.skewSec,
      maxAgeWithoutNextUpdateSec: this.maxAgeSec,
    });
  }
}

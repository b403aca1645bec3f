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
 * No LoopBack imports. The network is reached only through the injected OcspTransport
 * (ocsp-transport.ts); requests are built by ocsp-request.ts, answers verified by ocsp-verify.ts.
 */
import type {ParsedClientCertificate} from '../x509/certificate';
import {LruCache} from './lru';
import {buildOcspRequest, CertIdHash} from './ocsp-request';
import {defaultOcspTransport, OCSP_RESPONSE_MEDIA_TYPE, OcspTransport, OcspTransportError, OcspTransportResponse} from './ocsp-transport';
import {OcspResult, verifyOcspResponse} from './ocsp-verify';

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

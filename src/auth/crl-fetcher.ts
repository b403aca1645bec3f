/**
 * CrlFetcher: MTLS_CRL_FETCH=true. When the CRL source is on and a leaf's issuer has no current
 * CRL (the index answers 'unknown': none installed, or the installed one is past nextUpdate), fetch
 * the CRL from the leaf's CRL distribution point, verify it and install it in the RevocationStore,
 * so the caller can re-evaluate.
 *
 *   which URLs   the leaf's cRLDistributionPoints, http:// only, the first MAX_DISTRIBUTION_POINTS,
 *                tried in order until one installs; only for a leaf issued by a configured CA (the
 *                only CAs a CRL can be verified against); never before the chain verified (the
 *                authenticator calls this in step 6), so the URL comes from a CA-signed certificate
 *   how          through the revocation transport (revocation-transport.ts: SSRF-safe client, size
 *                bound CRL_FETCH_MAX_BYTES, time bound MTLS_OCSP_TIMEOUT_MS, no redirects)
 *   checks       strict DER/PEM parse (parseCrl), then RevocationStore.addFetched(): signature
 *                against the leaf's issuing CA, that CA's cRLSign, no unsupported critical
 *                extension, thisUpdate <= now <= nextUpdate; installed only when newer than the
 *                CRL in force (epoch bump => every cached verdict is re-checked, the connection
 *                gate sees the new serials at once)
 *   coalescing   concurrent requests for one (issuer, URL) share one download
 *   negative     a failed (issuer, URL) is not retried for NEGATIVE_TTL_MS (30 s) so a dead or
 *   cache        misbehaving distribution point is not hammered; the failure reason is replayed
 *   refresh      on demand: a fetched CRL past nextUpdate makes the status unknown again, which
 *                triggers the next fetch. RevocationStore.reload() (file change, SIGHUP) rebuilds
 *                the index from TLS_CRL_FILES and drops fetched CRLs; they are fetched again on demand.
 *
 * Every failure leaves the status unknown (=> AUTH_REVOCATION_UNKNOWN fail-closed, or
 * AUTH_REVOCATION_SOFT_FAIL when MTLS_REVOCATION_FAIL=open) and returns the reason for the
 * authenticator's audit line; each download also writes one `crl.fetch` audit line.
 * ensureCurrent() never throws.
 *
 * No LoopBack imports.
 */
import type * as crypto from 'node:crypto';
import {isAppError} from '../errors';
import {audit, Logger} from '../logging/logger';
import {parseCrl, ParsedCrl} from '../tls/revocation/crl-parser';
import type {RevocationStatus} from '../x509/revocation-status';
import {LruCache} from './lru';
import {CRL_FETCH_MAX_BYTES} from './revocation-transport';

/** How long a failed distribution point is left alone. */
export const CRL_FETCH_NEGATIVE_TTL_MS = 30_000;
/** Distribution points tried per certificate. */
export const MAX_DISTRIBUTION_POINTS = 3;
/** (issuer, URL) pairs remembered as failed. */
const NEGATIVE_CACHE_SIZE = 1024;

/** What the fetcher needs from the RevocationStore. */
export interface CrlFetchStore {
  readonly index: {
    readonly trustedCas: readonly crypto.X509Certificate[];
    statusOfCertificate(leaf: crypto.X509Certificate, now?: Date): {readonly status: RevocationStatus; readonly issuerFingerprint256?: string};
  };
  readonly epoch: number;
  addFetched(crl: ParsedCrl, issuer: crypto.X509Certificate, source?: string, now?: Date): Promise<boolean>;
}

export interface CrlFetcherOptions {
  /** GET the CRL bytes (RevocationTransport.fetchCrl); rejects on any failure. */
  readonly fetchCrl: (url: string) => Promise<Buffer>;
  readonly store: CrlFetchStore;
  readonly logger: Logger;
  readonly clock?: () => Date;
  /** Default CRL_FETCH_NEGATIVE_TTL_MS. */
  readonly negativeTtlMs?: number;
  /** Parse bound (default CRL_FETCH_MAX_BYTES; the transport enforces it on the wire). */
  readonly maxBytes?: number;
}

export interface CrlFetchOutcome {
  /** true when the issuer now has a current CRL (fetched now, or installed meanwhile). */
  readonly ok: boolean;
  /** Log-only: why not (or what happened). */
  readonly reason: string;
  /** The distribution point whose CRL was installed. */
  readonly url?: string;
}

export interface CrlFetcherStats {
  /** Downloads started. */
  fetches: number;
  /** Callers that joined a download in flight. */
  coalesced: number;
  /** Callers answered from the negative cache. */
  negativeHits: number;
  /** CRLs installed. */
  installed: number;
  failures: number;
}

interface Attempt {
  readonly ok: boolean;
  readonly reason: string;
}

function describe(e: unknown): string {
  if (isAppError(e)) {
    const r = e.details.reason;
    return `${e.code} ${typeof r === 'string' && r !== '' ? r : e.message}`;
  }
  return `error ${(e as Error)?.name ?? 'unknown'}`;
}

export class CrlFetcher {
  readonly stats: CrlFetcherStats = {fetches: 0, coalesced: 0, negativeHits: 0, installed: 0, failures: 0};
  private readonly inflight = new Map<string, Promise<Attempt>>();
  private readonly negative = new LruCache<string, {untilMs: number; reason: string}>(NEGATIVE_CACHE_SIZE);
  private readonly clock: () => Date;
  private readonly negativeTtlMs: number;
  private readonly maxBytes: number;

  constructor(private readonly opts: CrlFetcherOptions) {
    this.clock = opts.clock ?? (() => new Date());
    this.negativeTtlMs = opts.negativeTtlMs ?? CRL_FETCH_NEGATIVE_TTL_MS;
    this.maxBytes = opts.maxBytes ?? CRL_FETCH_MAX_BYTES;
  }

  /** Forget the failures (e.g. after the operator fixed the distribution point). */
  clearNegativeCache(): void {
    this.negative.clear();
  }

  /**
   * Make sure the issuer of `leaf` has a current CRL, fetching one from `distributionPoints` when
   * it has none. Never throws.
   */
  async ensureCurrent(leaf: crypto.X509Certificate, distributionPoints: readonly string[], now: Date = this.clock()): Promise<CrlFetchOutcome> {
    try {
      return await this.ensure(leaf, distributionPoints, now);
    } catch (e) {
      return {ok: false, reason: `internal ${describe(e)}`};
    }
  }

  private async ensure(leaf: crypto.X509Certificate, distributionPoints: readonly string[], now: Date): Promise<CrlFetchOutcome> {
    const store = this.opts.store;
    const current = store.index.statusOfCertificate(leaf, now);
    if (current.status !== 'unknown') return {ok: true, reason: 'current CRL installed'};
    const fp = current.issuerFingerprint256;
    const ca = fp === undefined ? undefined : store.index.trustedCas.find(c => c.fingerprint256 === fp);
    if (!ca) return {ok: false, reason: 'no configured CA issued the certificate; a fetched CRL could not be verified'};
    const urls = distributionPoints.filter(u => /^http:\/\//i.test(u)).slice(0, MAX_DISTRIBUTION_POINTS);
    if (urls.length === 0) return {ok: false, reason: 'no http CRL distribution point'};

    const reasons: string[] = [];
    for (const url of urls) {
      const key = `${ca.fingerprint256}|${url}`;
      const nowMs = this.clock().getTime();
      const failed = this.negative.get(key);
      if (failed && failed.untilMs > nowMs) {
        this.stats.negativeHits++;
        reasons.push(`${url}: ${failed.reason} (cached failure)`);
        continue;
      }
      let pending = this.inflight.get(key);
      if (pending) {
        this.stats.coalesced++;
      } else {
        pending = this.download(key, url, ca, leaf).finally(() => this.inflight.delete(key));
        this.inflight.set(key, pending);
      }
      const attempt = await pending;
      if (attempt.ok) return {ok: true, reason: attempt.reason, url};
      reasons.push(`${url}: ${attempt.reason}`);
    }
    return {ok: false, reason: reasons.join('; ')};
  }

  /** One download + install for (issuer, URL). Never rejects. */
  private async download(key: string, url: string, ca: crypto.X509Certificate, leaf: crypto.X509Certificate): Promise<Attempt> {
    const store = this.opts.store;
    this.stats.fetches++;
    let attempt: Attempt;
    let code: string | undefined;
    let entries: number | undefined;
    try {
      const bytes = await this.opts.fetchCrl(url);
      const crl = await parseCrl(bytes, {maxBytes: this.maxBytes});
      entries = crl.entryCount;
      const installed = await store.addFetched(crl, ca, `fetched:${url}`, this.clock());
      if (installed) {
        attempt = {ok: true, reason: 'fetched CRL installed'};
      } else if (store.index.statusOfCertificate(leaf, this.clock()).status !== 'unknown') {
        attempt = {ok: true, reason: 'a current CRL was installed meanwhile'};
      } else {
        code = 'CRL_EXPIRED';
        attempt = {ok: false, reason: 'CRL_EXPIRED the fetched CRL is not newer than the one in force'};
      }
    } catch (e) {
      code = isAppError(e) ? e.code : 'CRL_INVALID';
      attempt = {ok: false, reason: describe(e)};
    }
    if (attempt.ok) {
      this.stats.installed++;
      this.negative.delete(key);
      audit(this.opts.logger, {event: 'crl.fetch', decision: 'allow', url, issuer: ca.fingerprint256, entries, epoch: store.epoch});
    } else {
      this.stats.failures++;
      this.negative.set(key, {untilMs: this.clock().getTime() + this.negativeTtlMs, reason: attempt.reason});
      audit(this.opts.logger, {event: 'crl.fetch', decision: 'deny', code, url, issuer: ca.fingerprint256, reason: attempt.reason});
    }
    return attempt;
  }
}

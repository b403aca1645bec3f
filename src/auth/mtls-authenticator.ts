/**
 * MtlsAuthenticator: the application-layer decision on a client certificate (issue 9).
 *
 * Order (each with its own code):
 *   1. TLS: a peer certificate and tlsAuthorized === true  (AUTH_NO_CLIENT_CERT / AUTH_CERT_UNTRUSTED)
 *      parse the DER once                                  (AUTH_CERT_MALFORMED)
 *   2. chain re-verified with pkijs to a trust anchor      (AUTH_CHAIN_INVALID / AUTH_CHAIN_TOO_DEEP)
 *   3-5. validity, EKU, CA flag, keyUsage, key strength, identity (certificate-policy.ts)
 *   6. revocation by the configured sources (CRL index, OCSP) (AUTH_CERT_REVOKED / AUTH_REVOCATION_UNKNOWN;
 *      MTLS_REVOCATION_FAIL=open turns unknown into an accept audited as AUTH_REVOCATION_SOFT_FAIL)
 *   7. profile {subject, sans, serial, issuer, fingerprint256}
 *
 * Verdicts are cached per (leaf DER, presented chain) and keyed by the revocation epoch
 * (trust epoch + CRL store epoch + OCSP epoch), bounded in time by the certificates' notAfter and
 * the OCSP answer's nextUpdate. Every decision writes exactly one audit() line.
 * authenticate() never throws.
 *
 * No LoopBack imports: the `mtls` strategy wraps this class.
 */
import crypto from 'node:crypto';
import type {MtlsConfig, RevocationSource} from '../config/config';
import {ERROR_CODES, ErrorCode, isAppError} from '../errors';
import {audit, AuditDecision, Logger} from '../logging/logger';
import {ParsedClientCertificate, parseCertificate} from './certificate';
import {CheckOutcome, evaluateCertificate} from './certificate-policy';
import {buildTrustAnchors, ChainVerdict, ChainVerifier, TrustAnchors} from './chain';
import type {IdentityRule} from './identity-rules';
import {LruCache} from './lru';
import {OcspClient, OcspResult} from './ocsp-client';

export type RevocationStatus = 'good' | 'revoked' | 'unknown';

/**
 * What the CRL side provides (src/tls/revocation RevocationIndex / RevocationStore): a
 * synchronous per-issuer lookup, and an epoch bumped on every CRL state change.
 */
export interface RevocationLookup {
  statusOfCertificate(leaf: crypto.X509Certificate, now?: Date): RevocationStatus | {readonly status: RevocationStatus; readonly reason?: string};
  readonly epoch?: number;
}

/** Adapt a RevocationStore-shaped holder ({index, epoch}) to RevocationLookup, reading the current index per lookup. */
export function revocationLookupFromStore(store: {
  readonly index: {statusOfCertificate(leaf: crypto.X509Certificate, now?: Date): {readonly status: RevocationStatus}};
  readonly epoch: number;
}): RevocationLookup {
  return {
    statusOfCertificate: (leaf, now) => store.index.statusOfCertificate(leaf, now),
    get epoch() {
      return store.epoch;
    },
  };
}

export interface MtlsAuthenticatorOptions {
  /** DER certificates of TLS_CA_FILE (self-signed ones become anchors), or prepared anchors. */
  readonly trustAnchors: readonly Uint8Array[] | TrustAnchors;
  /** null = no allow-list (development): any identity from a trusted CA. */
  readonly allowedSubjects: readonly IdentityRule[] | null;
  /** Revocation sources in the order consulted; [] = none. */
  readonly revocation: readonly RevocationSource[];
  readonly revocationFail: 'closed' | 'open';
  /** Intermediates allowed (default 2). */
  readonly maxChainDepth?: number;
  readonly clockSkewSec?: number;
  /** Used when no OcspClient is injected. */
  readonly ocspUrl?: string;
  readonly ocspTimeoutMs?: number;
  readonly ocspCacheSize?: number;
  /** Verdict cache size (default 10000) and lifetime bound (default 300 s). */
  readonly verdictCacheSize?: number;
  readonly verdictTtlSec?: number;
}

export interface MtlsAuthenticatorDeps {
  readonly revocation?: RevocationLookup;
  readonly ocsp?: OcspClient;
  readonly logger: Logger;
  readonly clock?: () => Date;
}

/** Map MtlsConfig (src/config/config.ts) to authenticator options. */
export function mtlsAuthenticatorOptions(config: MtlsConfig, trustAnchors: readonly Uint8Array[] | TrustAnchors): MtlsAuthenticatorOptions {
  return {
    trustAnchors,
    allowedSubjects: config.allowedSubjects,
    revocation: config.revocation,
    revocationFail: config.revocationFail,
    maxChainDepth: config.maxChainDepth,
    clockSkewSec: config.clockSkewSec,
    ...(config.ocspUrl !== undefined ? {ocspUrl: config.ocspUrl} : {}),
    ocspTimeoutMs: config.ocspTimeoutMs,
    ocspCacheSize: config.ocspCacheSize,
  };
}

export interface AuthInput {
  /** DER of the peer certificate (socket.getPeerX509Certificate()?.raw); absent = no client certificate. */
  readonly leafDer?: Uint8Array | null;
  /** DER of the rest of the presented chain (issuer first), if known. */
  readonly chainDer?: readonly Uint8Array[];
  /** socket.authorized */
  readonly tlsAuthorized: boolean;
  /** For the audit line only. */
  readonly remoteAddress?: string;
}

export interface AuthOptions {
  /** Run and report every check (verify-cert --explain); bypasses the verdict cache. */
  readonly explain?: boolean;
}

export interface MtlsProfile {
  readonly subject: string;
  readonly sans: {readonly dns: readonly string[]; readonly uris: readonly string[]; readonly emails: readonly string[]; readonly ips: readonly string[]};
  readonly serial: string;
  readonly issuer: string;
  readonly fingerprint256: string;
}

/** Sources whose definitive 'good' answer was used ('none' when no source is configured or on soft-fail). */
export type RevocationSourceUsed = 'none' | 'crl' | 'ocsp' | 'crl,ocsp';

export type AuthResult =
  | {
      readonly ok: true;
      readonly profile: MtlsProfile;
      readonly revocationSource: RevocationSourceUsed;
      /** True when revocation was unknown and MTLS_REVOCATION_FAIL=open accepted anyway. */
      readonly revocationSoftFail: boolean;
      readonly matchedRule?: string;
      readonly cached: boolean;
      readonly checks?: readonly CheckOutcome[];
    }
  | {
      readonly ok: false;
      readonly code: ErrorCode;
      readonly status: number;
      /** Log-only explanation; never sent to a caller. */
      readonly reason: string;
      readonly cached: boolean;
      readonly checks?: readonly CheckOutcome[];
    };

interface RevocationOutcome {
  status: RevocationStatus;
  source: RevocationSourceUsed;
  detail: string;
  /** Earliest reuse bound of the answers used (OCSP nextUpdate). */
  expiresAtMs?: number;
}

interface CachedVerdict {
  epoch: string;
  expiresAtMs: number;
  result: AuthResult;
  who: Who;
  check: string;
}

/** The certificate fields every audit line carries. */
interface Who {
  subject: string;
  serial: string;
  fingerprint: string;
  issuer: string;
}

function whoOf(c: ParsedClientCertificate): Who {
  return {subject: c.subject, serial: c.serialKey, fingerprint: c.fingerprint256, issuer: c.issuer};
}

interface Decision {
  result: AuthResult;
  who?: Who;
  check: string;
}

/** Codes whose verdict does not depend on time passing or a responder being reachable. */
const CACHEABLE_DENIALS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'AUTH_CERT_MALFORMED', 'AUTH_CHAIN_INVALID', 'AUTH_CHAIN_TOO_DEEP', 'AUTH_CERT_EXPIRED', 'AUTH_CERT_NOT_YET_VALID',
  'AUTH_EKU_NOT_CLIENT_AUTH', 'AUTH_CERT_IS_CA', 'AUTH_KEY_USAGE_INVALID', 'AUTH_KEY_WEAK', 'AUTH_IDENTITY_NOT_ALLOWED',
  'AUTH_CERT_REVOKED',
]);

function profileOf(c: ParsedClientCertificate): MtlsProfile {
  return {
    subject: c.subject,
    sans: {dns: [...c.sans.dns], uris: [...c.sans.uris], emails: [...c.sans.emails], ips: [...c.sans.ips]},
    serial: c.serialKey,
    issuer: c.issuer,
    fingerprint256: c.fingerprint256,
  };
}

export class MtlsAuthenticator {
  private readonly chain: ChainVerifier;
  private readonly ocsp: OcspClient | undefined;
  private readonly clock: () => Date;
  private readonly logger: Logger;
  private readonly verdicts: LruCache<string, CachedVerdict>;
  private readonly verdictTtlMs: number;
  private readonly skewSec: number;

  constructor(
    private readonly opts: MtlsAuthenticatorOptions,
    private readonly deps: MtlsAuthenticatorDeps,
  ) {
    this.clock = deps.clock ?? (() => new Date());
    this.logger = deps.logger;
    this.skewSec = opts.clockSkewSec ?? 0;
    const anchors = Array.isArray(opts.trustAnchors) ? buildTrustAnchors(opts.trustAnchors as readonly Uint8Array[]) : (opts.trustAnchors as TrustAnchors);
    this.chain = new ChainVerifier(anchors, {maxIntermediates: opts.maxChainDepth ?? 2, clockSkewSec: this.skewSec});
    this.ocsp =
      deps.ocsp ??
      (opts.revocation.includes('ocsp')
        ? new OcspClient({
            ...(opts.ocspUrl !== undefined ? {url: opts.ocspUrl} : {}),
            timeoutMs: opts.ocspTimeoutMs ?? 2000,
            cacheSize: opts.ocspCacheSize ?? 10_000,
            clockSkewSec: this.skewSec,
            clock: this.clock,
          })
        : undefined);
    this.verdicts = new LruCache(opts.verdictCacheSize ?? 10_000);
    this.verdictTtlMs = (opts.verdictTtlSec ?? 300) * 1000;
  }

  /**
   * Changes whenever a cached verdict may no longer hold: trust reload, CRL state change, OCSP
   * answer change. The strategy keys its per-socket cache with it.
   */
  get epoch(): string {
    return `${this.chain.trustEpoch}:${this.deps.revocation?.epoch ?? 0}:${this.ocsp?.epoch ?? 0}`;
  }

  /** Replace the trust anchors (hot reload); bumps the epoch and drops every cached verdict. */
  setTrustAnchors(trustAnchors: readonly Uint8Array[] | TrustAnchors): void {
    const anchors = Array.isArray(trustAnchors) ? buildTrustAnchors(trustAnchors as readonly Uint8Array[]) : (trustAnchors as TrustAnchors);
    this.chain.setTrust(anchors);
    this.verdicts.clear();
  }

  get ocspClient(): OcspClient | undefined {
    return this.ocsp;
  }

  async authenticate(input: AuthInput, options: AuthOptions = {}): Promise<AuthResult> {
    let result: AuthResult;
    let who: Who | undefined;
    let check = 'internal';
    try {
      const r = await this.decide(input, options);
      result = r.result;
      who = r.who;
      check = r.check;
    } catch (e) {
      // A bug must never turn into an accept or a stack trace for the caller.
      result = {ok: false, code: 'INTERNAL_ERROR', status: ERROR_CODES.INTERNAL_ERROR.status, reason: isAppError(e) ? e.code : 'unexpected error', cached: false};
      this.logger.error({err: e}, 'mtls authenticator failed');
    }
    this.auditDecision(result, who, check, input.remoteAddress);
    return result;
  }

  private auditDecision(result: AuthResult, who: Who | undefined, check: string, remoteAddress: string | undefined): void {
    let decision: AuditDecision;
    let code: string | undefined;
    if (result.ok) {
      decision = result.revocationSoftFail ? 'warn' : 'allow';
      code = result.revocationSoftFail ? 'AUTH_REVOCATION_SOFT_FAIL' : undefined;
    } else {
      decision = 'deny';
      code = result.code;
    }
    audit(this.logger, {
      event: 'auth.decision',
      decision,
      ...(code ? {code} : {}),
      check,
      subject: who?.subject,
      serial: who?.serial,
      fingerprint: who?.fingerprint,
      issuer: who?.issuer,
      source: result.ok ? result.revocationSource : undefined,
      remoteAddress,
      cached: result.cached,
      ...(result.ok ? {} : {reason: result.reason}),
    });
  }

  private deny(code: ErrorCode, reason: string, checks?: CheckOutcome[]): AuthResult {
    return {ok: false, code, status: ERROR_CODES[code].status, reason, cached: false, ...(checks ? {checks} : {})};
  }

  private async decide(input: AuthInput, options: AuthOptions): Promise<Decision> {
    const explain = options.explain === true;
    const checks: CheckOutcome[] | undefined = explain ? [] : undefined;
    const note = (o: CheckOutcome) => checks?.push(o);

    // 1. TLS layer.
    if (!input.leafDer || input.leafDer.byteLength === 0) {
      note({check: 'tls', ok: false, code: 'AUTH_NO_CLIENT_CERT'});
      return {result: this.deny('AUTH_NO_CLIENT_CERT', 'no client certificate', checks), check: 'tls'};
    }
    if (input.tlsAuthorized !== true) {
      note({check: 'tls', ok: false, code: 'AUTH_CERT_UNTRUSTED'});
      return {result: this.deny('AUTH_CERT_UNTRUSTED', 'TLS layer did not authorise the peer', checks), check: 'tls'};
    }
    note({check: 'tls', ok: true});

    const now = this.clock();
    const chainDer = input.chainDer ?? [];
    const h = crypto.createHash('sha256').update(input.leafDer);
    for (const d of chainDer) h.update(crypto.createHash('sha256').update(d).digest());
    const cacheKey = h.digest('hex');
    const epoch = this.epoch;
    if (!explain) {
      const hit = this.verdicts.get(cacheKey);
      if (hit && hit.epoch === epoch && hit.expiresAtMs > now.getTime()) {
        return {result: {...hit.result, cached: true}, who: hit.who, check: hit.check};
      }
    }

    // Parse once.
    let leaf: ParsedClientCertificate;
    let presented: ParsedClientCertificate[];
    try {
      leaf = parseCertificate(input.leafDer);
      presented = chainDer.map(d => parseCertificate(d));
    } catch (e) {
      const reason = isAppError(e) ? String(e.details.why ?? e.message) : 'unparseable';
      note({check: 'parse', ok: false, code: 'AUTH_CERT_MALFORMED', detail: reason});
      const result = this.deny('AUTH_CERT_MALFORMED', reason, checks);
      return {result, check: 'parse'};
    }
    note({check: 'parse', ok: true});

    let first: {code: ErrorCode; reason: string; check: string} | undefined;
    const failed = (code: ErrorCode, reason: string, check: string) => {
      if (!first) first = {code, reason, check};
    };

    // 2. Chain.
    const chainVerdict: ChainVerdict = await this.chain.verify(leaf, presented, now);
    if (chainVerdict.ok) {
      note({check: 'chain', ok: true, detail: `${chainVerdict.intermediates} intermediate(s), anchor ${chainVerdict.anchor.subject}`});
    } else {
      note({check: 'chain', ok: false, code: chainVerdict.code, detail: chainVerdict.detail});
      failed(chainVerdict.code, chainVerdict.detail, 'chain');
      if (!explain) return this.finish(cacheKey, epoch, now, leaf, undefined, first!, undefined);
    }

    // 3-5. Certificate checks.
    const evaluation = evaluateCertificate(leaf, {now, clockSkewSec: this.skewSec, allowedSubjects: this.opts.allowedSubjects}, {all: explain});
    for (const c of evaluation.checks) note(c);
    if (!evaluation.ok) {
      failed(evaluation.code, evaluation.detail ?? evaluation.check, evaluation.check);
      if (!explain) return this.finish(cacheKey, epoch, now, leaf, chainVerdict, first!, undefined);
    }

    // 6. Revocation.
    let revocation: RevocationOutcome | undefined;
    if (chainVerdict.ok) {
      revocation = await this.revocationStatus(leaf, chainVerdict.issuer, now);
      if (revocation.status === 'good') {
        note({check: 'revocation', ok: true, detail: revocation.detail});
      } else if (revocation.status === 'revoked') {
        note({check: 'revocation', ok: false, code: 'AUTH_CERT_REVOKED', detail: revocation.detail});
        failed('AUTH_CERT_REVOKED', revocation.detail, 'revocation');
      } else if (this.opts.revocationFail === 'open') {
        note({check: 'revocation', ok: true, code: 'AUTH_REVOCATION_SOFT_FAIL', detail: revocation.detail});
      } else {
        note({check: 'revocation', ok: false, code: 'AUTH_REVOCATION_UNKNOWN', detail: revocation.detail});
        failed('AUTH_REVOCATION_UNKNOWN', revocation.detail, 'revocation');
      }
    } else {
      note({check: 'revocation', ok: false, detail: 'not evaluated: no verified issuer'});
    }

    if (first) return this.finish(cacheKey, epoch, now, leaf, chainVerdict, first, checks, explain);
    const softFail = revocation!.status === 'unknown';
    const result: AuthResult = {
      ok: true,
      profile: profileOf(leaf),
      revocationSource: softFail ? 'none' : revocation!.source,
      revocationSoftFail: softFail,
      ...(evaluation.ok && evaluation.matchedRule ? {matchedRule: evaluation.matchedRule.text} : {}),
      cached: false,
      ...(checks ? {checks} : {}),
    };
    if (!explain && !softFail && chainVerdict.ok) {
      let until = now.getTime() + this.verdictTtlMs;
      for (const c of chainVerdict.path) until = Math.min(until, c.notAfter.getTime() + this.skewSec * 1000);
      if (revocation!.expiresAtMs !== undefined) until = Math.min(until, revocation!.expiresAtMs);
      this.remember(cacheKey, epoch, {result, who: whoOf(leaf), check: 'all'}, until);
    }
    return {result, who: whoOf(leaf), check: 'all'};
  }

  private finish(
    cacheKey: string,
    epoch: string,
    now: Date,
    leaf: ParsedClientCertificate,
    chainVerdict: ChainVerdict | undefined,
    first: {code: ErrorCode; reason: string; check: string},
    checks: CheckOutcome[] | undefined,
    explain = false,
  ): Decision {
    const result = this.deny(first.code, first.reason, checks);
    const decision: Decision = {result, who: whoOf(leaf), check: first.check};
    if (!explain && CACHEABLE_DENIALS.has(first.code)) {
      let until = now.getTime() + this.verdictTtlMs;
      // A not-yet-valid certificate becomes valid; do not remember the denial past that point.
      if (first.code === 'AUTH_CERT_NOT_YET_VALID') until = Math.min(until, leaf.notBefore.getTime() - this.skewSec * 1000);
      // An issuer validity failure can change with time as well (renewed issuer): keep it short.
      if (first.code === 'AUTH_CHAIN_INVALID' && chainVerdict === undefined) until = Math.min(until, now.getTime() + 1000);
      this.remember(cacheKey, epoch, decision, until);
    }
    return decision;
  }

  private remember(key: string, epoch: string, d: Decision, expiresAtMs: number): void {
    if (d.who && expiresAtMs > this.clock().getTime()) this.verdicts.set(key, {epoch, expiresAtMs, result: d.result, who: d.who, check: d.check});
  }

  private async revocationStatus(leaf: ParsedClientCertificate, issuer: ParsedClientCertificate, now: Date): Promise<RevocationOutcome> {
    const sources = this.opts.revocation;
    if (sources.length === 0) return {status: 'good', source: 'none', detail: 'no revocation source configured'};
    const good: RevocationSource[] = [];
    const details: string[] = [];
    let expiresAtMs: number | undefined;
    for (const source of sources) {
      if (source === 'crl') {
        const r = this.crlStatus(leaf, now);
        details.push(`crl: ${r.status}${r.reason ? ` (${r.reason})` : ''}`);
        if (r.status === 'revoked') return {status: 'revoked', source: 'crl', detail: details.join('; ')};
        if (r.status === 'good') good.push('crl');
      } else {
        const r: OcspResult = this.ocsp
          ? await this.ocsp.check(leaf, issuer)
          : {status: 'unknown', reason: 'internal_error', detail: 'no OCSP client'};
        details.push(`ocsp: ${r.status}${r.reason ? ` (${r.reason})` : ''}${r.cached ? ' [cached]' : ''}`);
        if (r.status === 'revoked') return {status: 'revoked', source: 'ocsp', detail: details.join('; ')};
        if (r.status === 'good') {
          good.push('ocsp');
          if (r.expiresAt) expiresAtMs = r.expiresAt.getTime();
        }
      }
    }
    if (good.length === 0) return {status: 'unknown', source: 'none', detail: details.join('; ')};
    return {
      status: 'good',
      source: good.join(',') as RevocationSourceUsed,
      detail: details.join('; '),
      ...(expiresAtMs !== undefined ? {expiresAtMs} : {}),
    };
  }

  private crlStatus(leaf: ParsedClientCertificate, now: Date): {status: RevocationStatus; reason?: string} {
    const lookup = this.deps.revocation;
    if (!lookup) return {status: 'unknown', reason: 'no CRL index'};
    try {
      const r = lookup.statusOfCertificate(leaf.x509, now);
      const status = typeof r === 'string' ? r : r?.status;
      if (status === 'good' || status === 'revoked' || status === 'unknown') {
        return typeof r === 'object' && r.reason ? {status, reason: r.reason} : {status};
      }
      return {status: 'unknown', reason: 'unexpected answer from the CRL index'};
    } catch {
      return {status: 'unknown', reason: 'CRL index lookup failed'};
    }
  }
}

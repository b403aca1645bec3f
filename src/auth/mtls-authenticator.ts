/**
 * MtlsAuthenticator: the application-layer decision on a client certificate (issue 9).
 *
 * Order (each with its own code):
 *   1. TLS: a peer certificate and tlsAuthorized === true  (AUTH_NO_CLIENT_CERT / AUTH_CERT_UNTRUSTED)
 *      parse the DER once                                  (AUTH_CERT_MALFORMED)
 *   2. chain re-verified with pkijs to a trust anchor      (AUTH_CHAIN_INVALID / AUTH_CHAIN_TOO_DEEP)
 *   3-5. validity, EKU, CA flag, keyUsage, key strength, identity (certificate-policy.ts)
 *   6. revocation by the configured sources (CRL index, OCSP) (AUTH_CERT_REVOKED / AUTH_REVOCATION_UNKNOWN;
 *      MTLS_REVOCATION_FAIL=open turns unknown into an accept audited as AUTH_REVOCATION_SOFT_FAIL);
 *      with a CrlFetchSource (MTLS_CRL_FETCH=true) an 'unknown' CRL answer first fetches the
 *      distribution point's CRL into the index and asks again
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
import {AuditDecision, auditPrepared, Logger, prepareAudit, PreparedAudit} from '../logging/logger';
import {ParsedClientCertificate, parseCertificate} from '../x509/certificate';
import {CheckOutcome, evaluateCertificate} from './certificate-policy';
import {buildTrustAnchors, ChainVerdict, ChainVerifier, TrustAnchors} from './chain';
import type {IdentityRule} from '../identity/identity-rules';
import type {CrlFetchOutcome} from './crl-fetcher';
import {LruCache} from './lru';
import {OcspClient, OcspClientOptions} from './ocsp-client';
import type {OcspResult} from './ocsp-verify';
import type {RevocationStatus} from '../x509/revocation-status';

/**
 * What the CRL side provides (src/tls/revocation RevocationIndex / RevocationStore): a
 * synchronous per-issuer lookup, and an epoch bumped on every CRL state change.
 */
export interface RevocationLookup {
  statusOfCertificate(
    leaf: crypto.X509Certificate,
    now?: Date,
  ): RevocationStatus | {readonly status: RevocationStatus; readonly reason?: string; readonly crlFile?: string};
  readonly epoch?: number;
}

/** Adapt a RevocationStore-shaped holder ({index, epoch}) to RevocationLookup, reading the current index per lookup. */
export function revocationLookupFromStore(store: {
  readonly index: {statusOfCertificate(leaf: crypto.X509Certificate, now?: Date): {readonly status: RevocationStatus; readonly crlFile?: string}};
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
  /** DER certificates of TLS_CA_FILE (self-issued CAs become anchors), or prepared anchors. */
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
  /** More settings for the OcspClient built when none is injected. */
  readonly ocsp?: Omit<OcspClientOptions, 'url' | 'timeoutMs' | 'cacheSize' | 'clockSkewSec' | 'clock'>;
  /** Verdict cache size (default 10000) and lifetime bound (default 300 s). */
  readonly verdictCacheSize?: number;
  readonly verdictTtlSec?: number;
}

/** Current trust (e.g. TlsState): when `epoch` changes, the anchors are reloaded before the next decision. */
export interface TrustSource {
  readonly epoch: number;
  anchors(): readonly Uint8Array[];
}

/**
 * MTLS_CRL_FETCH=true (crl-fetcher.ts CrlFetcher): asked when the CRL index answers 'unknown';
 * installs a current CRL for the leaf's issuer from its distribution point, or says why not.
 */
export interface CrlFetchSource {
  ensureCurrent(leaf: crypto.X509Certificate, distributionPoints: readonly string[], now?: Date): Promise<CrlFetchOutcome>;
}

export interface MtlsAuthenticatorDeps {
  readonly revocation?: RevocationLookup;
  /** Fetch CRLs from distribution points when the index has no current CRL for the issuer. */
  readonly crlFetcher?: CrlFetchSource;
  readonly ocsp?: OcspClient;
  readonly trust?: TrustSource;
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
  /** DER of the peer certificate (socket.getPeerCertificate().raw, as the connection gate keeps it); absent = no client certificate. */
  readonly leafDer?: Uint8Array | null;
  /** DER of the rest of the presented chain (issuer first), if known; a function is called only on a per-connection cache miss. */
  readonly chainDer?: readonly Uint8Array[] | (() => readonly Uint8Array[]);
  /** socket.authorized */
  readonly tlsAuthorized: boolean;
  /** For the audit line only. */
  readonly remoteAddress?: string;
  /**
   * The transport connection (the TLSSocket). Verdicts are also cached per connection and epoch,
   * so a kept-alive connection pays the checks once; an epoch change forces a re-check.
   */
  readonly connection?: object;
}

export interface AuthOptions {
  /** Run and report every check (verify-cert --explain); bypasses the verdict caches. */
  readonly explain?: boolean;
}

/** The identity handed to the application (the LoopBack UserProfile carries the same fields). */
export interface MtlsProfile {
  readonly subject: string;
  readonly sans: {
    readonly dns: readonly string[];
    readonly uri: readonly string[];
    readonly email: readonly string[];
    readonly ip: readonly string[];
  };
  readonly serial: string;
  readonly issuer: string;
  readonly fingerprint256: string;
  /** Common Names of the subject (for cn: rules in the authorization policy). */
  readonly commonNames: readonly string[];
  /**
   * SHA-256 fingerprints (Node's colon hex) of the CAs on the verified path, issuer first, trust
   * anchor last: who vouched for this identity (issuer-bound roles, src/authz/policy.ts).
   */
  readonly caFingerprints256: readonly string[];
}

/** Sources whose definitive 'good' answer was used ('none' when no source is configured or on soft-fail). */
export type RevocationSourceUsed = 'none' | 'crl' | 'ocsp' | 'crl,ocsp';

/** Where a cached verdict came from. */
export type CacheHit = false | 'connection' | 'certificate';

export type AuthResult =
  | {
      readonly ok: true;
      readonly profile: MtlsProfile;
      readonly revocationSource: RevocationSourceUsed;
      /** True when revocation was unknown and MTLS_REVOCATION_FAIL=open accepted anyway. */
      readonly revocationSoftFail: boolean;
      readonly matchedRule?: string;
      readonly cached: CacheHit;
      readonly checks?: readonly CheckOutcome[];
    }
  | {
      readonly ok: false;
      readonly code: ErrorCode;
      readonly status: number;
      /** Log-only explanation; never sent to a caller. */
      readonly reason: string;
      readonly cached: CacheHit;
      readonly checks?: readonly CheckOutcome[];
    };

interface RevocationOutcome {
  status: RevocationStatus;
  source: RevocationSourceUsed;
  detail: string;
  /** Earliest reuse bound of the answers used (OCSP). */
  expiresAtMs?: number;
}

/** The certificate fields every audit line carries. */
interface Who {
  subject: string;
  serial: string;
  fingerprint: string;
  issuer: string;
}

interface Decision {
  result: AuthResult;
  who?: Who;
  check: string;
  /** The audit line, already serialized (a connection's cached verdict repeats it on every request). */
  line?: PreparedAudit;
  /** Set when the verdict may be reused until this time (ms). */
  cacheUntil?: number;
  /** An accept whose verified path holds no certificate the client presented (only configured ones). */
  trustedPathOnly?: boolean;
}

interface CachedVerdict {
  epoch: string;
  expiresAtMs: number;
  result: AuthResult;
  who: Who;
  check: string;
}

/**
 * A connection's verdict as its next requests reuse it: the decision (cached: 'connection') and
 * its audit line are built once per connection, not per request.
 */
interface ConnectionVerdict {
  readonly verdict: CachedVerdict;
  readonly decision: Decision;
  readonly remoteAddress: string | undefined;
}

function whoOf(c: ParsedClientCertificate): Who {
  return {subject: c.subject, serial: c.serialKey, fingerprint: c.fingerprint256, issuer: c.issuer};
}

/** Codes whose verdict does not depend on a responder being reachable. */
const CACHEABLE_DENIALS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'AUTH_CERT_MALFORMED',
  'AUTH_CHAIN_INVALID',
  'AUTH_CHAIN_TOO_DEEP',
  'AUTH_CERT_EXPIRED',
  'AUTH_CERT_NOT_YET_VALID',
  'AUTH_EKU_NOT_CLIENT_AUTH',
  'AUTH_CERT_IS_CA',
  'AUTH_KEY_USAGE_INVALID',
  'AUTH_KEY_WEAK',
  'AUTH_IDENTITY_NOT_ALLOWED',
  'AUTH_CERT_REVOKED',
]);

function profileOf(c: ParsedClientCertificate, verifiedCas: readonly ParsedClientCertificate[]): MtlsProfile {
  return {
    subject: c.subject,
    sans: {dns: [...c.sans.dns], uri: [...c.sans.uris], email: [...c.sans.emails], ip: [...c.sans.ips]},
    serial: c.serialKey,
    issuer: c.issuer,
    fingerprint256: c.fingerprint256,
    commonNames: [...c.commonNames],
    caFingerprints256: verifiedCas.map(ca => ca.fingerprint256),
  };
}

function anchorsOf(t: readonly Uint8Array[] | TrustAnchors): TrustAnchors {
  return Array.isArray(t) ? buildTrustAnchors(t as readonly Uint8Array[]) : (t as TrustAnchors);
}

export class MtlsAuthenticator {
  private readonly chain: ChainVerifier;
  private readonly ocsp: OcspClient | undefined;
  private readonly clock: () => Date;
  private readonly logger: Logger;
  private readonly verdicts: LruCache<string, CachedVerdict>;
  private readonly connections = new WeakMap<object, CachedVerdict | ConnectionVerdict>();
  private readonly verdictTtlMs: number;
  private readonly skewSec: number;
  private appliedTrustEpoch: number | undefined;

  constructor(
    private readonly opts: MtlsAuthenticatorOptions,
    private readonly deps: MtlsAuthenticatorDeps,
  ) {
    this.clock = deps.clock ?? (() => new Date());
    this.logger = deps.logger;
    this.skewSec = opts.clockSkewSec ?? 0;
    this.chain = new ChainVerifier(anchorsOf(opts.trustAnchors), {maxIntermediates: opts.maxChainDepth ?? 2, clockSkewSec: this.skewSec});
    this.appliedTrustEpoch = deps.trust?.epoch;
    this.ocsp =
      deps.ocsp ??
      (opts.revocation.includes('ocsp')
        ? new OcspClient({
            ...opts.ocsp,
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
   * answer change. Every cached verdict is keyed by it.
   */
  get epoch(): string {
    return `${this.chain.trustEpoch}:${this.deps.revocation?.epoch ?? 0}:${this.ocsp?.epoch ?? 0}`;
  }

  /** Replace the trust anchors (hot reload); bumps the epoch and drops every cached verdict. */
  setTrustAnchors(trustAnchors: readonly Uint8Array[] | TrustAnchors): void {
    this.chain.setTrust(anchorsOf(trustAnchors));
    this.verdicts.clear();
  }

  get ocspClient(): OcspClient | undefined {
    return this.ocsp;
  }

  get crlFetcher(): CrlFetchSource | undefined {
    return this.deps.crlFetcher;
  }

  /** Follow the injected trust source; a failing reload keeps the previous anchors (the reloader validated them). */
  private syncTrust(): void {
    const trust = this.deps.trust;
    if (!trust || trust.epoch === this.appliedTrustEpoch) return;
    const epoch = trust.epoch;
    try {
      this.setTrustAnchors(trust.anchors());
      this.appliedTrustEpoch = epoch;
    } catch (e) {
      this.logger.error(
        {err: e, code: isAppError(e) ? e.code : 'INTERNAL_ERROR', trustEpoch: epoch},
        'trust anchors could not be reloaded; keeping the previous ones',
      );
      this.appliedTrustEpoch = epoch;
    }
  }

  /** Decide on one client certificate. Never throws; writes exactly one audit line. */
  async authenticate(input: AuthInput, options: AuthOptions = {}): Promise<AuthResult> {
    let decision: Decision;
    try {
      this.syncTrust();
      decision = await this.decide(input, options);
    } catch (e) {
      // A bug must never turn into an accept or a stack trace for the caller.
      this.logger.error({err: e}, 'mtls authenticator failed');
      decision = {
        result: {
          ok: false,
          code: 'INTERNAL_ERROR',
          status: ERROR_CODES.INTERNAL_ERROR.status,
          reason: isAppError(e) ? e.code : 'unexpected error',
          cached: false,
        },
        check: 'internal',
      };
    }
    auditPrepared(this.logger, decision.line ?? this.auditRecord(decision, input.remoteAddress));
    return decision.result;
  }

  /** The decision's audit line (one per decision; see authenticate()). */
  private auditRecord({result, who, check}: Decision, remoteAddress: string | undefined): PreparedAudit {
    let decision: AuditDecision;
    let code: string | undefined;
    if (result.ok) {
      decision = result.revocationSoftFail ? 'warn' : 'allow';
      code = result.revocationSoftFail ? 'AUTH_REVOCATION_SOFT_FAIL' : undefined;
    } else {
      decision = 'deny';
      code = result.code;
    }
    return prepareAudit({
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

  private fromCache(hit: CachedVerdict | undefined, epoch: string, nowMs: number, how: CacheHit): Decision | undefined {
    if (!hit || hit.epoch !== epoch || hit.expiresAtMs <= nowMs) return undefined;
    return {result: {...hit.result, cached: how}, who: hit.who, check: hit.check};
  }

  /**
   * The connection's cached verdict, while its epoch and lifetime hold. The first request after the
   * verdict was stored builds the connection's decision and audit line; the following ones reuse
   * both (same verdict, same peer address: the same line but for its time).
   */
  private connectionHit(connection: object, epoch: string, nowMs: number, remoteAddress: string | undefined): Decision | undefined {
    const stored = this.connections.get(connection);
    if (!stored) return undefined;
    const verdict = 'verdict' in stored ? stored.verdict : stored;
    if (verdict.epoch !== epoch || verdict.expiresAtMs <= nowMs) return undefined;
    if ('verdict' in stored && stored.remoteAddress === remoteAddress) return stored.decision;
    const base: Decision = {result: {...verdict.result, cached: 'connection'}, who: verdict.who, check: verdict.check};
    const decision: Decision = {...base, line: this.auditRecord(base, remoteAddress)};
    this.connections.set(connection, {verdict, decision, remoteAddress});
    return decision;
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
    const epoch = this.epoch;
    if (!explain && input.connection) {
      const hit = this.connectionHit(input.connection, epoch, now.getTime(), input.remoteAddress);
      if (hit) return hit;
    }
    // A certificate accepted through trusted certificates only (the configured CA bundle holds its
    // whole path) is accepted whatever else a client presents with it: that verdict is cached by
    // the leaf alone, so a new connection does not even read the presented chain (reading it,
    // getPeerCertificate(true), costs ~260 µs per connection). Every other verdict is keyed by the
    // leaf and the presented chain.
    const leafHash = crypto.createHash('sha256').update(input.leafDer).digest();
    const leafKey = `leaf:${leafHash.toString('hex')}`;
    if (!explain) {
      const hit = this.fromCache(this.verdicts.get(leafKey), epoch, now.getTime(), 'certificate');
      if (hit) {
        if (input.connection) this.connections.set(input.connection, this.verdicts.peek(leafKey)!);
        return hit;
      }
    }
    const chainDer = typeof input.chainDer === 'function' ? input.chainDer() : (input.chainDer ?? []);
    const h = crypto.createHash('sha256').update(leafHash);
    for (const d of chainDer) h.update(crypto.createHash('sha256').update(d).digest());
    const cacheKey = h.digest('hex');
    if (!explain) {
      const hit = this.fromCache(this.verdicts.get(cacheKey), epoch, now.getTime(), 'certificate');
      if (hit) {
        if (input.connection) this.connections.set(input.connection, this.verdicts.peek(cacheKey)!);
        return hit;
      }
    }

    const d = await this.evaluate(input.leafDer, chainDer, now, explain, checks);
    if (!explain && d.cacheUntil !== undefined && d.who && d.cacheUntil > now.getTime()) {
      const entry: CachedVerdict = {epoch, expiresAtMs: d.cacheUntil, result: d.result, who: d.who, check: d.check};
      this.verdicts.set(d.result.ok && d.trustedPathOnly ? leafKey : cacheKey, entry);
      if (input.connection) this.connections.set(input.connection, entry);
    }
    return d;
  }

  /** Steps 2-7 on a fresh parse. */
  private async evaluate(
    leafDer: Uint8Array,
    chainDer: readonly Uint8Array[],
    now: Date,
    explain: boolean,
    checks: CheckOutcome[] | undefined,
  ): Promise<Decision> {
    const note = (o: CheckOutcome) => checks?.push(o);

    // Parse once.
    let leaf: ParsedClientCertificate;
    let presented: ParsedClientCertificate[];
    try {
      leaf = parseCertificate(leafDer);
      presented = chainDer.map(der => parseCertificate(der));
    } catch (e) {
      const reason = isAppError(e) ? String(e.details.why ?? e.message) : 'unparseable';
      note({check: 'parse', ok: false, code: 'AUTH_CERT_MALFORMED', detail: reason});
      return {result: this.deny('AUTH_CERT_MALFORMED', reason, checks), check: 'parse'};
    }
    note({check: 'parse', ok: true});
    const who = whoOf(leaf);
    const nowMs = now.getTime();
    const skewMs = this.skewSec * 1000;

    let first: {code: ErrorCode; reason: string; check: string} | undefined;
    const denial = (): Decision => {
      const f = first!;
      let cacheUntil: number | undefined;
      if (CACHEABLE_DENIALS.has(f.code)) {
        cacheUntil = nowMs + this.verdictTtlMs;
        // A not-yet-valid certificate becomes valid: do not remember the denial past that point.
        if (f.code === 'AUTH_CERT_NOT_YET_VALID') cacheUntil = Math.min(cacheUntil, leaf.notBefore.getTime() - skewMs);
        // Chain failures may involve an issuer's validity window: keep them briefly only.
        if (f.code === 'AUTH_CHAIN_INVALID') cacheUntil = Math.min(cacheUntil, nowMs + 1000);
      }
      return {result: this.deny(f.code, f.reason, checks), who, check: f.check, ...(cacheUntil !== undefined ? {cacheUntil} : {})};
    };

    // 2. Chain.
    const chainVerdict: ChainVerdict = await this.chain.verify(leaf, presented, now);
    if (chainVerdict.ok) {
      note({check: 'chain', ok: true, detail: `${chainVerdict.intermediates} intermediate(s), anchor ${chainVerdict.anchor.subject}`});
    } else {
      note({check: 'chain', ok: false, code: chainVerdict.code, detail: chainVerdict.detail});
      first = {code: chainVerdict.code, reason: chainVerdict.detail, check: 'chain'};
      if (!explain) return denial();
    }

    // 3-5. Certificate checks.
    const evaluation = evaluateCertificate(leaf, {now, clockSkewSec: this.skewSec, allowedSubjects: this.opts.allowedSubjects}, {all: explain});
    for (const c of evaluation.checks) note(c);
    if (!evaluation.ok) {
      first ??= {code: evaluation.code, reason: evaluation.detail ?? evaluation.check, check: evaluation.check};
      if (!explain) return denial();
    }

    // 6a. The CAs on the verified path (not the anchor), by their issuer's CRL: a revoked
    // intermediate refuses every certificate under it, whatever the leaf's own status and even
    // when failing open. Judged wherever the issuer has a CRL in the index (TLS_CRL_FILES with the
    // root CA's CRL, as the dev PKI does): there, a status that cannot be told (CRL past
    // nextUpdate, lookup error) is unknown and follows MTLS_REVOCATION_FAIL like a leaf's. An
    // issuer without any CRL leaves its intermediate unjudged (docs/threat-model.md T11). OCSP is
    // asked about leaves only.
    let intermediateUnknown: string | undefined;
    if (chainVerdict.ok && this.opts.revocation.includes('crl')) {
      for (const ca of chainVerdict.path.slice(1, -1)) {
        const r = this.crlLookup(ca, now);
        if (r.status === 'revoked') {
          const detail = `issuing CA ${ca.subject} (serial ${ca.serialKey}) revoked by its issuer's CRL`;
          note({check: 'revocation', ok: false, code: 'AUTH_CERT_REVOKED', detail});
          first ??= {code: 'AUTH_CERT_REVOKED', reason: detail, check: 'revocation'};
          if (!explain) return denial();
          break;
        }
        if (r.status === 'unknown' && r.covered !== false) {
          intermediateUnknown ??= `issuing CA ${ca.subject} (serial ${ca.serialKey}): status unknown (${r.reason ?? "its issuer's CRL is not current"})`;
        }
      }
    }
    if (intermediateUnknown !== undefined) {
      if (this.opts.revocationFail === 'open') {
        note({check: 'revocation', ok: true, code: 'AUTH_REVOCATION_SOFT_FAIL', detail: intermediateUnknown});
      } else {
        note({check: 'revocation', ok: false, code: 'AUTH_REVOCATION_UNKNOWN', detail: intermediateUnknown});
        first ??= {code: 'AUTH_REVOCATION_UNKNOWN', reason: intermediateUnknown, check: 'revocation'};
        if (!explain) return denial();
      }
    }

    // 6. Revocation (needs the verified issuer).
    let revocation: RevocationOutcome | undefined;
    if (chainVerdict.ok) {
      revocation = await this.revocationStatus(leaf, chainVerdict.issuer, now);
      if (revocation.status === 'good') {
        note({check: 'revocation', ok: true, detail: revocation.detail});
      } else if (revocation.status === 'revoked') {
        note({check: 'revocation', ok: false, code: 'AUTH_CERT_REVOKED', detail: revocation.detail});
        first ??= {code: 'AUTH_CERT_REVOKED', reason: revocation.detail, check: 'revocation'};
      } else if (this.opts.revocationFail === 'open') {
        note({check: 'revocation', ok: true, code: 'AUTH_REVOCATION_SOFT_FAIL', detail: revocation.detail});
      } else {
        note({check: 'revocation', ok: false, code: 'AUTH_REVOCATION_UNKNOWN', detail: revocation.detail});
        first ??= {code: 'AUTH_REVOCATION_UNKNOWN', reason: revocation.detail, check: 'revocation'};
      }
    } else {
      note({check: 'revocation', ok: false, detail: 'not evaluated: no verified issuer'});
    }
    if (first || !chainVerdict.ok || !revocation) return denial();

    // 7. Profile.
    const softFail = revocation.status === 'unknown' || intermediateUnknown !== undefined;
    const result: AuthResult = {
      ok: true,
      profile: profileOf(leaf, chainVerdict.path.slice(1)),
      revocationSource: softFail ? 'none' : revocation.source,
      revocationSoftFail: softFail,
      ...(evaluation.ok && evaluation.matchedRule ? {matchedRule: evaluation.matchedRule.text} : {}),
      cached: false,
      ...(checks ? {checks} : {}),
    };
    if (softFail) return {result, who, check: 'revocation'};
    // Reusable until the first of: the TTL, any path certificate's notAfter, the OCSP answer's expiry.
    let cacheUntil = nowMs + this.verdictTtlMs;
    for (const c of chainVerdict.path) cacheUntil = Math.min(cacheUntil, c.notAfter.getTime() + skewMs);
    if (revocation.expiresAtMs !== undefined) cacheUntil = Math.min(cacheUntil, revocation.expiresAtMs);
    // Every issuer on the path is a configured certificate, compared by fingerprint (not object
    // identity: on a chain-cache hit the path is made of an earlier call's objects, and a path that
    // needs a presented intermediate must never be cached by the leaf alone).
    const trustedPathOnly = chainVerdict.path.slice(1).every(p => this.chain.isConfigured(p.fingerprint256));
    return {result, who, check: 'all', cacheUntil, trustedPathOnly};
  }

  private async revocationStatus(leaf: ParsedClientCertificate, issuer: ParsedClientCertificate, now: Date): Promise<RevocationOutcome> {
    const sources = this.opts.revocation;
    if (sources.length === 0) return {status: 'good', source: 'none', detail: 'no revocation source configured'};
    const good: RevocationSource[] = [];
    const details: string[] = [];
    let expiresAtMs: number | undefined;
    for (const source of sources) {
      if (source === 'crl') {
        const r = await this.crlStatus(leaf, now);
        details.push(`crl: ${r.status}${r.reason ? ` (${r.reason})` : ''}`);
        if (r.status === 'revoked') return {status: 'revoked', source: 'crl', detail: details.join('; ')};
        if (r.status === 'good') good.push('crl');
      } else {
        const r: OcspResult = this.ocsp
          ? await this.ocsp.check(leaf, issuer)
          : {status: 'unknown', reason: 'internal_error', detail: 'no OCSP client'};
        details.push(
          `ocsp: ${r.status}${r.reason ? ` (${r.reason}${r.detail ? `: ${r.detail.slice(0, 200)}` : ''})` : ''}${r.cached ? ' [cached]' : ''}`,
        );
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

  /** The index's answer; when it is 'unknown' and CRL fetching is on, fetch the DP's CRL and ask again. */
  private async crlStatus(leaf: ParsedClientCertificate, now: Date): Promise<{status: RevocationStatus; reason?: string}> {
    const first = this.crlLookup(leaf, now);
    const fetcher = this.deps.crlFetcher;
    if (first.status !== 'unknown' || !fetcher) return first;
    const fetched = await fetcher.ensureCurrent(leaf.x509, leaf.crlDistributionPoints, now);
    if (!fetched.ok) return {status: 'unknown', reason: `${first.reason ? `${first.reason}; ` : ''}fetch: ${fetched.reason}`};
    const second = this.crlLookup(leaf, now);
    return second.status === 'unknown'
      ? {status: 'unknown', reason: `fetched, still unknown${second.reason ? `: ${second.reason}` : ''}`}
      : {status: second.status, reason: 'fetched'};
  }

  /**
   * The CRL index's answer for one certificate. `covered` is false only when the index says its
   * issuer has no CRL at all; an index error is unknown and covered (never "not judged").
   */
  private crlLookup(cert: ParsedClientCertificate, now: Date): {status: RevocationStatus; reason?: string; covered?: boolean} {
    const lookup = this.deps.revocation;
    if (!lookup) return {status: 'unknown', reason: 'no CRL index'};
    try {
      const r = lookup.statusOfCertificate(cert.x509, now);
      const status = typeof r === 'string' ? r : r?.status;
      if (status === 'good' || status === 'revoked' || status === 'unknown') {
        const covered = typeof r === 'object' ? r.crlFile !== undefined : undefined;
        return {status, ...(typeof r === 'object' && r.reason ? {reason: r.reason} : {}), ...(covered !== undefined ? {covered} : {})};
      }
      return {status: 'unknown', reason: 'unexpected answer from the CRL index'};
    } catch {
      return {status: 'unknown', reason: 'CRL index lookup failed'};
    }
  }
}

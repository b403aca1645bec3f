/**
 * Re-verify the client chain up to a configured trust anchor with pkijs 3
 * (CertificateChainValidationEngine on Node's WebCrypto; signatures through pki-crypto.ts),
 * independently of OpenSSL's handshake verification.
 *
 * On top of pkijs (signatures, name chaining, CA flags, keyCertSign, policies) this module
 * enforces what pkijs does not: the depth limit, pathLenConstraint, accepted signature
 * algorithms, unrecognised critical extensions, EKU chaining on intermediates, issuer validity at
 * `now` with the configured skew, and name constraints (src/x509/name-constraints.ts; pkijs never
 * sees the extension). The leaf's own validity
 * window is NOT judged here (pkijs sees an unbounded window) so that an expired leaf is reported by
 * the validity check with its own code; issuers are judged at `now` on every call.
 *
 * Results are cached per (trust epoch, leaf fingerprint, presented chain) and concurrent
 * verifications of the same input are coalesced.
 *
 * Pure module: no LoopBack imports, no I/O.
 */
import crypto from 'node:crypto';
import * as pkijs from 'pkijs';
import {AppError} from '../errors';
import {OID, ParsedClientCertificate, parseCertificate} from '../x509/certificate';
import {checkValidity} from './certificate-policy';
import {LruCache} from './lru';
import {isAcceptedSignatureAlgorithm, pkiCrypto} from '../x509/pki-crypto';
import {checkNameConstraints} from '../x509/name-constraints';

export interface TrustAnchors {
  /** Self-signed CA certificates: where a path must end. */
  readonly anchors: readonly ParsedClientCertificate[];
  /** CA certificates from the trust file that are not self-signed: usable to build paths only. */
  readonly intermediates: readonly ParsedClientCertificate[];
}

/**
 * Split the configured CA certificates (DER) into anchors (self-issued, CA:TRUE) and extra
 * intermediates (CA:TRUE, not self-issued). A non-CA certificate in the trust file, or no anchor at all,
 * is a configuration error (TLS_MATERIAL_UNREADABLE).
 */
export function buildTrustAnchors(ders: readonly Uint8Array[]): TrustAnchors {
  const anchors: ParsedClientCertificate[] = [];
  const intermediates: ParsedClientCertificate[] = [];
  const seen = new Set<string>();
  for (const der of ders) {
    let c: ParsedClientCertificate;
    try {
      c = parseCertificate(der);
    } catch (e) {
      throw new AppError('TLS_MATERIAL_UNREADABLE', 'A trust anchor certificate cannot be parsed.', {}, {cause: e});
    }
    if (seen.has(c.fingerprint256)) continue;
    seen.add(c.fingerprint256);
    if (!c.basicConstraints?.ca) {
      throw new AppError('TLS_MATERIAL_UNREADABLE', 'The trust file holds a certificate that is not a CA.', {subject: c.subject});
    }
    // Like OpenSSL (without X509_V_FLAG_CHECK_SS_SIGNATURE), an anchor's self-signature is not judged:
    // its key is trusted by configuration.
    (c.selfIssued ? anchors : intermediates).push(c);
  }
  if (anchors.length === 0) throw new AppError('TLS_MATERIAL_UNREADABLE', 'The trust file holds no self-signed CA certificate.');
  return {anchors, intermediates};
}

export interface ChainVerifierOptions {
  /** Intermediates allowed between leaf and anchor (MTLS_MAX_CHAIN_DEPTH, default 2). */
  readonly maxIntermediates?: number;
  /** Applied to the issuers' validity windows (MTLS_CLOCK_SKEW_SEC, default 0). */
  readonly clockSkewSec?: number;
  /** Cached verified paths (default 10000). */
  readonly cacheSize?: number;
}

export type ChainVerdict =
  | {
      readonly ok: true;
      /** leaf, intermediates..., anchor */
      readonly path: readonly ParsedClientCertificate[];
      /** The certificate that issued the leaf (path[1]). */
      readonly issuer: ParsedClientCertificate;
      readonly anchor: ParsedClientCertificate;
      readonly intermediates: number;
    }
  | {readonly ok: false; readonly code: 'AUTH_CHAIN_INVALID' | 'AUTH_CHAIN_TOO_DEEP'; readonly detail: string};

interface CoreOk {
  ok: true;
  path: ParsedClientCertificate[];
}
type Core = CoreOk | {ok: false; code: 'AUTH_CHAIN_INVALID' | 'AUTH_CHAIN_TOO_DEEP'; detail: string};

const FAR_PAST = new Date(0);
const FAR_FUTURE = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));

/**
 * A view of `c` whose validity window never excludes pkijs' checkDate and without the
 * nameConstraints extension (same TBS bytes: signatures still cover them). Name constraints are
 * processed by src/x509/name-constraints.ts, not by pkijs (see there why).
 */
function timeless(c: pkijs.Certificate): pkijs.Certificate {
  const v = Object.assign(Object.create(Object.getPrototypeOf(c)) as pkijs.Certificate, c);
  v.notBefore = new pkijs.Time({type: pkijs.TimeType.GeneralizedTime, value: FAR_PAST});
  v.notAfter = new pkijs.Time({type: pkijs.TimeType.GeneralizedTime, value: FAR_FUTURE});
  if (c.extensions) v.extensions = c.extensions.filter(e => e.extnID !== OID.nameConstraints);
  return v;
}

function configuredFingerprints(trust: TrustAnchors): ReadonlySet<string> {
  return new Set([...trust.anchors, ...trust.intermediates].map(c => c.fingerprint256));
}

function invalid(detail: string): Core {
  return {ok: false, code: 'AUTH_CHAIN_INVALID', detail};
}

export class ChainVerifier {
  /** pkijs path validations run, and verifications answered from the cache. */
  readonly stats = {validations: 0, cacheHits: 0};
  private trust: TrustAnchors;
  private configured: ReadonlySet<string>;
  private epoch = 1;
  private readonly maxIntermediates: number;
  private readonly skewSec: number;
  private readonly cache: LruCache<string, CoreOk>;
  private readonly inflight = new Map<string, Promise<Core>>();

  constructor(trust: TrustAnchors, opts: ChainVerifierOptions = {}) {
    this.trust = trust;
    this.configured = configuredFingerprints(trust);
    this.maxIntermediates = opts.maxIntermediates ?? 2;
    this.skewSec = opts.clockSkewSec ?? 0;
    this.cache = new LruCache(opts.cacheSize ?? 10_000);
  }

  /** Bumped by every setTrust(); part of every cache key here and in the authenticator. */
  get trustEpoch(): number {
    return this.epoch;
  }

  get anchors(): TrustAnchors {
    return this.trust;
  }

  /** True when `fingerprint256` is one of the configured CA certificates (anchor or extra intermediate). */
  isConfigured(fingerprint256: string): boolean {
    return this.configured.has(fingerprint256);
  }

  setTrust(trust: TrustAnchors): void {
    this.trust = trust;
    this.configured = configuredFingerprints(trust);
    this.epoch++;
    this.cache.clear();
    this.inflight.clear();
  }

  async verify(leaf: ParsedClientCertificate, presented: readonly ParsedClientCertificate[], now: Date): Promise<ChainVerdict> {
    const chain = presented.filter(c => c.fingerprint256 !== leaf.fingerprint256);
    // The client may send its intermediates and the anchor; more than that is refused before any crypto.
    if (chain.length > this.maxIntermediates + 1) {
      return {ok: false, code: 'AUTH_CHAIN_TOO_DEEP', detail: `${chain.length} certificates presented`};
    }
    const h = crypto.createHash('sha256');
    for (const c of chain) h.update(c.fingerprint256);
    const key = `${this.epoch}|${leaf.fingerprint256}|${h.digest('hex')}`;

    let core: Core | undefined = this.cache.get(key);
    if (core) {
      this.stats.cacheHits++;
    } else {
      let p = this.inflight.get(key);
      if (!p) {
        const epoch = this.epoch;
        this.stats.validations++;
        p = this.buildPath(leaf, chain, now).finally(() => this.inflight.delete(key));
        this.inflight.set(key, p);
        core = await p;
        if (core.ok && epoch === this.epoch) this.cache.set(key, core);
      } else {
        core = await p;
      }
    }
    if (!core.ok) return core;
    return this.checkAtTime(core.path, now);
  }

  /** Time-independent part: pkijs path building and verification plus structural constraints. */
  private async buildPath(leaf: ParsedClientCertificate, chain: readonly ParsedClientCertificate[], now: Date): Promise<Core> {
    // pkijs judges every path certificate's validity at one checkDate. Validity is judged here
    // instead (leaf: the validity check with its own code; issuers: checkAtTime at `now`), so pkijs
    // gets views of the certificates with an unbounded window. Signatures are still verified over
    // the original TBS bytes (tbsView is shared, not re-encoded).
    const byObject = new Map<pkijs.Certificate, ParsedClientCertificate>();
    const view = (c: ParsedClientCertificate): pkijs.Certificate => {
      const v = timeless(c.pkijs);
      byObject.set(v, c);
      return v;
    };

    // Refuse weak signature algorithms up front for a precise reason (pkijs would only say "no path").
    for (const c of [leaf, ...chain]) {
      if (!c.selfIssued && !isAcceptedSignatureAlgorithm(c.signatureAlgorithm)) {
        return invalid(`signature algorithm ${c.signatureAlgorithm} not accepted`);
      }
    }

    const engine = new pkijs.CertificateChainValidationEngine({
      trustedCerts: this.trust.anchors.map(view),
      // pkijs takes the LAST element of `certs` as the end-entity certificate.
      certs: [...this.trust.intermediates.map(view), ...chain.map(view), view(leaf)],
      checkDate: now,
    });
    let result: pkijs.CertificateChainValidationEngineVerifyResult;
    try {
      result = await engine.verify({}, pkiCrypto);
    } catch (e) {
      return invalid(`path validation failed: ${(e as Error)?.message ?? 'error'}`);
    }
    if (!result.result || !result.certificatePath) return invalid(`path validation failed: ${result.resultMessage || result.resultCode}`);

    const path: ParsedClientCertificate[] = [];
    for (const pc of result.certificatePath) {
      const c = byObject.get(pc);
      if (!c) return invalid('path holds an unknown certificate');
      path.push(c);
    }
    if (path.length < 2 || path[0] !== leaf) return invalid('path does not start at the leaf');
    const anchor = path[path.length - 1];
    if (!this.trust.anchors.includes(anchor)) return invalid('path does not end at a trust anchor');

    const intermediates = path.length - 2;
    if (intermediates > this.maxIntermediates) {
      return {ok: false, code: 'AUTH_CHAIN_TOO_DEEP', detail: `${intermediates} intermediates, at most ${this.maxIntermediates}`};
    }
    for (let i = 0; i < path.length; i++) {
      const c = path[i];
      if (c !== anchor && c.unrecognisedCriticalExtensions.length > 0) {
        return invalid(`unrecognised critical extension ${c.unrecognisedCriticalExtensions.join(',')}`);
      }
      if (i === 0) continue;
      if (!c.basicConstraints?.ca) return invalid('an issuer is not a CA');
      if (c.keyUsage !== null && !c.keyUsage.includes('keyCertSign')) return invalid('an issuer lacks keyCertSign');
      // pathLenConstraint: non-self-issued intermediates below this CA (RFC 5280 §4.2.1.9).
      const pathLength = c.basicConstraints.pathLength;
      if (pathLength !== undefined) {
        const below = path.slice(1, i).filter(x => !x.selfIssued).length;
        if (below > pathLength) return invalid('pathLenConstraint exceeded');
      }
      // EKU chaining: an intermediate that restricts EKU must allow clientAuth.
      if (
        c !== anchor &&
        c.extendedKeyUsage !== null &&
        !c.extendedKeyUsage.includes(OID.kpClientAuth) &&
        !c.extendedKeyUsage.includes(OID.anyExtendedKeyUsage)
      ) {
        return invalid('an intermediate extendedKeyUsage excludes clientAuth');
      }
    }
    // RFC 5280 §4.2.1.10 / §6.1: name constraints along the whole path (this project's processing).
    const violation = checkNameConstraints(path);
    if (violation !== undefined) return invalid(`name constraints: ${violation}`);
    return {ok: true, path};
  }

  private checkAtTime(path: readonly ParsedClientCertificate[], now: Date): ChainVerdict {
    for (const c of path.slice(1)) {
      const v = checkValidity(c, now, this.skewSec);
      if (!v.ok) return {ok: false, code: 'AUTH_CHAIN_INVALID', detail: `issuer ${c.subject} is outside its validity window`};
    }
    return {ok: true, path, issuer: path[1], anchor: path[path.length - 1], intermediates: path.length - 2};
  }
}

/**
 * RevocationIndex: verified CRLs indexed by issuer (fingerprint256 of the configured CA that
 * verified the CRL) -> SerialSet. Shared by the TLS connection gate and the authenticator through
 * RevocationStore. Pure: no LoopBack imports.
 *
 * A CRL is indexed only when (1) it parses strictly, (2) it carries no extension we must not
 * ignore (critical unknown; a delta or indirect CRL is refused with its own code), (3) its signature
 * verifies against a configured CA whose subject matches the CRL issuer (RFC 5280 §7.1) and (4) that CA's
 * keyUsage (if present) allows cRLSign, and (5) thisUpdate <= now <= nextUpdate. The parsed CRL
 * (and its DER) is not retained: only the SerialSet and a few dates.
 *
 * If several configured CA certificates verify the same CRL (re-issued CA certificate with the
 * same name and key), the CRL is indexed under each of them.
 *
 * A CRL with issuingDistributionPoint (partitioned CRLs, Active Directory CS) is kept per issuer
 * and scope, and answers only for certificates inside its scope (RFC 5280 §5.2.5, §6.3.3 (b)):
 * its distributionPoint must match one of the certificate's CRL distribution point URIs,
 * onlyContainsUserCerts / onlyContainsCACerts must fit the certificate, and an onlySomeReasons
 * CRL can prove 'revoked' but never 'good'. A certificate of an issuer whose CRLs all leave it
 * out of scope is 'unknown' (MTLS_REVOCATION_FAIL decides). The scoped path runs only for
 * issuers that have such CRLs; the complete-CRL lookup is unchanged.
 */
import * as crypto from 'node:crypto';
import {promises as fs} from 'node:fs';
import {AppError, isAppError} from '../../errors';
import {CrlScope, parseCrl, ParsedCrl, DEFAULT_MAX_CRL_BYTES} from './crl-parser';
import {crlSignatureAlgorithm, verifyCrlSignature} from './crl-signature';
import {certificateFields, parseCertificateFields} from '../../x509/certificate-fields';
import {normalizeSerial} from '../../x509/serial';
import {namesMatch} from '../../x509/name';
import {SerialSet} from './serial-set';

import type {RevocationStatus} from '../../x509/revocation-status';

/** One installed CRL (per issuer). */
export interface CrlRecord {
  /** File path the CRL was loaded from, or the source label given to addFetched(). */
  readonly file: string;
  readonly issuerFingerprint256: string;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  readonly entryCount: number;
  readonly crlNumber?: bigint;
  /** issuingDistributionPoint DER (hex) of a scoped CRL; absent for a complete CRL. */
  readonly scope?: string;
}

export interface CertificateRevocationStatus {
  readonly status: RevocationStatus;
  /** The configured CA that issued the leaf (when one was found). */
  readonly issuerFingerprint256?: string;
  /** The CRL consulted (when the issuer has one). */
  readonly crlFile?: string;
  /** Why the status is unknown although the issuer has CRLs (scope). */
  readonly reason?: string;
}

interface Installed extends CrlRecord {
  readonly revoked: SerialSet;
  readonly crlScope?: CrlScope;
}

/** What a certificate's scope test needs (computed once per certificate, only for issuers with scoped CRLs). */
interface ScopeInfo {
  readonly isCa: boolean;
  readonly crlDistributionPoints: readonly string[];
}

interface IssuerMatch {
  readonly cas: readonly TrustedCa[];
  scope?: ScopeInfo;
}

function inScope(scope: CrlScope, cert: ScopeInfo): boolean {
  if (scope.onlyContainsAttributeCerts) return false;
  if (cert.isCa ? scope.onlyContainsUserCerts : scope.onlyContainsCACerts) return false;
  if (!scope.hasDistributionPoint) return true;
  return cert.crlDistributionPoints.some(u => scope.distributionPoints.includes(u));
}

export interface RevocationIndexOptions {
  /** Leaves whose issuer match is remembered (default ISSUER_CACHE_SIZE; 0 disables the cache). */
  readonly issuerCacheSize?: number;
}

interface TrustedCa {
  readonly cert: crypto.X509Certificate;
  readonly fingerprint256: string;
}

const READ_SLICE_BYTES = 1 << 20;

/**
 * Leaves whose issuer match (checkIssued + signature verification against every trusted CA,
 * ~60-200 us) an index remembers, keyed by the leaf's fingerprint256 (SHA-256 of its DER: the
 * match is a pure function of the leaf's bytes and the index's fixed CA set). Least recently used
 * evicted beyond this bound. A reload builds a new index, hence a fresh cache.
 */
export const ISSUER_CACHE_SIZE = 4096;

/** Wrap any failure for `file` in an AppError carrying {file}; non-AppErrors become `fallback`. */
function withFile(e: unknown, file: string, fallback: 'CRL_INVALID' | 'TLS_MATERIAL_UNREADABLE'): AppError {
  if (isAppError(e)) return new AppError(e.code, e.message, {...e.details, file}, {cause: e});
  return new AppError(fallback, fallback === 'CRL_INVALID' ? 'CRL could not be processed' : 'CRL file cannot be read', {file}, {cause: e});
}

/** Read a CRL file (PEM or DER). Throws AppError TLS_MATERIAL_UNREADABLE {file}. */
export async function readCrlFile(file: string, maxBytes = DEFAULT_MAX_CRL_BYTES): Promise<Buffer> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, 'r');
    const st = await handle.stat();
    if (!st.isFile()) throw new AppError('TLS_MATERIAL_UNREADABLE', 'CRL path is not a regular file', {file});
    if (st.size > maxBytes) throw new AppError('TLS_MATERIAL_UNREADABLE', 'CRL file is larger than the accepted maximum', {file, bytes: st.size});
    // Read into SharedArrayBuffer-backed memory so signature verification of a large CRL can
    // hand the TBS to a worker thread without copying (crl-signature.ts). The reads run on the
    // libuv thread pool in 1 MiB slices.
    const out = Buffer.from(new SharedArrayBuffer(st.size));
    let off = 0;
    while (off < st.size) {
      const {bytesRead} = await handle.read(out, off, Math.min(READ_SLICE_BYTES, st.size - off), off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    if (off !== st.size) throw new AppError('TLS_MATERIAL_UNREADABLE', 'CRL file changed while it was read', {file});
    return out;
  } catch (e) {
    throw withFile(e, file, 'TLS_MATERIAL_UNREADABLE');
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Newer = higher cRLNumber when both have one, else later thisUpdate. */
function isNewer(candidate: {crlNumber?: bigint; thisUpdate: Date}, current: {crlNumber?: bigint; thisUpdate: Date}): boolean {
  if (candidate.crlNumber !== undefined && current.crlNumber !== undefined) return candidate.crlNumber > current.crlNumber;
  return candidate.thisUpdate.getTime() > current.thisUpdate.getTime();
}

function checkDates(crl: {thisUpdate: Date; nextUpdate?: Date}, now: Date): void {
  const t = now.getTime();
  if (crl.thisUpdate.getTime() > t) {
    throw new AppError('CRL_EXPIRED', 'CRL thisUpdate is in the future', {thisUpdate: crl.thisUpdate.toISOString()});
  }
  if (crl.nextUpdate && crl.nextUpdate.getTime() < t) {
    throw new AppError('CRL_EXPIRED', 'CRL is past its nextUpdate', {nextUpdate: crl.nextUpdate.toISOString()});
  }
}

function dedupeCas(cas: readonly crypto.X509Certificate[]): TrustedCa[] {
  const out: TrustedCa[] = [];
  const seen = new Set<string>();
  for (const cert of cas) {
    if (!(cert instanceof crypto.X509Certificate)) {
      throw new AppError('TLS_MATERIAL_UNREADABLE', 'a trusted CA is not an X509Certificate');
    }
    if (seen.has(cert.fingerprint256)) continue;
    seen.add(cert.fingerprint256);
    certificateFields(cert); // fail early on a CA certificate we cannot read
    out.push({cert, fingerprint256: cert.fingerprint256});
  }
  return out;
}

/**
 * The configured CAs that verify `crl` (all checks but dates). Throws AppError CRL_INVALID,
 * CRL_SIGNATURE_INVALID or CRL_ISSUER_NOT_CRLSIGN.
 */
async function verifyAgainst(crl: ParsedCrl, cas: readonly TrustedCa[]): Promise<TrustedCa[]> {
  if (crl.hasCriticalUnknownExtension) {
    throw new AppError('CRL_INVALID', 'CRL carries an unsupported critical extension', {extensions: crl.unsupportedExtensions});
  }
  crlSignatureAlgorithm(crl); // unsupported algorithm => CRL_INVALID even with no candidate CA
  const verified: TrustedCa[] = [];
  let notCrlSign: AppError | undefined;
  for (const ca of cas) {
    if (!namesMatch(crl.issuerNameDer, certificateFields(ca.cert).subjectDer, 'CRL_INVALID')) continue;
    try {
      if (await verifyCrlSignature(crl, ca.cert)) verified.push(ca);
    } catch (e) {
      if (isAppError(e) && e.code === 'CRL_ISSUER_NOT_CRLSIGN') notCrlSign = e;
      else throw e;
    }
  }
  if (verified.length > 0) return verified;
  if (notCrlSign) throw notCrlSign;
  throw new AppError('CRL_SIGNATURE_INVALID', 'CRL is not signed by any configured CA');
}

/**
 * A certificate known by its serial and SHA-256 fingerprint (e.g. from TLSSocket#getPeerCertificate()),
 * parsed only when needed: the issuer match of an issuer-cache miss. Parsing DER into an
 * X509Certificate costs about 140 µs with OpenSSL 3.0 on this kind of machine (its d2i_X509 is
 * slow, openssl/openssl#19119), more than the whole lookup.
 */
export interface CertificateRef {
  /** Hex, as X509Certificate#serialNumber / getPeerCertificate().serialNumber. */
  readonly serialNumber: string;
  /** Colon-separated upper-case hex, as X509Certificate#fingerprint256. */
  readonly fingerprint256: string;
  x509(): crypto.X509Certificate;
}

export class RevocationIndex {
  private readonly trusted: readonly TrustedCa[];
  private readonly byIssuer = new Map<string, Installed>();
  /** Scoped (issuingDistributionPoint) CRLs per issuer, one per scope. */
  private readonly scopedByIssuer = new Map<string, Installed[]>();
  /** leaf fingerprint256 -> the trusted CAs that issued it (insertion order = LRU order). */
  private readonly issuerCache = new Map<string, IssuerMatch>();
  private issuerCacheHits = 0;
  private issuerCacheMisses = 0;

  private readonly issuerCacheSize: number;

  private constructor(trusted: readonly TrustedCa[], opts: RevocationIndexOptions = {}) {
    this.trusted = trusted;
    const size = opts.issuerCacheSize ?? ISSUER_CACHE_SIZE;
    if (!Number.isSafeInteger(size) || size < 0) throw new AppError('INTERNAL_ERROR', 'issuerCacheSize must be a non-negative integer');
    this.issuerCacheSize = size;
  }

  /**
   * Load and verify every CRL file. Any failure rejects (the service refuses to start) with
   * AppError CRL_INVALID / CRL_SIGNATURE_INVALID / CRL_ISSUER_NOT_CRLSIGN / CRL_EXPIRED /
   * TLS_MATERIAL_UNREADABLE, details {file}. Files are processed one at a time (bounded memory).
   */
  static async load(
    files: readonly string[],
    trustedCas: readonly crypto.X509Certificate[],
    now: Date = new Date(),
    opts: RevocationIndexOptions = {},
  ): Promise<RevocationIndex> {
    const index = new RevocationIndex(dedupeCas(trustedCas), opts);
    for (const file of files) {
      const bytes = await readCrlFile(file);
      try {
        const crl = await parseCrl(bytes);
        const cas = await verifyAgainst(crl, index.trusted);
        checkDates(crl, now);
        index.install(crl, cas, file);
      } catch (e) {
        throw withFile(e, file, 'CRL_INVALID');
      }
    }
    return index;
  }

  /** An index with no CRLs and no CAs: every status is 'unknown'. */
  static empty(): RevocationIndex {
    return new RevocationIndex([]);
  }

  /** The configured CAs this index verifies CRLs and leaves against. */
  get trustedCas(): readonly crypto.X509Certificate[] {
    return this.trusted.map(t => t.cert);
  }

  private install(crl: ParsedCrl, cas: readonly TrustedCa[], file: string): boolean {
    let installed = false;
    for (const ca of cas) {
      const entry: Installed = {
        file,
        issuerFingerprint256: ca.fingerprint256,
        thisUpdate: crl.thisUpdate,
        ...(crl.nextUpdate ? {nextUpdate: crl.nextUpdate} : {}),
        entryCount: crl.entryCount,
        ...(crl.crlNumber !== undefined ? {crlNumber: crl.crlNumber} : {}),
        ...(crl.scope ? {scope: crl.scope.key, crlScope: crl.scope} : {}),
        revoked: crl.revoked,
      };
      if (crl.scope) {
        const list = this.scopedByIssuer.get(ca.fingerprint256) ?? [];
        const i = list.findIndex(e => e.scope === crl.scope!.key);
        if (i >= 0 && !isNewer(crl, list[i])) continue;
        if (i >= 0) list[i] = entry;
        else list.push(entry);
        this.scopedByIssuer.set(ca.fingerprint256, list);
        installed = true;
        continue;
      }
      const current = this.byIssuer.get(ca.fingerprint256);
      if (current && !isNewer(crl, current)) continue;
      this.byIssuer.set(ca.fingerprint256, entry);
      installed = true;
    }
    return installed;
  }

  /** The status from an issuer's scoped CRLs (only issuers that have some). */
  private scopedStatus(
    list: readonly Installed[],
    cert: ScopeInfo,
    serial: string,
    now: Date,
  ): {status: RevocationStatus; file: string; reason?: string} {
    const t = now.getTime();
    let good: Installed | undefined;
    let applicable: Installed | undefined;
    for (const e of list) {
      if (!inScope(e.crlScope!, cert)) continue;
      applicable ??= e;
      if (Number.isNaN(t) || e.thisUpdate.getTime() > t || (e.nextUpdate && e.nextUpdate.getTime() < t)) continue;
      if (e.revoked.has(serial)) return {status: 'revoked', file: e.file};
      if (!e.crlScope!.onlySomeReasons) good ??= e;
    }
    if (good) return {status: 'good', file: good.file};
    if (applicable)
      return {
        status: 'unknown',
        file: applicable.file,
        reason: applicable.crlScope!.onlySomeReasons ? 'only CRLs for some reasons cover it' : 'its CRL is not current',
      };
    return {status: 'unknown', file: list[0].file, reason: 'outside the scope of every CRL of its issuer (issuingDistributionPoint)'};
  }

  /**
   * Revocation status of `serialKey` under the CA `issuerFingerprint256`. 'unknown' when that
   * issuer has no CRL, or its CRL is past nextUpdate (RFC 5280 §6.3.3) or not yet valid.
   * A serial that is not hexadecimal throws AppError AUTH_CERT_MALFORMED.
   */
  status(issuerFingerprint256: string, serialKey: string, now: Date = new Date()): RevocationStatus {
    const entry = this.byIssuer.get(issuerFingerprint256);
    if (!entry) return 'unknown';
    const t = now.getTime();
    if (Number.isNaN(t) || entry.thisUpdate.getTime() > t) return 'unknown';
    if (entry.nextUpdate && entry.nextUpdate.getTime() < t) return 'unknown';
    return entry.revoked.has(serialKey) ? 'revoked' : 'good';
  }

  /**
   * Status of a leaf: its issuer is the configured CA for which `leaf.checkIssued(ca)` holds
   * (name + AKI/SKI) and whose key verifies the leaf signature. 'revoked' if any such CA's CRL
   * lists it, else 'good' if one has a current CRL, else 'unknown'.
   */
  statusOfCertificate(leaf: crypto.X509Certificate | CertificateRef, now: Date = new Date()): CertificateRevocationStatus {
    const serial = normalizeSerial(leaf.serialNumber);
    let good: CertificateRevocationStatus | undefined;
    let unknown: CertificateRevocationStatus | undefined;
    const match = this.issuersOf(leaf);
    for (const ca of match.cas) {
      let status = this.status(ca.fingerprint256, serial, now);
      let file = this.byIssuer.get(ca.fingerprint256)?.file;
      let reason: string | undefined;
      const scoped = this.scopedByIssuer.get(ca.fingerprint256);
      if (scoped !== undefined && status !== 'revoked') {
        const s = this.scopedStatus(scoped, (match.scope ??= scopeInfoOf(leaf)), serial, now);
        if (s.status === 'revoked' || (s.status === 'good' && status !== 'good')) {
          status = s.status;
          file = s.file;
        } else if (status === 'unknown' && file === undefined) {
          file = s.file;
          reason = s.reason;
        }
      }
      let result: CertificateRevocationStatus = {status, issuerFingerprint256: ca.fingerprint256, ...(file ? {crlFile: file} : {})};
      if (reason !== undefined) result = {...result, reason}; // scoped CRLs only: the common path is unchanged
      if (status === 'revoked') return result;
      if (status === 'good') good ??= result;
      else unknown ??= result;
    }
    return good ?? unknown ?? {status: 'unknown'};
  }

  /**
   * The trusted CAs that issued `leaf` (name + AKI/SKI and signature), in configuration order.
   * Remembered per leaf fingerprint (ISSUER_CACHE_SIZE, LRU): repeated connections and requests
   * by the same certificate skip the signature verification; the serial lookup stays per call.
   */
  private issuersOf(leaf: crypto.X509Certificate | CertificateRef): IssuerMatch {
    let key: string | undefined;
    try {
      key = leaf.fingerprint256;
    } catch {
      key = undefined; // unreadable: match without caching
    }
    if (key !== undefined) {
      const hit = this.issuerCache.get(key);
      if (hit !== undefined) {
        this.issuerCacheHits++;
        this.issuerCache.delete(key);
        this.issuerCache.set(key, hit);
        return hit;
      }
    }
    this.issuerCacheMisses++;
    const parsed = leaf instanceof crypto.X509Certificate ? leaf : leaf.x509();
    const found: IssuerMatch = {cas: this.trusted.filter(ca => issuedBy(parsed, ca.cert))};
    if (key !== undefined && this.issuerCacheSize > 0) {
      this.issuerCache.set(key, found);
      if (this.issuerCache.size > this.issuerCacheSize) this.issuerCache.delete(this.issuerCache.keys().next().value as string);
    }
    return found;
  }

  /** Issuer-match cache counters (tests, diagnostics). */
  get issuerCacheStats(): {readonly size: number; readonly hits: number; readonly misses: number} {
    return {size: this.issuerCache.size, hits: this.issuerCacheHits, misses: this.issuerCacheMisses};
  }

  get crls(): readonly CrlRecord[] {
    const all = [...this.byIssuer.values(), ...[...this.scopedByIssuer.values()].flat()];
    return all.map(({revoked: _revoked, crlScope: _scope, ...record}) => Object.freeze(record));
  }

  /** The earliest nextUpdate among installed CRLs (when to expect staleness). */
  earliestNextUpdate(): Date | undefined {
    let min: number | undefined;
    for (const e of [...this.byIssuer.values(), ...[...this.scopedByIssuer.values()].flat()]) {
      if (e.nextUpdate && (min === undefined || e.nextUpdate.getTime() < min)) min = e.nextUpdate.getTime();
    }
    return min === undefined ? undefined : new Date(min);
  }

  /**
   * Install a CRL obtained later (e.g. from a distribution point). Same rules as load(); the
   * issuer must be one of this index's configured CAs (else CRL_SIGNATURE_INVALID). Replaces the
   * issuer's current CRL only if newer (higher cRLNumber, else later thisUpdate).
   * Resolves true when installed, false when an equal or newer CRL is already in place.
   * Rejects with the same AppError codes as load(), details {file: source}.
   */
  async addFetched(crl: ParsedCrl, issuer: crypto.X509Certificate, source = 'fetched', now: Date = new Date()): Promise<boolean> {
    try {
      const ca = this.trusted.find(t => t.fingerprint256 === issuer.fingerprint256);
      if (!ca) throw new AppError('CRL_SIGNATURE_INVALID', 'the CRL issuer is not a configured CA');
      const cas = await verifyAgainst(crl, [ca]);
      checkDates(crl, now);
      return this.install(crl, cas, source);
    } catch (e) {
      throw withFile(e, source, 'CRL_INVALID');
    }
  }
}

/** The scope test's inputs from the certificate DER (an unreadable certificate is in no scope's DP). */
function scopeInfoOf(leaf: crypto.X509Certificate | CertificateRef): ScopeInfo {
  try {
    const parsed = leaf instanceof crypto.X509Certificate ? leaf : leaf.x509();
    const f = parseCertificateFields(parsed.raw, 'AUTH_CERT_MALFORMED');
    return {isCa: f.isCa, crlDistributionPoints: f.crlDistributionPoints};
  } catch {
    return {isCa: false, crlDistributionPoints: []};
  }
}

function issuedBy(leaf: crypto.X509Certificate, ca: crypto.X509Certificate): boolean {
  try {
    return leaf.checkIssued(ca) && leaf.verify(ca.publicKey);
  } catch {
    return false;
  }
}

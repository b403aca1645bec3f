/**
 * Which revocation source covers each CA of the trust bundle (issue 15): the certificates a CA
 * issues are judged by its CRL (TLS_CRL_FILES, or fetched from their distribution point with
 * MTLS_CRL_FETCH=true) or by OCSP (MTLS_REVOCATION containing ocsp covers every CA), unless the
 * operator exempts the CA by fingerprint (MTLS_REVOCATION_EXEMPT) or states MTLS_REVOCATION=none.
 *
 * Pure: the start-up code logs the answer (one line per CA) and, in production, refuses to start
 * (CONFIG_MISSING) while any CA has no source and no exemption.
 */
import type {X509Certificate} from 'node:crypto';
import type {MtlsConfig} from '../../config/config';
import {AppError} from '../../errors';

export type CoverageSource = 'crl' | 'crl-fetch' | 'ocsp' | 'exempt' | 'none-stated' | 'none';

export interface CaCoverage {
  readonly subject: string;
  readonly fingerprint256: string;
  /** crl / crl-fetch / ocsp: a source; exempt: MTLS_REVOCATION_EXEMPT; none-stated: MTLS_REVOCATION=none; none: uncovered. */
  readonly source: CoverageSource;
}

export function revocationCoverage(
  cas: readonly X509Certificate[],
  crlIssuerFingerprints: ReadonlySet<string>,
  mtls: Pick<MtlsConfig, 'revocation' | 'crlFetch' | 'revocationExempt'>,
): CaCoverage[] {
  const exempt = new Set(mtls.revocationExempt);
  const seen = new Set<string>();
  const out: CaCoverage[] = [];
  for (const ca of cas) {
    if (seen.has(ca.fingerprint256)) continue;
    seen.add(ca.fingerprint256);
    let source: CoverageSource;
    if (mtls.revocation.length === 0) source = 'none-stated';
    else if (mtls.revocation.includes('crl') && crlIssuerFingerprints.has(ca.fingerprint256)) source = 'crl';
    else if (mtls.revocation.includes('ocsp')) source = 'ocsp';
    else if (mtls.revocation.includes('crl') && mtls.crlFetch) source = 'crl-fetch';
    else if (exempt.has(ca.fingerprint256)) source = 'exempt';
    else source = 'none';
    out.push({subject: ca.subject.replace(/\n/g, ', '), fingerprint256: ca.fingerprint256, source});
  }
  return out;
}

/** Production: every CA needs a source or an explicit exemption. Throws AppError CONFIG_MISSING naming the first uncovered CA. */
export function requireRevocationCoverage(coverage: readonly CaCoverage[]): void {
  const missing = coverage.filter(c => c.source === 'none');
  if (missing.length === 0) return;
  throw new AppError(
    'CONFIG_MISSING',
    'a CA of TLS_CA_FILE has no revocation source: load its CRL (TLS_CRL_FILES), set MTLS_CRL_FETCH=true or MTLS_REVOCATION=ocsp, or exempt it by fingerprint (MTLS_REVOCATION_EXEMPT)',
    {
      variable: 'MTLS_REVOCATION_EXEMPT',
      subject: missing[0].subject.slice(0, 200),
      fingerprint256: missing[0].fingerprint256,
      uncovered: missing.length,
    },
  );
}

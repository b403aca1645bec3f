/**
 * The application-layer checks on a parsed client certificate, each a small pure function that
 * answers `{ok: true}` or `{ok: false, code}` with a code from src/errors.ts. evaluateCertificate()
 * runs them in the order of issue 9 (after the chain check, before revocation):
 *   validity -> extendedKeyUsage -> basicConstraints -> keyUsage -> keyStrength -> identity
 *
 * Pure module: no LoopBack imports, no I/O, no clock (the caller passes `now`).
 */
import type {ErrorCode} from '../errors';
import type {BasicConstraintsInfo, KeyUsageName, ParsedClientCertificate, PublicKeyDescription} from '../x509/certificate';
import {OID} from '../x509/certificate';
import {CertificateIdentity, IdentityRule, matchIdentity} from '../identity/identity-rules';

export type CheckResult = {readonly ok: true; readonly detail?: string} | {readonly ok: false; readonly code: ErrorCode; readonly detail?: string};

export const OK: CheckResult = Object.freeze({ok: true});

function fail(code: ErrorCode, detail?: string): CheckResult {
  return detail === undefined ? {ok: false, code} : {ok: false, code, detail};
}

/** notBefore/notAfter against `now`, widened by `skewSec` on both sides (bounds inclusive, RFC 5280 §4.1.2.5). */
export function checkValidity(v: {readonly notBefore: Date; readonly notAfter: Date}, now: Date, skewSec = 0): CheckResult {
  const t = now.getTime();
  const skew = Math.max(0, skewSec) * 1000;
  if (!Number.isFinite(t) || !Number.isFinite(v.notBefore.getTime()) || !Number.isFinite(v.notAfter.getTime())) {
    return fail('AUTH_CERT_MALFORMED', 'invalid date');
  }
  if (t + skew < v.notBefore.getTime()) return fail('AUTH_CERT_NOT_YET_VALID');
  if (t - skew > v.notAfter.getTime()) return fail('AUTH_CERT_EXPIRED');
  return OK;
}

/**
 * EKU must be present and list id-kp-clientAuth explicitly. A certificate without EKU is refused
 * (Node/OpenSSL accept it), and anyExtendedKeyUsage does not stand in for clientAuth.
 */
export function checkExtendedKeyUsage(eku: readonly string[] | null): CheckResult {
  if (eku === null) return fail('AUTH_EKU_NOT_CLIENT_AUTH', 'no extendedKeyUsage');
  if (!eku.includes(OID.kpClientAuth)) return fail('AUTH_EKU_NOT_CLIENT_AUTH', 'clientAuth not listed');
  return OK;
}

/** A leaf with basicConstraints CA:TRUE is refused. */
export function checkNotCa(bc: BasicConstraintsInfo | null): CheckResult {
  return bc !== null && bc.ca ? fail('AUTH_CERT_IS_CA') : OK;
}

/** keyUsage, when present, must assert digitalSignature (the TLS 1.3 CertificateVerify). */
export function checkKeyUsage(ku: readonly KeyUsageName[] | null): CheckResult {
  if (ku === null) return OK;
  return ku.includes('digitalSignature') ? OK : fail('AUTH_KEY_USAGE_INVALID');
}

export const MIN_RSA_BITS = 2048;
export const ALLOWED_EC_CURVES: readonly string[] = ['prime256v1', 'secp384r1'];

/** RSA (PKCS#1 or PSS key) >= 2048 bits, EC P-256/P-384, Ed25519; anything else is refused. */
export function checkKeyStrength(key: PublicKeyDescription): CheckResult {
  switch (key.algorithm) {
    case 'rsa':
    case 'rsa-pss':
      return key.bits !== undefined && key.bits >= MIN_RSA_BITS ? OK : fail('AUTH_KEY_WEAK', `${key.algorithm}-${key.bits ?? '?'}`);
    case 'ec':
      return key.curve !== undefined && ALLOWED_EC_CURVES.includes(key.curve) ? OK : fail('AUTH_KEY_WEAK', `ec-${key.curve ?? '?'}`);
    case 'ed25519':
      return OK;
    default:
      return fail('AUTH_KEY_WEAK', key.algorithm);
  }
}

/**
 * Identity against MTLS_ALLOWED_SUBJECTS. `rules === null` means no allow-list is configured
 * (development only): any identity passes. An empty list matches nothing. CN is consulted only
 * by cn: rules; names with control characters never match (identity-rules.ts).
 */
export function checkIdentity(id: CertificateIdentity, rules: readonly IdentityRule[] | null): CheckResult & {readonly rule?: IdentityRule} {
  if (rules === null) return {ok: true, detail: 'no allow-list configured'};
  const rule = matchIdentity(rules, id);
  return rule ? {ok: true, rule, detail: rule.text} : fail('AUTH_IDENTITY_NOT_ALLOWED');
}

/** The facts the pure checks read (a ParsedClientCertificate satisfies it). */
export type CertificateFacts = Pick<
  ParsedClientCertificate,
  'notBefore' | 'notAfter' | 'extendedKeyUsage' | 'basicConstraints' | 'keyUsage' | 'publicKey' | 'identity'
>;

export interface PolicyContext {
  readonly now: Date;
  readonly clockSkewSec: number;
  readonly allowedSubjects: readonly IdentityRule[] | null;
}

export const CERTIFICATE_CHECKS = ['validity', 'extendedKeyUsage', 'basicConstraints', 'keyUsage', 'keyStrength', 'identity'] as const;
export type CertificateCheckName = (typeof CERTIFICATE_CHECKS)[number];

export interface CheckOutcome {
  readonly check: string;
  readonly ok: boolean;
  readonly code?: ErrorCode;
  readonly detail?: string;
}

export type EvaluationResult =
  | {readonly ok: true; readonly matchedRule?: IdentityRule; readonly checks: readonly CheckOutcome[]}
  | {
      readonly ok: false;
      readonly code: ErrorCode;
      readonly check: CertificateCheckName;
      readonly detail?: string;
      readonly checks: readonly CheckOutcome[];
    };

function runCheck(name: CertificateCheckName, f: CertificateFacts, ctx: PolicyContext): CheckResult & {rule?: IdentityRule} {
  switch (name) {
    case 'validity':
      return checkValidity(f, ctx.now, ctx.clockSkewSec);
    case 'extendedKeyUsage':
      return checkExtendedKeyUsage(f.extendedKeyUsage);
    case 'basicConstraints':
      return checkNotCa(f.basicConstraints);
    case 'keyUsage':
      return checkKeyUsage(f.keyUsage);
    case 'keyStrength':
      return checkKeyStrength(f.publicKey);
    case 'identity':
      return checkIdentity(f.identity, ctx.allowedSubjects);
  }
}

/**
 * Run the checks in order. The verdict is the first failure; with `all: true` the remaining
 * checks are still run and listed (verify-cert --explain), without changing the verdict.
 */
export function evaluateCertificate(f: CertificateFacts, ctx: PolicyContext, opts: {all?: boolean} = {}): EvaluationResult {
  const checks: CheckOutcome[] = [];
  let first: {code: ErrorCode; check: CertificateCheckName; detail?: string} | undefined;
  let matchedRule: IdentityRule | undefined;
  for (const name of CERTIFICATE_CHECKS) {
    const r = runCheck(name, f, ctx);
    if (r.ok) {
      checks.push(r.detail === undefined ? {check: name, ok: true} : {check: name, ok: true, detail: r.detail});
      if (r.rule) matchedRule = r.rule;
    } else {
      checks.push(r.detail === undefined ? {check: name, ok: false, code: r.code} : {check: name, ok: false, code: r.code, detail: r.detail});
      if (!first) first = r.detail === undefined ? {code: r.code, check: name} : {code: r.code, check: name, detail: r.detail};
      if (!opts.all) break;
    }
  }
  if (first) return {ok: false, ...first, checks};
  return matchedRule ? {ok: true, matchedRule, checks} : {ok: true, checks};
}

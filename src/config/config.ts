/**
 * Configuration from environment variables: validated once, deeply frozen, never re-read.
 * A bad value throws AppError CONFIG_INVALID / CONFIG_MISSING naming the variable; main()
 * turns that into a coded exit before anything listens.
 *
 * Pure module: reads only the `env` object it is given.
 */
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import {AppError} from '../errors';
import {IdentityRule, IdentityRuleError, parseIdentityRules} from '../identity/identity-rules';
import {parseRolesEnv, PolicyDocument, PolicyError} from '../identity/role-policy';

export const CIPHER_PROFILES = {
  /** AES-256-GCM and ChaCha20-Poly1305 only (no 128-bit suite). */
  default: 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256',
  /**
   * NIST SP 800-52r2 approves only AES-GCM/CCM suites (no ChaCha20), and RFC 8446 §9.1 makes
   * TLS_AES_128_GCM_SHA256 mandatory-to-implement, so FIPS-minded peers need it.
   */
  fips: 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256',
  /**
   * All three RFC 8446 suites (Mozilla "modern"): for clients that offer only the
   * mandatory-to-implement TLS_AES_128_GCM_SHA256. The client chooses among them.
   */
  modern: 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256',
} as const;
export type CipherProfile = keyof typeof CIPHER_PROFILES;

/** ECDHE groups offered: X25519, P-256, P-384 (no P-521/FFDHE, no post-quantum hybrids yet). */
export const ECDH_CURVES = 'X25519:P-256:P-384';

export type RunEnv = 'production' | 'development' | 'test';
export type EnforceMode = 'enforce' | 'warn' | 'off';
export type RevocationSource = 'crl' | 'ocsp';

export interface TlsConfig {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  readonly crlFiles: readonly string[];
  readonly cipherProfile: CipherProfile;
  readonly ciphers: string;
  readonly ecdhCurve: string;
  /** Watch the TLS files and reload on change (SIGHUP always reloads). */
  readonly watch: boolean;
  /** True when no TLS files were configured and the dev PKI supplies them. */
  readonly devPki: boolean;
  readonly devPkiDir: string;
  /** Session-ticket keys are replaced this often (and on every reload): bounds a ticket's life. */
  readonly ticketKeyRotationS: number;
}

/** Names a request may address (Host / absolute-form target / SNI), lower case. */
export interface ServerNamesConfig {
  /** null = the DNS and IP SANs of the server certificate in force (follows reloads). */
  readonly names: readonly string[] | null;
}

export interface ProxyConfig {
  /** CIDRs of TCP peers whose forwarding headers (Forwarded, X-Forwarded-*, ...) are read. */
  readonly trustedProxies: readonly string[];
}

export interface MtlsConfig {
  /** null = no allow-list configured (development only): any certificate from a trusted CA. */
  readonly allowedSubjects: readonly IdentityRule[] | null;
  readonly revocation: readonly RevocationSource[];
  readonly crlFetch: boolean;
  readonly ocspUrl: string | undefined;
  readonly ocspTimeoutMs: number;
  readonly ocspCacheSize: number;
  readonly revocationFail: 'closed' | 'open';
  /** MTLS_REVOCATION_EXEMPT: SHA-256 fingerprints (Node's colon form) of bundle CAs explicitly run without a revocation source. */
  readonly revocationExempt: readonly string[];
  readonly maxChainDepth: number;
  readonly clockSkewSec: number;
}

export interface HttpLimitsConfig {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxHeaderSize: number;
  readonly maxBodyBytes: number;
  readonly maxRequestsPerSocket: number;
  readonly shutdownTimeoutMs: number;
  /** Header fields per request; more is refused with 431 (Node would silently drop the excess). */
  readonly maxHeadersCount: number;
  /** Time for a client to complete the TLS handshake (Node's default is 120 s). */
  readonly handshakeTimeoutMs: number;
}

export interface OutboundConfig {
  /** null = any public host; otherwise exact host names (lower case) that may be fetched. */
  readonly allowedHosts: readonly string[] | null;
  readonly allowHttp: boolean;
  readonly allowedPorts: readonly number[];
  /** Explicit operator exceptions to the address deny-list (CIDR), e.g. an internal OCSP responder. */
  readonly allowedCidrs: readonly string[];
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
}

export interface AuthzConfig {
  /** MTLS_POLICY_FILE (absolute): the role policy, YAML or JSON (src/identity/role-policy.ts). */
  readonly policyFile: string | null;
  /** MTLS_ROLES (env form), validated; merged over the built-in roles. Never set together with policyFile. */
  readonly roles: PolicyDocument | null;
  /** CORS_ALLOWED_ORIGINS: exact origins; empty = no CORS headers at all. */
  readonly corsAllowedOrigins: readonly string[];
}

export interface AppConfig {
  readonly env: RunEnv;
  readonly host: string;
  readonly port: number;
  readonly logLevel: string;
  readonly tls: TlsConfig;
  readonly mtls: MtlsConfig;
  readonly authz: AuthzConfig;
  readonly http: HttpLimitsConfig;
  readonly outbound: OutboundConfig;
  readonly serverNames: ServerNamesConfig;
  readonly proxy: ProxyConfig;
  readonly auditMode: EnforceMode;
  readonly postureMode: EnforceMode;
  /** Print the start-up screen on stdout (URL + curl line; in development on a TTY a posture summary). */
  readonly printBanner: boolean;
  /** Boot the demo controller (/search, /echo, ...: targets for the escape suite); off in production by default. */
  readonly demoRoutes: boolean;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Every variable the service reads (documented in the README; a test keeps them in step). */
export const CONFIG_VARIABLES = [
  'NODE_ENV',
  'HOST',
  'PORT',
  'LOG_LEVEL',
  'TLS_CERT_FILE',
  'TLS_KEY_FILE',
  'TLS_CA_FILE',
  'TLS_CRL_FILES',
  'TLS_CIPHER_PROFILE',
  'TLS_WATCH',
  'DEV_PKI_DIR',
  'MTLS_ALLOWED_SUBJECTS',
  'MTLS_REVOCATION',
  'MTLS_CRL_FETCH',
  'MTLS_OCSP_URL',
  'MTLS_OCSP_TIMEOUT_MS',
  'MTLS_OCSP_CACHE_SIZE',
  'MTLS_REVOCATION_FAIL',
  'MTLS_MAX_CHAIN_DEPTH',
  'MTLS_CLOCK_SKEW_SEC',
  'MTLS_REVOCATION_EXEMPT',
  'HTTP_HEADERS_TIMEOUT_MS',
  'HTTP_REQUEST_TIMEOUT_MS',
  'HTTP_KEEPALIVE_TIMEOUT_MS',
  'HTTP_MAX_HEADER_SIZE',
  'HTTP_MAX_BODY_BYTES',
  'HTTP_MAX_REQUESTS_PER_SOCKET',
  'SHUTDOWN_TIMEOUT_MS',
  'HTTP_MAX_HEADERS_COUNT',
  'TLS_HANDSHAKE_TIMEOUT_MS',
  'OUTBOUND_ALLOWED_HOSTS',
  'OUTBOUND_ALLOW_HTTP',
  'OUTBOUND_ALLOWED_PORTS',
  'OUTBOUND_ALLOWED_CIDRS',
  'OUTBOUND_TIMEOUT_MS',
  'OUTBOUND_MAX_RESPONSE_BYTES',
  'AUDIT_MODE',
  'POSTURE_MODE',
  'POSTURE_ACCEPT_UNPROVEN',
  'PRINT_BANNER',
  'DEMO_ROUTES',
  'MTLS_POLICY_FILE',
  'MTLS_ROLES',
  'CORS_ALLOWED_ORIGINS',
  'TLS_TICKET_KEY_ROTATION_S',
  'SERVER_NAMES',
  'TRUSTED_PROXIES',
] as const;

export const DEV_ALLOWED_SUBJECTS = 'uri:spiffe://hardened-mtls.test/client/*';

/** A CIDR written out in full (`10.0.0.0/8`, `fd00::/8`): no short or octal IPv4 forms, a valid prefix length. */
export function isCidrText(c: string): boolean {
  return /^[0-9a-f.:]+\/\d{1,3}$/i.test(c) && ipaddr.isValidCIDR(c);
}

/** A SERVER_NAMES entry: a host name, `*.` + host name, or an IPv4/IPv6 literal (no brackets). */
export function isServerName(n: string): boolean {
  if (IPV4.test(n)) return true;
  if (n.includes(':')) return ipaddr.IPv6.isValid(n);
  return HOSTNAME.test(n.startsWith('*.') ? n.slice(2) : n);
}

function invalid(name: string, why: string): AppError {
  return new AppError('CONFIG_INVALID', `${name}: ${why}`, {variable: name});
}

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  if (v === undefined) return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const v = str(env, name);
  if (v === undefined) return def;
  if (!/^\d+$/.test(v)) throw invalid(name, 'must be a whole number');
  const n = Number(v);
  if (n < min || n > max) throw invalid(name, `must be between ${min} and ${max}`);
  return n;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const v = str(env, name);
  if (v === undefined) return def;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw invalid(name, 'must be true or false');
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], def: T): T {
  const v = str(env, name);
  if (v === undefined) return def;
  if (!(allowed as readonly string[]).includes(v)) throw invalid(name, `must be one of ${allowed.join(', ')}`);
  return v as T;
}

function list(env: Env, name: string): string[] {
  const v = str(env, name);
  if (v === undefined) return [];
  return v
    .split(',')
    .map(s => s.trim())
    .filter(s => s !== '');
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}

export interface ParseOptions {
  /** Base for relative paths (default process.cwd()). */
  cwd?: string;
}

export function parseConfig(env: Env, opts: ParseOptions = {}): AppConfig {
  const cwd = opts.cwd ?? process.cwd();
  const nodeEnv = str(env, 'NODE_ENV');
  const runEnv: RunEnv = nodeEnv === 'production' ? 'production' : nodeEnv === 'test' ? 'test' : 'development';
  const production = runEnv === 'production';

  const host = str(env, 'HOST') ?? '127.0.0.1';
  if (!(IPV4.test(host) || host === '::' || host === '::1' || /^[0-9a-f:]+$/i.test(host) || HOSTNAME.test(host))) {
    throw invalid('HOST', 'must be an IP address or host name');
  }
  const port = int(env, 'PORT', 8443, 0, 65535);
  const logLevel = oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info');

  // --- TLS material --------------------------------------------------------------------
  const abs = (p: string) => path.resolve(cwd, p);
  const devPkiDir = abs(str(env, 'DEV_PKI_DIR') ?? 'certs/dev');
  const tlsNames = ['TLS_CERT_FILE', 'TLS_KEY_FILE', 'TLS_CA_FILE'] as const;
  const given = tlsNames.filter(n => str(env, n) !== undefined);
  let devPki = false;
  let certFile: string, keyFile: string, caFile: string;
  let crlFiles = list(env, 'TLS_CRL_FILES').map(abs);
  if (given.length === 0) {
    if (production)
      throw new AppError('CONFIG_MISSING', 'TLS_CERT_FILE, TLS_KEY_FILE and TLS_CA_FILE are required in production', {variable: 'TLS_CERT_FILE'});
    devPki = true;
    certFile = path.join(devPkiDir, 'server.crt');
    keyFile = path.join(devPkiDir, 'server.key');
    caFile = path.join(devPkiDir, 'ca-bundle.crt');
    if (crlFiles.length === 0) crlFiles = [path.join(devPkiDir, 'root-ca.crl'), path.join(devPkiDir, 'intermediate-ca.crl')];
  } else if (given.length < tlsNames.length) {
    const missing = tlsNames.find(n => str(env, n) === undefined)!;
    throw new AppError('CONFIG_MISSING', `${missing}: required when any TLS_*_FILE is set`, {variable: missing});
  } else {
    certFile = abs(str(env, 'TLS_CERT_FILE')!);
    keyFile = abs(str(env, 'TLS_KEY_FILE')!);
    caFile = abs(str(env, 'TLS_CA_FILE')!);
  }
  const cipherProfile = oneOf(env, 'TLS_CIPHER_PROFILE', ['default', 'fips', 'modern'] as const, 'default');

  // --- mTLS identity and revocation ----------------------------------------------------
  let allowedSubjects: IdentityRule[] | null = null;
  const subjects = str(env, 'MTLS_ALLOWED_SUBJECTS') ?? (devPki ? DEV_ALLOWED_SUBJECTS : undefined);
  if (subjects === undefined) {
    if (production) throw new AppError('CONFIG_MISSING', 'MTLS_ALLOWED_SUBJECTS: required in production', {variable: 'MTLS_ALLOWED_SUBJECTS'});
  } else {
    try {
      allowedSubjects = parseIdentityRules(subjects);
    } catch (e) {
      if (e instanceof IdentityRuleError) throw invalid('MTLS_ALLOWED_SUBJECTS', e.message);
      throw e;
    }
    if (allowedSubjects.length === 0) throw invalid('MTLS_ALLOWED_SUBJECTS', 'holds no rule');
  }

  const crlFetch = bool(env, 'MTLS_CRL_FETCH', false);
  let revocation: RevocationSource[];
  const revText = str(env, 'MTLS_REVOCATION');
  if (revText === undefined) {
    // Production: revocation is an explicit choice (a source, or MTLS_REVOCATION=none stated).
    if (production && crlFiles.length === 0 && !crlFetch) {
      throw new AppError('CONFIG_MISSING', 'MTLS_REVOCATION: required in production without TLS_CRL_FILES (crl, ocsp, crl,ocsp, or none stated)', {
        variable: 'MTLS_REVOCATION',
      });
    }
    revocation = crlFiles.length > 0 || crlFetch ? ['crl'] : [];
  } else if (revText === 'none') {
    revocation = [];
  } else {
    revocation = [];
    for (const s of revText.split(',').map(x => x.trim())) {
      if (s !== 'crl' && s !== 'ocsp') throw invalid('MTLS_REVOCATION', 'must be crl, ocsp, crl,ocsp or none');
      if (!revocation.includes(s)) revocation.push(s);
    }
  }
  if (revocation.includes('crl') && crlFiles.length === 0 && !crlFetch) {
    throw invalid('MTLS_REVOCATION', 'crl needs TLS_CRL_FILES or MTLS_CRL_FETCH=true');
  }
  const revocationExempt = list(env, 'MTLS_REVOCATION_EXEMPT').map(f => {
    const hex = f.replace(/:/g, '').toUpperCase();
    if (!/^[0-9A-F]{64}$/.test(hex)) throw invalid('MTLS_REVOCATION_EXEMPT', `"${f.slice(0, 100)}" is not a SHA-256 fingerprint`);
    return hex.match(/../g)!.join(':');
  });
  const ocspUrl = str(env, 'MTLS_OCSP_URL');
  if (ocspUrl !== undefined) {
    let u: URL;
    try {
      u = new URL(ocspUrl);
    } catch {
      throw invalid('MTLS_OCSP_URL', 'must be an http(s) URL');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid('MTLS_OCSP_URL', 'must be an http(s) URL');
    if (u.username || u.password) throw invalid('MTLS_OCSP_URL', 'must not carry userinfo');
  }

  // --- authorization and CORS -------------------------------------------------------------
  const policyFileText = str(env, 'MTLS_POLICY_FILE');
  const rolesText = str(env, 'MTLS_ROLES');
  if (policyFileText !== undefined && rolesText !== undefined) throw invalid('MTLS_ROLES', 'set either MTLS_POLICY_FILE or MTLS_ROLES, not both');
  let roles: PolicyDocument | null = null;
  if (rolesText !== undefined) {
    try {
      roles = parseRolesEnv(rolesText);
    } catch (e) {
      if (e instanceof PolicyError) throw invalid('MTLS_ROLES', e.message);
      throw e;
    }
  }
  const corsAllowedOrigins = list(env, 'CORS_ALLOWED_ORIGINS').map(o => {
    let u: URL | undefined;
    try {
      u = new URL(o);
    } catch {
      u = undefined;
    }
    // Exact origins only: never "*" (the service always authenticates, i.e. "credentials"), never "null".
    const hostOk = u !== undefined && (HOSTNAME.test(u.hostname) || IPV4.test(u.hostname) || /^\[[0-9a-f:.]+\]$/i.test(u.hostname));
    if (!u || !hostOk || (u.protocol !== 'https:' && u.protocol !== 'http:') || u.origin !== o) {
      throw invalid(
        'CORS_ALLOWED_ORIGINS',
        `"${o.replace(/[^\x20-\x7e]/g, '?').slice(0, 80)}" is not an exact origin (scheme://host[:port], no path, no "*")`,
      );
    }
    return o;
  });

  // --- outbound -------------------------------------------------------------------------
  const allowedHostsList = list(env, 'OUTBOUND_ALLOWED_HOSTS').map(h => h.toLowerCase());
  for (const h of allowedHostsList) if (!HOSTNAME.test(h)) throw invalid('OUTBOUND_ALLOWED_HOSTS', `"${h}" is not a host name`);
  const allowedPorts = list(env, 'OUTBOUND_ALLOWED_PORTS').map(p => {
    if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535) throw invalid('OUTBOUND_ALLOWED_PORTS', `"${p}" is not a port`);
    return Number(p);
  });
  const allowedCidrs = list(env, 'OUTBOUND_ALLOWED_CIDRS');
  for (const c of allowedCidrs) if (!isCidrText(c)) throw invalid('OUTBOUND_ALLOWED_CIDRS', `"${c}" is not a CIDR`);

  // --- Host / authority and forwarding headers --------------------------------------------
  const serverNames = list(env, 'SERVER_NAMES').map(n => n.toLowerCase());
  for (const n of serverNames) if (!isServerName(n)) throw invalid('SERVER_NAMES', `"${n}" is not a host name, *.host name or IP address`);
  const trustedProxies = list(env, 'TRUSTED_PROXIES').map(c =>
    IPV4.test(c) ? `${c}/32` : !c.includes('/') && ipaddr.IPv6.isValid(c) ? `${c}/128` : c,
  );
  for (const c of trustedProxies) if (!isCidrText(c)) throw invalid('TRUSTED_PROXIES', `"${c}" is not an IP address or CIDR`);

  // Node refuses to create a server whose headersTimeout exceeds its requestTimeout.
  const headersTimeoutMs = int(env, 'HTTP_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000);
  const requestTimeoutMs = int(env, 'HTTP_REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000);
  if (headersTimeoutMs > requestTimeoutMs) throw invalid('HTTP_HEADERS_TIMEOUT_MS', 'must not exceed HTTP_REQUEST_TIMEOUT_MS');

  const config: AppConfig = {
    env: runEnv,
    host,
    port,
    logLevel,
    tls: {
      certFile,
      keyFile,
      caFile,
      crlFiles,
      cipherProfile,
      ciphers: CIPHER_PROFILES[cipherProfile],
      ecdhCurve: ECDH_CURVES,
      watch: bool(env, 'TLS_WATCH', true),
      devPki,
      devPkiDir,
      ticketKeyRotationS: int(env, 'TLS_TICKET_KEY_ROTATION_S', 3600, 1, 86_400),
    },
    mtls: {
      allowedSubjects,
      revocation,
      crlFetch,
      ocspUrl,
      ocspTimeoutMs: int(env, 'MTLS_OCSP_TIMEOUT_MS', 2000, 50, 60000),
      ocspCacheSize: int(env, 'MTLS_OCSP_CACHE_SIZE', 10000, 1, 10_000_000),
      revocationFail: oneOf(env, 'MTLS_REVOCATION_FAIL', ['closed', 'open'] as const, 'closed'),
      revocationExempt,
      maxChainDepth: int(env, 'MTLS_MAX_CHAIN_DEPTH', 2, 0, 8),
      clockSkewSec: int(env, 'MTLS_CLOCK_SKEW_SEC', 0, 0, 3600),
    },
    authz: {
      policyFile: policyFileText !== undefined ? abs(policyFileText) : null,
      roles,
      corsAllowedOrigins,
    },
    http: {
      headersTimeoutMs,
      requestTimeoutMs,
      keepAliveTimeoutMs: int(env, 'HTTP_KEEPALIVE_TIMEOUT_MS', 5_000, 100, 600_000),
      maxHeaderSize: int(env, 'HTTP_MAX_HEADER_SIZE', 16_384, 1024, 1_048_576),
      maxBodyBytes: int(env, 'HTTP_MAX_BODY_BYTES', 1_048_576, 1024, 104_857_600),
      maxRequestsPerSocket: int(env, 'HTTP_MAX_REQUESTS_PER_SOCKET', 1000, 0, 10_000_000),
      shutdownTimeoutMs: int(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 100, 600_000),
      maxHeadersCount: int(env, 'HTTP_MAX_HEADERS_COUNT', 100, 8, 2000),
      handshakeTimeoutMs: int(env, 'TLS_HANDSHAKE_TIMEOUT_MS', 10_000, 100, 120_000),
    },
    outbound: {
      allowedHosts: allowedHostsList.length > 0 ? allowedHostsList : null,
      allowHttp: bool(env, 'OUTBOUND_ALLOW_HTTP', false),
      allowedPorts: allowedPorts.length > 0 ? allowedPorts : [443],
      allowedCidrs,
      timeoutMs: int(env, 'OUTBOUND_TIMEOUT_MS', 5000, 50, 120_000),
      maxResponseBytes: int(env, 'OUTBOUND_MAX_RESPONSE_BYTES', 1_048_576, 1024, 104_857_600),
    },
    serverNames: {names: serverNames.length > 0 ? serverNames : null},
    proxy: {trustedProxies},
    auditMode: oneOf(env, 'AUDIT_MODE', ['enforce', 'warn', 'off'] as const, production ? 'enforce' : 'warn'),
    postureMode: oneOf(env, 'POSTURE_MODE', ['enforce', 'warn', 'off'] as const, production ? 'enforce' : 'warn'),
    printBanner: bool(env, 'PRINT_BANNER', !production),
    demoRoutes: bool(env, 'DEMO_ROUTES', !production),
  };
  return deepFreeze(config);
}

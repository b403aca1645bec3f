/**
 * One error base class for the whole service. Every error that reaches a caller,
 * an audit line or a process exit carries a stable `code` from ERROR_CODES.
 * Tests assert codes, never messages. docs/errors.md documents every code
 * (a unit test keeps the two in step).
 *
 * Pure module: no LoopBack imports.
 */

export interface ErrorCodeSpec {
  /** HTTP status when the error answers a request. */
  status: number;
  /** Process exit code when the error stops start-up (sysexits.h EX_CONFIG = 78). */
  exit?: number;
  /** One-line documentation; repeated in docs/errors.md. */
  doc: string;
}

export const ERROR_CODES = {
  // --- configuration and start-up ------------------------------------------------
  CONFIG_INVALID: {status: 500, exit: 78, doc: 'An environment variable has a value that fails validation; the message names the variable.'},
  CONFIG_MISSING: {status: 500, exit: 78, doc: 'A variable required in this mode (e.g. production) is not set.'},
  TLS_MATERIAL_UNREADABLE: {status: 500, exit: 78, doc: 'A TLS certificate, key, CA or CRL file cannot be read or parsed.'},
  TLS_CERT_EXPIRED: {status: 500, exit: 78, doc: 'The server certificate is expired or not yet valid.'},
  TLS_KEY_MISMATCH: {status: 500, exit: 78, doc: 'The server private key does not match the server certificate.'},
  TLS_KEY_WEAK: {status: 500, exit: 78, doc: 'The server key is weaker than RSA-2048 / P-256.'},
  TLS_RELOAD_FAILED: {status: 500, doc: 'A hot reload found invalid material; the previous secure context stays in force.'},
  CRL_INVALID: {status: 500, exit: 78, doc: 'A CRL file is unparseable or uses an unsupported signature algorithm.'},
  CRL_SIGNATURE_INVALID: {status: 500, exit: 78, doc: 'A CRL is not signed by any configured CA, or its signature does not verify.'},
  CRL_ISSUER_NOT_CRLSIGN: {status: 500, exit: 78, doc: "The CRL issuer's keyUsage does not allow cRLSign."},
  CRL_EXPIRED: {status: 500, exit: 78, doc: 'A CRL is past its nextUpdate (or has a thisUpdate in the future).'},
  CRL_DELTA_UNSUPPORTED: {
    status: 500,
    exit: 78,
    doc: 'A CRL carries deltaCRLIndicator: delta CRLs are not supported (a delta is not a complete list); load the complete (base) CRL instead.',
  },
  CRL_INDIRECT_UNSUPPORTED: {
    status: 500,
    exit: 78,
    doc: "A CRL's issuingDistributionPoint says indirectCRL: CRLs listing other CAs' certificates are not supported; load each CA's own CRL.",
  },
  CRL_RELOAD_FAILED: {status: 500, doc: 'A CRL reload failed; the last good revocation state stays in force.'},
  POSTURE_NONCOMPLIANT: {
    status: 500,
    exit: 78,
    doc: 'POSTURE_MODE=enforce and the runtime posture self-check failed (root, capabilities, writable root, runtime socket, ...).',
  },
  OPENAPI_AUDIT_FAILED: {status: 500, exit: 78, doc: "AUDIT_MODE=enforce and the audit of the app's own OpenAPI spec found a high-severity issue."},
  OPENAPI_SPEC_REFUSED: {
    status: 400,
    exit: 2,
    doc: "An OpenAPI document (or a `$ref` of it, for callers that need it whole) was refused by the audit's resolver policy; details.reason says why: remote, outside-root, special-file, too-large, limit, external-disabled, not-found, unparseable, pointer.",
  },
  STARTUP_FAILED: {status: 500, exit: 70, doc: 'The service failed to start for another reason (e.g. the port is in use).'},
  RELAY_CONNECTION_LIMIT: {
    status: 503,
    doc: 'Log-only (relay.connection audit line of src/relay/tcp-relay.ts): a connection arrived while RELAY_MAX_CONNECTIONS were open (or during shutdown) and was closed at accept.',
  },
  RELAY_TARGET_UNREACHABLE: {
    status: 502,
    doc: "Log-only (relay.connection audit line): the relay could not connect to its fixed RELAY_TARGET (refused, unreachable, name not resolved or RELAY_CONNECT_TIMEOUT_MS); the client's connection was closed.",
  },

  // --- authentication (MtlsAuthenticator) ----------------------------------------
  AUTH_NO_CLIENT_CERT: {status: 401, doc: 'The request did not arrive on a TLS connection with a client certificate.'},
  AUTH_CERT_UNTRUSTED: {status: 401, doc: 'The TLS layer did not authorise the peer certificate.'},
  AUTH_CHAIN_INVALID: {status: 401, doc: 'The certificate chain does not verify to a configured trust anchor.'},
  AUTH_CHAIN_TOO_DEEP: {status: 401, doc: 'The chain has more intermediates than MTLS_MAX_CHAIN_DEPTH allows.'},
  AUTH_CERT_EXPIRED: {status: 401, doc: 'The client certificate notAfter is in the past.'},
  AUTH_CERT_NOT_YET_VALID: {status: 401, doc: 'The client certificate notBefore is in the future.'},
  AUTH_EKU_NOT_CLIENT_AUTH: {status: 403, doc: 'The certificate has no extendedKeyUsage, or it lacks id-kp-clientAuth.'},
  AUTH_CERT_IS_CA: {status: 403, doc: 'The leaf certificate has basicConstraints CA:TRUE.'},
  AUTH_KEY_USAGE_INVALID: {status: 403, doc: 'keyUsage is present and does not allow digitalSignature.'},
  AUTH_KEY_WEAK: {status: 403, doc: 'The client key is not RSA >= 2048, EC P-256/P-384 or Ed25519.'},
  AUTH_IDENTITY_NOT_ALLOWED: {status: 403, doc: 'No MTLS_ALLOWED_SUBJECTS rule matches the certificate identity.'},
  AUTH_CERT_REVOKED: {status: 401, doc: 'The certificate is revoked (CRL or OCSP).'},
  AUTH_REVOCATION_UNKNOWN: {
    status: 401,
    doc: 'Revocation status could not be established (stale CRL, OCSP down/slow/garbage/unknown) and MTLS_REVOCATION_FAIL=closed.',
  },
  AUTH_REVOCATION_SOFT_FAIL: {status: 200, doc: 'Log-only: revocation status unknown but MTLS_REVOCATION_FAIL=open accepted the request.'},
  AUTH_CERT_MALFORMED: {status: 401, doc: 'The client certificate could not be parsed.'},

  // --- authorization (src/authz, policy src/identity/role-policy.ts) -------------------
  AUTHZ_DENIED: {status: 403, doc: "The caller is authenticated, but none of the operation's allowed roles has a rule matching its identity."},
  AUTHZ_NO_POLICY: {
    status: 403,
    doc: 'The operation has no authorization metadata (no @authorize, @authorize.skip(), a handler route, a mounted router, static assets or an unknown path): refused in production; development and test let it through with a warn decision line.',
  },
  AUTHZ_ISSUER_MISMATCH: {
    status: 403,
    doc: "The identity matches a rule of an allowed role, but the rule is bound to a CA (issuers / trustDomains) that is not on the certificate's verified path.",
  },
  AUTHZ_POLICY_INVALID: {
    status: 500,
    exit: 78,
    doc: 'MTLS_POLICY_FILE cannot be read or fails validation (bad YAML/JSON, unknown key, empty rule, bad issuer, unreadable trust-domain bundle), or an @authorize decorator names a role the policy does not define.',
  },
  AUTHZ_POLICY_RELOAD_FAILED: {
    status: 500,
    doc: 'Log-only: a policy reload (SIGHUP or file change) found an invalid policy; the previous policy stays in force.',
  },
  CORS_ORIGIN_DENIED: {status: 403, doc: 'A CORS preflight came from an origin not in CORS_ALLOWED_ORIGINS (or CORS is off).'},

  // --- request guard --------------------------------------------------------------
  GUARD_MALFORMED_INPUT: {
    status: 400,
    doc: 'The request target, a header or the body could not be decoded safely (bad escapes, NUL, too deep, duplicate or prototype keys).',
  },
  GUARD_DENIED_REFERENCE: {
    status: 403,
    doc: 'The request refers to a host or container-management resource (runtime socket, Docker/Kubernetes API, /proc, /sys, metadata, ...).',
  },
  GUARD_BODY_TOO_LARGE: {status: 413, doc: 'The request body exceeds the configured limit.'},
  GUARD_UNSUPPORTED_MEDIA_TYPE: {status: 415, doc: 'The request body has a content type the guard cannot inspect.'},
  GUARD_HOST_NOT_ALLOWED: {
    status: 421,
    doc: "Misdirected Request: the Host header, the absolute-form target or a trusted proxy's forwarded host names none of SERVER_NAMES (default: the server certificate's DNS and IP SANs), or the TLS SNI names another host than Host.",
  },
  GUARD_FORWARDED_UNTRUSTED: {
    status: 400,
    doc: 'The request carries a forwarding header (Forwarded, X-Forwarded-*, X-Real-IP, X-Original-URL, X-Rewrite-URL, ...) and its TCP peer is not in TRUSTED_PROXIES: refused, not stripped.',
  },
  GUARD_FORWARDED_INVALID: {
    status: 400,
    doc: 'A forwarding header from a trusted proxy does not parse strictly (RFC 7239 Forwarded, address lists, proto, port, path).',
  },
  GUARD_FORWARDED_ADDRESS_DENIED: {
    status: 403,
    doc: 'A forwarding header from a trusted proxy names a loopback, link-local, private, metadata or otherwise non-public address.',
  },

  // --- outbound client (SSRF) -----------------------------------------------------
  SSRF_URL_INVALID: {status: 400, doc: 'The outbound URL cannot be parsed, has userinfo, or is otherwise malformed.'},
  SSRF_SCHEME_DENIED: {status: 403, doc: 'The outbound URL scheme is not allowed (https only by default).'},
  SSRF_PORT_DENIED: {status: 403, doc: 'The outbound URL uses a port that is not allowed.'},
  SSRF_HOST_DENIED: {status: 403, doc: 'The outbound host name is denied (.localhost, .internal, .local, metadata names, not in the allow-list).'},
  SSRF_ADDRESS_DENIED: {status: 403, doc: 'The outbound destination resolves to a denied address (loopback, private, link-local, metadata, ...).'},
  SSRF_DNS_FAILED: {status: 502, doc: 'The outbound host name could not be resolved.'},
  SSRF_REDIRECT_DENIED: {status: 502, doc: 'The upstream redirected and the redirect is not followed (or the hop failed validation).'},
  SSRF_UPSTREAM_TIMEOUT: {status: 504, doc: 'The upstream did not answer within the time bound.'},
  SSRF_RESPONSE_TOO_LARGE: {status: 502, doc: 'The upstream response exceeded the size bound.'},
  SSRF_UPSTREAM_ERROR: {status: 502, doc: 'The upstream connection failed.'},

  // --- generic HTTP -----------------------------------------------------------------
  NOT_FOUND: {status: 404, doc: 'No route matches the request.'},
  BAD_REQUEST: {status: 400, doc: 'The request is malformed (e.g. invalid JSON or failed parameter validation).'},
  PAYLOAD_TOO_LARGE: {status: 413, doc: 'The request body exceeds the configured limit.'},
  METHOD_NOT_ALLOWED: {status: 405, doc: 'The route does not accept this method.'},
  INTERNAL_ERROR: {status: 500, doc: 'An unexpected error; details are in the log only, never in the response.'},
  HTTP_HEADERS_TOO_LARGE: {
    status: 431,
    doc: 'The request header section exceeds HTTP_MAX_HEADER_SIZE bytes or HTTP_MAX_HEADERS_COUNT fields; the connection is closed.',
  },
  HTTP_REQUEST_TIMEOUT: {
    status: 408,
    doc: 'The request headers or body did not arrive within HTTP_HEADERS_TIMEOUT_MS / HTTP_REQUEST_TIMEOUT_MS; the connection is closed.',
  },
  CRL_ROLLBACK: {
    status: 500,
    doc: 'A reload would replace a CRL by an older one (lower cRLNumber, else earlier thisUpdate) or drop the CRL of a CA that is still trusted; the newer revocation state stays in force (a restart accepts any valid CRL).',
  },
  TLS_HANDSHAKE_FAILED: {
    status: 400,
    doc: 'Log-only (tls.connection audit line): a TLS handshake was refused or abandoned for a reason other than the client certificate (protocol version, cipher, timeout, reset, not TLS); no HTTP exchange took place.',
  },
} as const satisfies Record<string, ErrorCodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  /** Structured context for logs only; never sent to a caller. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: {cause?: unknown}) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
    this.statusCode = ERROR_CODES[code].status;
    this.details = Object.freeze({...details});
  }

  get exitCode(): number {
    return (ERROR_CODES[this.code] as ErrorCodeSpec).exit ?? 1;
  }

  /** The only shape a caller ever sees. */
  toJSON(): {error: {code: ErrorCode; message: string}} {
    return {error: {code: this.code, message: this.message}};
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

/** Map anything thrown to an AppError without leaking internals. */
export function toAppError(e: unknown, fallback: ErrorCode = 'INTERNAL_ERROR'): AppError {
  if (isAppError(e)) return e;
  return new AppError(fallback, ERROR_CODES[fallback].doc, {}, {cause: e});
}

/**
 * Pure TLS option building. The whole option set is built in one place and used both for
 * https.createServer() and for every setSecureContext() on reload (setSecureContext resets
 * any option it is not given, so a partial set would silently weaken the server).
 *
 * No LoopBack imports, no I/O.
 */
import type {SecureContextOptions} from 'node:tls';
import type {HttpLimitsConfig, TlsConfig} from '../config/config';

/** The validated bytes of the TLS material (see tls-material.ts). */
export interface TlsMaterialBytes {
  /** Server certificate chain, PEM (leaf first). */
  readonly certPem: Buffer;
  readonly keyPem: Buffer;
  /** PEM bundle of the trusted client CAs. */
  readonly caPem: Buffer;
}

export const TLS_VERSION = 'TLSv1.3' as const;

/**
 * OpenSSL security level 2: every key in the handshake and in the peer's chain must give at
 * least 112-bit security (RSA >= 2048, ECC >= 224) and no SHA-1 signatures, so an RSA-1024
 * client certificate is refused in the handshake, not only by the authenticator. OpenSSL takes
 * the level only through the cipher string, and only after at least one TLS 1.2 suite; that
 * TLS 1.2 part is inert because minVersion is TLSv1.3.
 */
export const OPENSSL_SECURITY_LEVEL = 2;

/** The OpenSSL cipher string for a profile's TLS 1.3 suites. */
export function opensslCipherString(tls13Suites: string): string {
  return `${tls13Suites}:ECDHE+AESGCM:@SECLEVEL=${OPENSSL_SECURITY_LEVEL}`;
}

/** Everything setSecureContext() needs: always the full set. */
export function buildSecureContextOptions(cfg: TlsConfig, m: TlsMaterialBytes): SecureContextOptions {
  return {
    cert: m.certPem,
    key: m.keyPem,
    ca: m.caPem,
    minVersion: TLS_VERSION,
    maxVersion: TLS_VERSION,
    ciphers: opensslCipherString(cfg.ciphers),
    ecdhCurve: cfg.ecdhCurve,
    // The client chooses among the profile's suites (all equally strong): a device without AES
    // instructions picks ChaCha20 (Mozilla "modern"); the profile still bounds the choice.
    honorCipherOrder: false,
    // Never hand CRLs to OpenSSL: it re-hashes the whole CRL on every handshake.
    // Revocation is enforced by the connection gate over our own serial index.
  };
}

/**
 * The options for https.createServer() (spread by @loopback/rest from the `rest` config):
 * the secure-context set plus the handshake policy and the HTTP parser limits.
 */
export function buildServerTlsOptions(cfg: TlsConfig, limits: HttpLimitsConfig, m: TlsMaterialBytes): Record<string, unknown> {
  return {
    ...buildSecureContextOptions(cfg, m),
    requestCert: true,
    // Not Node's rejectUnauthorized: it destroys the socket after the handshake and the client
    // only sees a reset (Node cannot choose the alert). OpenSSL still verifies the chain; the
    // connection gate (src/tls/connection-gate.ts) reads its verdict, refuses every client that
    // is not authorised before any HTTP parser sees its bytes, and tells it why in a coded answer
    // (docs/architecture.md, "Refused clients learn why").
    rejectUnauthorized: false,
    // Session tickets stay on (resumption is cheap), but ticket keys rotate every
    // TLS_TICKET_KEY_ROTATION_S and on every reload (tls-reloader.ts), and the connection gate
    // re-checks revocation on resumed sessions too.
    sessionTimeout: 300,
    // A TCP client that never completes the handshake is dropped after this bound (Node: 120 s).
    handshakeTimeout: limits.handshakeTimeoutMs,
    maxHeaderSize: limits.maxHeaderSize,
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node enforces headersTimeout/requestTimeout only when it sweeps its connection list, every
    // connectionsCheckingInterval ms (default 30 s): without this a slowloris client or a silent
    // connection would be held up to 30 s past its bound.
    connectionsCheckingInterval: connectionsCheckingIntervalMs(limits),
    // Strict parsing even if NODE_OPTIONS carries --insecure-http-parser (request smuggling).
    insecureHTTPParser: false,
    // An HTTP/1.1 request without Host is refused by the limits middleware with a coded answer
    // and the security headers (Node's own check answers a bare 400).
    requireHostHeader: false,
    // Bytes of a request body are bounded by the body parser / guard (HTTP_MAX_BODY_BYTES).
  };
}

/** How often Node checks headersTimeout/requestTimeout: a quarter of the shorter one, at most 1 s. */
export function connectionsCheckingIntervalMs(limits: Pick<HttpLimitsConfig, 'headersTimeoutMs' | 'requestTimeoutMs'>): number {
  return Math.max(25, Math.min(1000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4)));
}

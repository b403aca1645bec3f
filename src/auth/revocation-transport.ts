/**
 * The revocation transport: how the authenticator's OCSP requests and CRL downloads reach the
 * network. Both go through ONE dedicated SSRF-safe OutboundClient (src/outbound/outbound-client.ts)
 * whose policy is derived from the configuration here, never from a certificate:
 *
 *   scheme        http and https (OCSP and CRL distribution points are conventionally plain http;
 *                 their integrity comes from the signatures the OCSP client / CRL index verify)
 *   ports         80, 443, the port of MTLS_OCSP_URL when set, and OUTBOUND_ALLOWED_PORTS (the
 *                 operator's explicit port exceptions)
 *   hosts         any public name (no allow-list: responder/DP names come from CA-signed certificates)
 *   addresses     public unicast only; OUTBOUND_ALLOWED_CIDRS re-opens a denied range (the operator's
 *                 explicit exception for an internal responder / DP). Metadata endpoints stay denied.
 *   redirects     never followed; a 3xx is an error (SSRF_REDIRECT_DENIED)
 *   size          OCSP: the OcspClient's bound (64 KiB by default); CRL: CRL_FETCH_MAX_BYTES. An
 *                 oversized response is an error (SSRF_RESPONSE_TOO_LARGE), never truncated
 *   time          MTLS_OCSP_TIMEOUT_MS bounds every exchange (connect, headers and body)
 *
 * Every refusal is an AppError with an SSRF_* code (audited by the OutboundClient as
 * outbound.decision / outbound.connect with purpose 'ocsp' or 'crl'); the OCSP side maps it to an
 * OcspTransportError whose message starts with that code, so the authenticator's audit line says why.
 *
 * No LoopBack imports: the application binds the result (MtlsAuthBindings.REVOCATION_TRANSPORT and
 * MtlsAuthBindings.OCSP_TRANSPORT) and the auth component closes it on stop.
 */
import type {MtlsConfig, OutboundConfig} from '../config/config';
import {AppError, ErrorCode, isAppError} from '../errors';
import type {Logger} from '../logging/logger';
import {OutboundClient, OutboundDeps} from '../outbound/outbound-client';
import {OCSP_REQUEST_MEDIA_TYPE, OCSP_RESPONSE_MEDIA_TYPE, OcspTransport, OcspTransportError} from './ocsp-transport';

/**
 * Largest CRL accepted from a distribution point (64 MiB: about 1.5 million entries). Not
 * configurable: a CRL larger than this is refused (SSRF_RESPONSE_TOO_LARGE) and the status stays
 * unknown; operators with larger CRLs install them as files (TLS_CRL_FILES, up to 256 MiB).
 */
export const CRL_FETCH_MAX_BYTES = 64 * 1024 * 1024;

export interface RevocationTransport {
  /** POST an OCSP request (bound as MtlsAuthBindings.OCSP_TRANSPORT). */
  readonly ocsp: OcspTransport;
  /**
   * GET a CRL from an http:// distribution point. Resolves with the body of a 200 answer (at most
   * CRL_FETCH_MAX_BYTES); rejects with an AppError (SSRF_* codes; SSRF_SCHEME_DENIED for a
   * non-http URL, SSRF_UPSTREAM_ERROR with reason `http-status:N` for a non-200 answer).
   */
  fetchCrl(url: string): Promise<Buffer>;
  /** The policy in force (for logs and tests). */
  readonly policy: OutboundConfig;
  /** Close the dedicated client (idempotent); later calls fail closed. */
  close(): Promise<void>;
}

/** The outbound policy of the revocation transport (pure). */
/** What the revocation transport reads from the configuration (the service passes its AppConfig). */
export interface RevocationTransportConfig {
  readonly mtls: Pick<MtlsConfig, 'ocspUrl' | 'ocspTimeoutMs'>;
  readonly outbound: Pick<OutboundConfig, 'allowedPorts' | 'allowedCidrs'>;
}

export function revocationOutboundPolicy(config: RevocationTransportConfig): OutboundConfig {
  const ports = new Set<number>([80, 443]);
  if (config.mtls.ocspUrl !== undefined) {
    const u = new URL(config.mtls.ocspUrl);
    ports.add(u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : Number(u.port));
  }
  for (const p of config.outbound.allowedPorts) ports.add(p);
  return Object.freeze({
    allowedHosts: null,
    allowHttp: true,
    allowedPorts: Object.freeze([...ports].sort((a, b) => a - b)),
    allowedCidrs: Object.freeze([...config.outbound.allowedCidrs]),
    timeoutMs: config.mtls.ocspTimeoutMs,
    maxResponseBytes: CRL_FETCH_MAX_BYTES,
  });
}

const URL_REFUSALS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'SSRF_URL_INVALID',
  'SSRF_SCHEME_DENIED',
  'SSRF_PORT_DENIED',
  'SSRF_HOST_DENIED',
  'SSRF_ADDRESS_DENIED',
  'SSRF_REDIRECT_DENIED',
]);

/** `CODE reason` of an outbound failure, for log-only details. */
export function describeOutboundError(e: unknown): string {
  if (isAppError(e)) {
    const reason = e.details.reason;
    return typeof reason === 'string' && reason !== '' ? `${e.code} ${reason}` : e.code;
  }
  return (e as Error)?.name ?? 'Error';
}

function toOcspTransportError(e: unknown): OcspTransportError {
  const what = describeOutboundError(e);
  if (isAppError(e)) {
    if (e.code === 'SSRF_UPSTREAM_TIMEOUT') return new OcspTransportError('timeout', what, {cause: e});
    if (e.code === 'SSRF_RESPONSE_TOO_LARGE') return new OcspTransportError('response_too_large', what, {cause: e});
    if (URL_REFUSALS.has(e.code)) return new OcspTransportError('url_not_allowed', what, {cause: e});
  }
  return new OcspTransportError('transport_error', what, {cause: e});
}

/**
 * Build the revocation transport on one dedicated OutboundClient. `deps` are the OutboundClient's
 * test hooks (stub DNS, connect shim, https trust anchors); never set in production.
 */
export function createRevocationTransport(config: RevocationTransportConfig, logger: Logger, deps?: OutboundDeps): RevocationTransport {
  const policy = revocationOutboundPolicy(config);
  const client = new OutboundClient(policy, logger, deps);

  const ocsp: OcspTransport = async (url, body, {timeoutMs, maxBytes}) => {
    try {
      const res = await client.fetch(url, {
        method: 'POST',
        headers: {'content-type': OCSP_REQUEST_MEDIA_TYPE, accept: OCSP_RESPONSE_MEDIA_TYPE},
        body,
        maxBytes,
        timeoutMs,
        overflow: 'error',
        redirect: 'error',
        purpose: 'ocsp',
      });
      return {status: res.status, contentType: res.contentType ?? undefined, body: res.body};
    } catch (e) {
      throw toOcspTransportError(e);
    }
  };

  const fetchCrl = async (url: string): Promise<Buffer> => {
    // RFC 5280 §4.2.1.13: http (or ldap) distribution points; only http is fetched (no https:
    // the CRL is signed, and https would add a second trust decision on the same request path).
    if (typeof url !== 'string' || !/^http:\/\//i.test(url)) {
      throw new AppError('SSRF_SCHEME_DENIED', 'only http:// CRL distribution points are fetched', {reason: 'crl-dp-not-http'});
    }
    const res = await client.fetch(url, {
      method: 'GET',
      headers: {accept: 'application/pkix-crl, application/x-pkcs7-crl;q=0.5, */*;q=0.1'},
      maxBytes: CRL_FETCH_MAX_BYTES,
      timeoutMs: policy.timeoutMs,
      overflow: 'error',
      redirect: 'error',
      purpose: 'crl',
    });
    if (res.status !== 200) {
      throw new AppError('SSRF_UPSTREAM_ERROR', 'the CRL distribution point did not answer 200', {reason: `http-status:${res.status}`});
    }
    return res.body;
  };

  return {ocsp, fetchCrl, policy, close: () => client.close()};
}

/**
 * OCSP transport (RFC 6960 over HTTP POST): the injected function the client reaches the
 * network through, its errors, and the default bounded fetch. The service injects the SSRF-safe
 * outbound client instead (revocation-transport.ts).
 *
 * No LoopBack imports.
 */
import type {Agent} from 'undici';

export const OCSP_REQUEST_MEDIA_TYPE = 'application/ocsp-request';
export const OCSP_RESPONSE_MEDIA_TYPE = 'application/ocsp-response';

export interface OcspTransportResponse {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

export interface OcspTransportOptions {
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

/** POST `body` to `url`; resolve with the response or reject (OcspTransportError when the cause is known). */
export type OcspTransport = (url: string, body: Buffer, opts: OcspTransportOptions) => Promise<OcspTransportResponse>;

export class OcspTransportError extends Error {
  constructor(
    readonly reason: 'timeout' | 'response_too_large' | 'transport_error' | 'url_not_allowed',
    message: string,
    options?: {cause?: unknown},
  ) {
    super(message, options);
    this.name = 'OcspTransportError';
  }
}

let defaultAgent: Agent | undefined;

/**
 * undici `request` on a dedicated Agent: no redirects, AbortSignal.timeout over the whole
 * exchange (headers and body), body read with a hard byte bound (Content-Length checked first).
 */
export const defaultOcspTransport: OcspTransport = async (url, body, {timeoutMs, maxBytes}) => {
  let u: URL;
  try {
    u = new URL(url);
  } catch (e) {
    throw new OcspTransportError('url_not_allowed', 'responder URL does not parse', {cause: e});
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password) {
    throw new OcspTransportError('url_not_allowed', 'responder URL must be http(s) without userinfo');
  }
  // Loaded on first use: processes that inject a transport (or never query OCSP) do not pay for undici.
  const {Agent: UndiciAgent, request} = await import('undici');
  defaultAgent ??= new UndiciAgent({keepAliveTimeout: 1000, connections: 16, maxResponseSize: -1});
  const signal = AbortSignal.timeout(timeoutMs);
  const fail = (e: unknown): never => {
    if (e instanceof OcspTransportError) throw e;
    if (signal.aborted) throw new OcspTransportError('timeout', `no answer within ${timeoutMs} ms`, {cause: e});
    throw new OcspTransportError('transport_error', (e as Error)?.message ?? 'request failed', {cause: e});
  };
  let res: Awaited<ReturnType<typeof request>>;
  try {
    res = await request(u, {
      method: 'POST',
      body,
      headers: {'content-type': OCSP_REQUEST_MEDIA_TYPE, accept: OCSP_RESPONSE_MEDIA_TYPE},
      signal,
      dispatcher: defaultAgent,
    });
  } catch (e) {
    return fail(e);
  }
  const header = (name: string): string | undefined => {
    const v = res.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const declared = header('content-length');
  if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > maxBytes) {
    res.body.destroy();
    throw new OcspTransportError('response_too_large', `declared ${declared} bytes`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body) {
      const b = chunk as Buffer;
      total += b.length;
      if (total > maxBytes) {
        res.body.destroy();
        throw new OcspTransportError('response_too_large', `more than ${maxBytes} bytes`);
      }
      chunks.push(b);
    }
  } catch (e) {
    return fail(e);
  }
  return {status: res.statusCode, contentType: header('content-type'), body: Buffer.concat(chunks)};
};

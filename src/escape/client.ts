/**
 * The runner's HTTP/1.1-over-TLS client. The request target and headers are written byte for byte
 * on a raw `tls` socket (never fetch()/new URL(): WHATWG parsing would rewrite the payloads), and
 * the outcome distinguishes:
 *   - `http`: an HTTP response came back (status, JSON error code, excerpt);
 *   - `no-response`: the TCP connection was made, but no HTTP response byte came back (TLS alert,
 *     reset or EOF: in TLS 1.3 the server refuses a client certificate after the client's
 *     handshake has finished);
 *   - `client-error`: the runner itself could not make the attempt (its TLS context refused the
 *     scenario's key or cipher list, or the SERVER's certificate did not verify against --ca);
 *   - `unreachable`: no TCP connection at all.
 * Only `no-response` counts as a refusal: a local failure must never pass as "the server refused".
 */
import net from 'node:net';
import tls from 'node:tls';
import type {TlsClientOptions} from './catalog';

export interface Endpoint {
  host: string;
  port: number;
  /** SNI / certificate name (default: host when it is a name). */
  servername?: string;
  /** Trust anchors for the target's server certificate. */
  ca?: Buffer;
}

export interface ClientCredentials {
  /** PEM (leaf, optionally followed by its chain). */
  cert?: Buffer;
  key?: Buffer;
}

export interface RawRequest {
  method: string;
  target: string;
  /** Extra header lines [name, value]; values are written as UTF-8. */
  headers?: Array<[string, string]>;
  body?: Buffer;
  /** Host header value (default host[:port]). */
  host?: string;
}

export interface HttpObservation {
  kind: 'http';
  status: number;
  headers: Record<string, string>;
  /** error.code of a JSON `{error: {code}}` body. */
  code?: string;
  /** The first 2 KiB of the body (UTF-8). */
  body: string;
  /** 400 without a body or content type: Node's HTTP parser refused the request before the app saw it. */
  httpParser: boolean;
}

export interface NoResponseObservation {
  kind: 'no-response';
  /** True when the TLS handshake completed from the client's point of view. */
  secureConnected: boolean;
  /** Error code (e.g. ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED, ECONNRESET) or 'eof' / 'timeout'. */
  error: string;
}

export interface ClientErrorObservation {
  kind: 'client-error';
  error: string;
}

export interface UnreachableObservation {
  kind: 'unreachable';
  error: string;
}

export type WireObservation = HttpObservation | NoResponseObservation | ClientErrorObservation | UnreachableObservation;

/** Errors that come from the client's own configuration or from verifying the SERVER certificate. */
const LOCAL_ERROR =
  /NO_CIPHERS_AVAILABLE|NO_PROTOCOLS_AVAILABLE|NO_SUITABLE|KEY_TOO_SMALL|MD_TOO_WEAK|CA_KEY_TOO_SMALL|ERR_OSSL_|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|SELF_SIGNED_CERT|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME|CERT_SIGNATURE_FAILURE|CERT_UNTRUSTED|ERR_INVALID_ARG|ERR_SSL_WRONG_VERSION_NUMBER/;

function errCode(e: unknown): string {
  const err = e as NodeJS.ErrnoException & {reason?: string};
  return err?.code ?? err?.reason ?? (err as Error)?.message ?? 'error';
}

export function serializeRequest(req: RawRequest, defaultHost: string): Buffer {
  const lines = [`${req.method} ${req.target} HTTP/1.1`, `Host: ${req.host ?? defaultHost}`];
  for (const [k, v] of req.headers ?? []) lines.push(`${k}: ${v}`);
  if (req.body !== undefined || ['POST', 'PUT', 'PATCH'].includes(req.method)) lines.push(`Content-Length: ${req.body?.length ?? 0}`);
  lines.push('Connection: close', '', '');
  const head = Buffer.from(lines.join('\r\n'), 'utf8');
  return req.body ? Buffer.concat([head, req.body]) : head;
}

/** Parses a complete (or truncated-at-close) HTTP/1.1 response; undefined while incomplete. */
export function parseResponse(buf: Buffer, opts: {headRequest: boolean; final: boolean}): HttpObservation | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) {
    if (!opts.final || !buf.subarray(0, 5).equals(Buffer.from('HTTP/'))) return undefined;
  }
  const headText = buf.subarray(0, end < 0 ? buf.length : end).toString('latin1');
  const lines = headText.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = end < 0 ? Buffer.alloc(0) : buf.subarray(end + 4);
  if (!opts.headRequest && end >= 0) {
    if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
      const parts: Buffer[] = [];
      let rest = body;
      let complete = false;
      for (;;) {
        const le = rest.indexOf('\r\n');
        if (le < 0) break;
        const size = parseInt(rest.subarray(0, le).toString('latin1'), 16);
        if (!Number.isFinite(size) || rest.length < le + 2 + size + 2) break;
        if (size === 0) {
          complete = true;
          break;
        }
        parts.push(rest.subarray(le + 2, le + 2 + size));
        rest = rest.subarray(le + 2 + size + 2);
      }
      if (!complete && !opts.final) return undefined;
      body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      const len = Number(headers['content-length']);
      if (body.length < len && !opts.final) return undefined;
      body = body.subarray(0, len);
    } else if (!opts.final) {
      return undefined; // read until close
    }
  } else if (opts.headRequest) {
    body = Buffer.alloc(0);
  }
  const text = body.subarray(0, 2048).toString('utf8');
  let code: string | undefined;
  if ((headers['content-type'] ?? '').includes('json')) {
    try {
      const j = JSON.parse(body.toString('utf8')) as {error?: {code?: unknown}};
      if (typeof j?.error?.code === 'string') code = j.error.code;
    } catch {
      /* not JSON */
    }
  }
  const status = Number(m[1]);
  return {kind: 'http', status, headers, code, body: text, httpParser: status === 400 && !headers['content-type'] && body.length === 0};
}

export interface SendOptions {
  endpoint: Endpoint;
  credentials?: ClientCredentials;
  tlsOptions?: TlsClientOptions;
  request: RawRequest;
  timeoutMs?: number;
}

/** One request on a fresh TLS connection (Connection: close). */
export function sendOverTls(o: SendOptions): Promise<WireObservation> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  return new Promise(resolve => {
    let socket: tls.TLSSocket;
    const servername = o.endpoint.servername ?? (net.isIP(o.endpoint.host) ? undefined : o.endpoint.host);
    try {
      socket = tls.connect({
        host: o.endpoint.host,
        port: o.endpoint.port,
        servername,
        ca: o.endpoint.ca,
        cert: o.credentials?.cert,
        key: o.credentials?.key,
        minVersion: o.tlsOptions?.minVersion ?? 'TLSv1.2',
        maxVersion: o.tlsOptions?.maxVersion ?? 'TLSv1.3',
        ciphers: o.tlsOptions?.ciphers,
        ALPNProtocols: ['http/1.1'],
        rejectUnauthorized: true,
      });
    } catch (e) {
      resolve({kind: 'client-error', error: errCode(e)});
      return;
    }
    let tcpConnected = false;
    let secureConnected = false;
    let error: string | undefined;
    let chunks: Buffer[] = [];
    let done = false;
    const head = o.request.method === 'HEAD';
    const finish = (r: WireObservation) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const settle = (final: boolean, why: string) => {
      const buf = Buffer.concat(chunks);
      const parsed = buf.length > 0 ? parseResponse(buf, {headRequest: head, final}) : undefined;
      if (parsed) return finish(parsed);
      if (!final) return;
      if (buf.length > 0) return finish({kind: 'client-error', error: `unparseable response bytes (${buf.length})`});
      if (error && LOCAL_ERROR.test(error)) return finish({kind: 'client-error', error});
      if (!tcpConnected) return finish({kind: 'unreachable', error: error ?? why});
      finish({kind: 'no-response', secureConnected, error: error ?? why});
    };
    const timer = setTimeout(() => settle(true, 'timeout'), timeoutMs);
    socket.once('connect', () => (tcpConnected = true));
    socket.once('secureConnect', () => {
      tcpConnected = true;
      secureConnected = true;
      socket.write(
        serializeRequest(
          o.request,
          net.isIPv6(o.endpoint.host) ? `[${o.endpoint.host}]:${o.endpoint.port}` : `${o.endpoint.host}:${o.endpoint.port}`,
        ),
      );
    });
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      if (chunks.length > 64) chunks = [Buffer.concat(chunks)];
      settle(false, '');
    });
    socket.on('error', e => {
      error ??= errCode(e);
    });
    socket.on('close', () => settle(true, 'eof'));
  });
}

/** A plain-TCP request to a TLS port (TL-023): the result is `http` only if the reply parses as HTTP. */
export function sendPlain(endpoint: Endpoint, request: RawRequest, timeoutMs = 10_000): Promise<WireObservation> {
  return new Promise(resolve => {
    const socket = net.connect({host: endpoint.host, port: endpoint.port});
    let tcpConnected = false;
    let error: string | undefined;
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (why: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const buf = Buffer.concat(chunks);
      const parsed = buf.length > 0 ? parseResponse(buf, {headRequest: false, final: true}) : undefined;
      if (parsed) return resolve(parsed);
      if (!tcpConnected) return resolve({kind: 'unreachable', error: error ?? why});
      // Bytes that are not HTTP (a TLS alert record) are "no HTTP response".
      resolve({kind: 'no-response', secureConnected: false, error: error ?? (buf.length > 0 ? `non-HTTP bytes (${buf.length})` : why)});
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.once('connect', () => {
      tcpConnected = true;
      socket.write(serializeRequest(request, `${endpoint.host}:${endpoint.port}`));
    });
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', e => (error ??= errCode(e)));
    socket.on('close', () => finish('eof'));
  });
}

/**
 * SSRF-safe outbound HTTP client: an undici Agent whose `connect` hook is the security boundary.
 *
 * For every new connection the connector (not the caller) resolves the host, checks EVERY
 * resolved address with ip-policy.ts, and then connects to exactly the address it checked — the
 * socket is opened to an IP literal, so nothing re-resolves behind our back (DNS-rebinding
 * pinning). After connecting, the socket's remote address is compared with the checked address.
 * TLS keeps the original host name for SNI and certificate identity (a per-host
 * `checkServerIdentity` makes that hold for IP-literal hosts too).
 *
 * Request flow: checkOutboundUrl (static: scheme, userinfo, host names, literal addresses, ports)
 * -> Agent.request -> connector (resolve, check all, pin) -> bounded read.
 *
 * Redirects are NOT followed: a 3xx is returned as it is (status and Location), and the caller
 * decides; with `redirect: 'error'` a 3xx becomes SSRF_REDIRECT_DENIED. Rationale: following would
 * need every hop re-validated, and no caller of this service (demo fetch, CRL and OCSP fetching)
 * needs redirects; a CRL distribution point that redirects is an operator problem to fix.
 *
 * Bounds: one deadline (OUTBOUND_TIMEOUT_MS) covers connect, headers and body; the body is read
 * up to OUTBOUND_MAX_RESPONSE_BYTES (error by default, or truncated on request).
 * Every decision (URL verdict, connect verdict per address, outcome) is one audit() line that
 * carries scheme, host, port, address and purpose — never the path or query (they may hold tokens).
 * Errors are AppError SSRF_* codes.
 *
 * Callers: the demo POST /fetch route and the authenticator's CRL/OCSP fetching (which may give the
 * operator's OUTBOUND_ALLOWED_CIDRS exception for an internal responder; POST with a body is
 * supported for OCSP).
 */
import dns from 'node:dns';
import net from 'node:net';
import tls from 'node:tls';
import ipaddr from 'ipaddr.js';
import {Agent, buildConnector} from 'undici';
import type {OutboundConfig} from '../config/config';
import {AppError, ERROR_CODES, ErrorCode, isAppError} from '../errors';
import {audit, Logger} from '../logging/logger';
import {checkAddress} from './ip-policy';
import {CheckedUrl, OutboundPolicy, checkOutboundUrl, compileOutboundPolicy} from './url-policy';

export interface LookupAddress {
  readonly address: string;
  readonly family: number;
}

/** Resolve every address of a host name (the harness injects a stub here). */
export type LookupFn = (hostname: string) => Promise<readonly LookupAddress[]>;

export interface CheckedDestination {
  /** The original host (name or literal) of the URL. */
  readonly hostname: string;
  /** The checked address that the connection is pinned to. */
  readonly address: string;
  readonly family: 4 | 6;
  readonly port: number;
}

/**
 * TEST-ONLY hook: where to open the TCP connection for an already checked destination. The test
 * harness uses it to send the fake public address (93.184.215.14) to a local fake upstream, because
 * this machine has no network. It runs strictly after the address check and cannot widen it.
 */
export type ConnectShim = (dest: CheckedDestination) => {readonly host: string; readonly port: number};

export interface OutboundDeps {
  lookup?: LookupFn;
  connectShim?: ConnectShim;
  /** Trust anchors for https upstreams (replaces the system roots; tests pass their own CA). */
  ca?: string | Buffer | ReadonlyArray<string | Buffer>;
}

export type OutboundMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

export interface OutboundRequestInit {
  method?: OutboundMethod;
  headers?: Readonly<Record<string, string>>;
  body?: string | Uint8Array;
  /** Lower than OUTBOUND_MAX_RESPONSE_BYTES only (the config is the ceiling). */
  maxBytes?: number;
  /** Lower than OUTBOUND_TIMEOUT_MS only. */
  timeoutMs?: number;
  /** 'error' (default): SSRF_RESPONSE_TOO_LARGE; 'truncate': return the first maxBytes, truncated=true. */
  overflow?: 'error' | 'truncate';
  /** 'manual' (default): return a 3xx as it is; 'error': SSRF_REDIRECT_DENIED. Never followed. */
  redirect?: 'manual' | 'error';
  /** Who asks (audit field), e.g. 'demo-fetch', 'crl', 'ocsp'. */
  purpose?: string;
  signal?: AbortSignal;
}

export interface OutboundResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly contentType: string | null;
  readonly body: Buffer;
  readonly truncated: boolean;
  /** The Location header of a 3xx (not followed). */
  readonly location: string | null;
}

/** Header names a caller may not set: they would change where or how the request goes. */
const FORBIDDEN_REQUEST_HEADERS = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'content-length',
]);

const defaultLookup: LookupFn = async hostname => {
  const res = await dns.promises.lookup(hostname, {all: true, verbatim: true});
  return res.map(r => ({address: r.address, family: r.family}));
};

type Connector = ReturnType<typeof buildConnector>;
type ConnectOptions = Parameters<Connector>[0];
type ConnectCallback = Parameters<Connector>[1];

function refuseLookup(_host: string, _opts: unknown, cb: (err: Error) => void): void {
  // The connector only ever hands IP literals to net/tls; a name reaching here is a bug: fail closed.
  cb(new AppError('SSRF_DNS_FAILED', 'unexpected name resolution in the pinned connector'));
}

export class OutboundClient {
  private readonly policy: OutboundPolicy;
  private readonly agent: Agent;
  private readonly lookup: LookupFn;
  private readonly connectors = new Map<string, Connector>();
  private closed = false;

  constructor(
    private readonly cfg: OutboundConfig,
    private readonly logger: Logger,
    private readonly deps: OutboundDeps = {},
  ) {
    this.policy = compileOutboundPolicy(cfg);
    this.lookup = deps.lookup ?? defaultLookup;
    this.agent = new Agent({
      connect: (opts, cb) => this.connect(opts, cb),
      connections: 16,
      pipelining: 1,
      keepAliveTimeout: 4000,
      headersTimeout: cfg.timeoutMs,
      bodyTimeout: cfg.timeoutMs,
      maxHeaderSize: 16_384,
    });
  }

  /** The base connector for one TLS identity (host name or IP literal of the URL). */
  private connectorFor(identity: string): Connector {
    let c = this.connectors.get(identity);
    if (!c) {
      if (this.connectors.size >= 256) this.connectors.clear();
      c = buildConnector({
        timeout: this.cfg.timeoutMs,
        lookup: refuseLookup as never,
        minVersion: 'TLSv1.2',
        ...(this.deps.ca !== undefined ? {ca: this.deps.ca as string | Buffer | Array<string | Buffer>} : {}),
        checkServerIdentity: (_host: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(identity, cert),
      } as buildConnector.BuildOptions);
      this.connectors.set(identity, c);
    }
    return c;
  }

  /** The undici connect hook: resolve, check every address, pin, connect. */
  private connect(opts: ConnectOptions, cb: ConnectCallback): void {
    const hostname = opts.hostname.replace(/^\[|\]$/g, '');
    const port = Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80);
    const base = {event: 'outbound.connect', host: hostname, port};
    const fail = (code: ErrorCode, reason: string, extra: Record<string, unknown> = {}) => {
      audit(this.logger, {...base, ...extra, decision: 'deny', code, reason});
      cb(new AppError(code, msg(code), {reason, host: hostname}), null);
    };
    void (async () => {
      let addresses: LookupAddress[];
      if (net.isIP(hostname)) {
        addresses = [{address: hostname, family: net.isIP(hostname)}];
      } else {
        try {
          addresses = [...(await this.lookup(hostname))];
        } catch (e) {
          return fail('SSRF_DNS_FAILED', `lookup:${(e as NodeJS.ErrnoException).code ?? 'error'}`);
        }
        if (addresses.length === 0) return fail('SSRF_DNS_FAILED', 'lookup:empty');
      }
      // Every address must pass: a name that resolves to one public and one internal address is denied.
      for (const a of addresses) {
        const v = checkAddress(a.address, {allowedCidrs: this.policy.cidrs});
        if (!v.allowed) return fail('SSRF_ADDRESS_DENIED', `address:${v.reason}`, {address: v.info?.address ?? 'invalid'});
      }
      const chosen = checkAddress(addresses[0].address, {allowedCidrs: this.policy.cidrs});
      if (!chosen.allowed) return fail('SSRF_ADDRESS_DENIED', 'address:recheck');
      const dest: CheckedDestination = {hostname, address: chosen.info.address, family: chosen.info.family, port};
      const target = this.deps.connectShim ? this.deps.connectShim(dest) : {host: dest.address, port: dest.port};
      if (net.isIP(target.host) === 0) return fail('SSRF_UPSTREAM_ERROR', 'shim-target-not-ip');
      audit(this.logger, {...base, decision: 'allow', address: dest.address, via: chosen.via, resolved: addresses.length});
      this.connectorFor(hostname)({...opts, hostname: target.host, port: String(target.port)} as ConnectOptions, (err, socket) => {
        if (err || !socket) {
          cb(err ?? new Error('connect failed'), null);
          return;
        }
        // Pinning check: the connected peer is the target we chose, nothing else.
        if (!sameAddress(socket.remoteAddress, target.host)) {
          socket.destroy();
          fail('SSRF_UPSTREAM_ERROR', 'peer-address-mismatch');
          return;
        }
        cb(null, socket);
      });
    })().catch(e => fail('SSRF_UPSTREAM_ERROR', `connector:${(e as Error).name}`));
  }

  /** Fetch a URL through the policy. Resolves with the (bounded) response or rejects with an AppError SSRF_*. */
  async fetch(url: string, init: OutboundRequestInit = {}): Promise<OutboundResponse> {
    const purpose = init.purpose ?? 'unspecified';
    if (this.closed) throw new AppError('SSRF_UPSTREAM_ERROR', 'the outbound client is closed');
    const verdict = checkOutboundUrl(url, this.policy);
    if (!verdict.ok) {
      audit(this.logger, {event: 'outbound.decision', decision: 'deny', code: verdict.code, stage: 'url', reason: verdict.reason, purpose});
      throw new AppError(verdict.code, msg(verdict.code), {reason: verdict.reason});
    }
    const t = verdict.target;
    const where = {scheme: t.scheme, host: t.host, port: t.port, purpose};

    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(init.headers ?? {})) {
      if (FORBIDDEN_REQUEST_HEADERS.has(k.toLowerCase())) {
        audit(this.logger, {
          event: 'outbound.decision',
          decision: 'deny',
          code: 'SSRF_URL_INVALID',
          stage: 'request',
          reason: 'forbidden-header',
          ...where,
        });
        throw new AppError('SSRF_URL_INVALID', 'a request header that changes routing cannot be set');
      }
      headers[k.toLowerCase()] = v;
    }

    const maxBytes = Math.min(init.maxBytes ?? this.cfg.maxResponseBytes, this.cfg.maxResponseBytes);
    const timeoutMs = Math.min(init.timeoutMs ?? this.cfg.timeoutMs, this.cfg.timeoutMs);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new AppError('SSRF_UPSTREAM_TIMEOUT', ERROR_MESSAGES.SSRF_UPSTREAM_TIMEOUT)), timeoutMs);
    const onCallerAbort = () => abort.abort(new AppError('SSRF_UPSTREAM_ERROR', 'the request was cancelled'));
    init.signal?.addEventListener('abort', onCallerAbort, {once: true});

    try {
      const res = await this.agent.request({
        origin: originOf(t),
        path: t.url.pathname + t.url.search,
        method: init.method ?? 'GET',
        headers,
        body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : Buffer.from(init.body),
        signal: abort.signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const status = res.statusCode;
      const contentType = headerValue(res.headers['content-type']);
      const location = status >= 300 && status < 400 ? headerValue(res.headers.location) : null;
      const overflow = init.overflow ?? 'error';
      const declared = Number(headerValue(res.headers['content-length']) ?? NaN);
      if (overflow === 'error' && Number.isFinite(declared) && declared > maxBytes) {
        res.body.destroy();
        throw new AppError('SSRF_RESPONSE_TOO_LARGE', ERROR_MESSAGES.SSRF_RESPONSE_TOO_LARGE, {declared});
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      for await (const chunk of res.body) {
        const buf = chunk as Buffer;
        if (size + buf.length > maxBytes) {
          if (overflow === 'error') {
            res.body.destroy();
            throw new AppError('SSRF_RESPONSE_TOO_LARGE', ERROR_MESSAGES.SSRF_RESPONSE_TOO_LARGE);
          }
          chunks.push(buf.subarray(0, maxBytes - size));
          size = maxBytes;
          truncated = true;
          res.body.destroy();
          break;
        }
        chunks.push(buf);
        size += buf.length;
      }
      if (location !== null) {
        audit(this.logger, {
          event: 'outbound.decision',
          decision: init.redirect === 'error' ? 'deny' : 'warn',
          code: 'SSRF_REDIRECT_DENIED',
          stage: 'redirect',
          reason: 'redirect-not-followed',
          status,
          ...where,
        });
        if (init.redirect === 'error') throw new AppError('SSRF_REDIRECT_DENIED', ERROR_MESSAGES.SSRF_REDIRECT_DENIED, {status});
      } else {
        audit(this.logger, {event: 'outbound.decision', decision: 'allow', stage: 'response', status, bytes: size, truncated, ...where});
      }
      const outHeaders: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) outHeaders[k] = v;
      return {status, headers: outHeaders, contentType, body: Buffer.concat(chunks), truncated, location};
    } catch (e) {
      const err = mapError(e, abort.signal);
      if (!(isAppError(e) && (e.code === 'SSRF_ADDRESS_DENIED' || e.code === 'SSRF_DNS_FAILED'))) {
        // Connect-time denials were audited by the connector already.
        audit(this.logger, {
          event: 'outbound.decision',
          decision: 'deny',
          code: err.code,
          stage: 'transfer',
          reason: err.details.reason ?? err.code,
          ...where,
        });
      }
      throw err;
    } finally {
      clearTimeout(timer);
      init.signal?.removeEventListener('abort', onCallerAbort);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.agent.close().catch(() => this.agent.destroy());
  }
}

const ERROR_MESSAGES: Readonly<Record<Extract<ErrorCode, `SSRF_${string}`>, string>> = {
  SSRF_URL_INVALID: 'The outbound URL is not acceptable.',
  SSRF_SCHEME_DENIED: 'The outbound URL scheme is not allowed.',
  SSRF_PORT_DENIED: 'The outbound URL port is not allowed.',
  SSRF_HOST_DENIED: 'The outbound host is not allowed.',
  SSRF_ADDRESS_DENIED: 'The outbound destination address is not allowed.',
  SSRF_DNS_FAILED: 'The outbound host could not be resolved.',
  SSRF_REDIRECT_DENIED: 'The upstream redirected; redirects are not followed.',
  SSRF_UPSTREAM_TIMEOUT: 'The upstream did not answer in time.',
  SSRF_RESPONSE_TOO_LARGE: 'The upstream response is too large.',
  SSRF_UPSTREAM_ERROR: 'The upstream connection failed.',
};

function msg(code: ErrorCode): string {
  return (ERROR_MESSAGES as Partial<Record<ErrorCode, string>>)[code] ?? ERROR_CODES[code].doc;
}

function sameAddress(a: string | undefined, b: string): boolean {
  if (a === undefined || !ipaddr.isValid(a) || !ipaddr.isValid(b)) return false;
  return ipaddr.process(a).toNormalizedString() === ipaddr.process(b).toNormalizedString();
}

function originOf(t: CheckedUrl): string {
  const host = t.hostKind === 'ip' && t.host.includes(':') ? `[${t.host}]` : t.host;
  return `${t.scheme}://${host}:${t.port}`;
}

function headerValue(v: string | string[] | undefined): string | null {
  if (v === undefined) return null;
  return Array.isArray(v) ? (v[0] ?? null) : v;
}

function mapError(e: unknown, signal: AbortSignal): AppError {
  if (isAppError(e)) return e;
  if (signal.aborted && isAppError(signal.reason)) return signal.reason;
  const code = (e as {code?: string} | null)?.code ?? '';
  const name = (e as Error | null)?.name ?? 'Error';
  if (/TIMEOUT/i.test(code) || /Timeout/.test(name)) {
    return new AppError('SSRF_UPSTREAM_TIMEOUT', ERROR_MESSAGES.SSRF_UPSTREAM_TIMEOUT, {reason: code || name}, {cause: e});
  }
  return new AppError('SSRF_UPSTREAM_ERROR', ERROR_MESSAGES.SSRF_UPSTREAM_ERROR, {reason: code || name}, {cause: e});
}

/**
 * The request guard as LoopBack middleware (thin wrapper over request-policy.ts).
 *
 * Position: group 'guard', right after 'sendResponse' and before 'cors', 'apiSpec', 'middleware'
 * and 'findRoute' — so requests that match no route (or hit the OpenAPI spec endpoints) are
 * inspected too, and a rejection is never a routing 404.
 *
 * Body: when the request has one, it is read here, bounded by HTTP_MAX_BODY_BYTES (413
 * GUARD_BODY_TOO_LARGE beyond; a declared Content-Length over the bound is refused before reading),
 * decoded (identity encoding, UTF-8) and inspected. The parsed value is then handed to LoopBack's
 * body parser: body-parser 2.x skips reading when the request stream is already finished
 * (`on-finished`'s isFinished(req): complete && !readable, checked in body-parser/lib/read.js) and
 * returns `req.body` as it is, so the controller receives exactly what the guard inspected.
 * Form bodies are handed on as flat `{name: value}` objects (no `qs` bracket expansion: nested
 * form keys are a prototype-pollution and DoS surface this service does not need).
 *
 * Rejection: `{error: {code, message}}` with the code's status (400/403/413/415), a generic
 * message (never the payload), `Connection: close` after body errors, and one audit() line with
 * the rule id and the location.
 */
import {BindingScope, inject, injectable, Provider} from '@loopback/core';
import {asMiddleware, Middleware, MiddlewareContext, RestMiddlewareGroups, RestTags} from '@loopback/rest';
import type {IncomingMessage, ServerResponse} from 'node:http';
import {ERROR_CODES, ErrorCode} from '../errors';
import {audit} from '../logging/logger';
import {GUARD_MIDDLEWARE_GROUP, GuardsBindings, GuardsOptions} from './keys';
import {DEFAULT_INSPECT_LIMITS, decodeBodyBytes, inspectRequest, InspectLimits} from './request-policy';

export const REQUEST_GUARD_MIDDLEWARE_OPTIONS = {
  group: GUARD_MIDDLEWARE_GROUP,
  upstreamGroups: [RestMiddlewareGroups.SEND_RESPONSE],
  downstreamGroups: [RestMiddlewareGroups.CORS, RestMiddlewareGroups.API_SPEC, RestMiddlewareGroups.MIDDLEWARE, RestMiddlewareGroups.FIND_ROUTE],
  chain: RestTags.REST_MIDDLEWARE_CHAIN,
};

type BodyRead = {kind: 'none'} | {kind: 'ok'; bytes: Buffer} | {kind: 'too-large'} | {kind: 'aborted'};

function hasBody(req: IncomingMessage): boolean {
  const te = req.headers['transfer-encoding'];
  const cl = req.headers['content-length'];
  return te !== undefined || (cl !== undefined && cl !== '0');
}

/**
 * Read the whole body, at most `max` bytes. Event listeners rather than `for await`: creating a
 * stream async iterator per request was ~1% of the service's busy CPU under keep-alive load.
 * Beyond `max` the request stream is paused (nothing more is read; the rejection closes the
 * connection); an error or a close before the end of the body is 'aborted'.
 */
export function readBoundedBody(req: IncomingMessage, max: number): Promise<BodyRead> {
  if (!hasBody(req)) return Promise.resolve({kind: 'none'});
  const declared = req.headers['content-length'];
  if (declared !== undefined && (!/^\d+$/.test(declared) || Number(declared) > max)) return Promise.resolve({kind: 'too-large'});
  if (req.readableEnded) return Promise.resolve({kind: 'ok', bytes: Buffer.alloc(0)});
  if (req.destroyed) return Promise.resolve({kind: 'aborted'});
  return new Promise<BodyRead>(resolve => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (r: BodyRead) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      resolve(r);
    };
    const onData = (chunk: Buffer | string) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buf.length;
      if (size > max) {
        // Stop reading (socket back-pressure); the rejection is written with `Connection: close`.
        req.pause();
        finish({kind: 'too-large'});
        return;
      }
      chunks.push(buf);
    };
    const onEnd = () => finish({kind: 'ok', bytes: Buffer.concat(chunks, size)});
    const onError = () => finish({kind: 'aborted'});
    const onClose = () => finish({kind: 'aborted'});
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function rawHeaderPairs(req: IncomingMessage): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i], raw[i + 1]]);
  return out;
}

export function writeGuardError(res: ServerResponse, code: ErrorCode, close: boolean): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({error: {code, message: ERROR_CODES[code].doc}});
  res.statusCode = ERROR_CODES[code].status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  if (close) {
    res.setHeader('Connection', 'close');
    res.once('finish', () => res.req?.socket?.destroySoon?.());
  }
  res.end(body);
}

/** A singleton (LoopBack's default for middleware providers is TRANSIENT: one instance per request). */
@injectable(asMiddleware(REQUEST_GUARD_MIDDLEWARE_OPTIONS), {scope: BindingScope.SINGLETON})
export class RequestGuardMiddlewareProvider implements Provider<Middleware> {
  private readonly limits: InspectLimits;

  constructor(@inject(GuardsBindings.OPTIONS) private readonly options: GuardsOptions) {
    this.limits = {...DEFAULT_INSPECT_LIMITS, ...(options.limits ?? {})};
  }

  value(): Middleware {
    return async (ctx: MiddlewareContext, next) => {
      const req = ctx.request;
      const res = ctx.response;
      const logger = this.options.logger;
      const method = req.method;
      // Node's req.url is the request-target exactly as received; Express keeps it in originalUrl.
      const rawTarget = req.originalUrl ?? req.url;
      const deny = (code: ErrorCode, ruleId: string, location: string, close = false) => {
        audit(logger, {event: 'guard.decision', decision: 'deny', code, ruleId, location, method});
        writeGuardError(res, code, close);
        return res;
      };

      const read = await readBoundedBody(req, this.options.config.http.maxBodyBytes);
      if (read.kind === 'too-large') return deny('GUARD_BODY_TOO_LARGE', 'BODY-TOO-LARGE', 'body:', true);
      if (read.kind === 'aborted') return deny('GUARD_MALFORMED_INPUT', 'BODY-ABORTED', 'body:', true);

      let body: {contentType: string | undefined; text: string} | undefined;
      if (read.kind === 'ok' && read.bytes.length > 0) {
        const contentType = req.headers['content-type'];
        const decoded = decodeBodyBytes(read.bytes, contentType, req.headers['content-encoding']);
        if (!decoded.ok) return deny(decoded.code, decoded.ruleId, 'body:');
        body = {contentType, text: decoded.text};
      }

      let verdict;
      try {
        verdict = inspectRequest({rawTarget, headers: rawHeaderPairs(req), body}, this.limits);
      } catch {
        // The policy is total by construction (property-tested); this is the fail-closed net.
        return deny('GUARD_MALFORMED_INPUT', 'GUARD-INTERNAL', 'request');
      }
      if (!verdict.ok) return deny(verdict.code, verdict.ruleId, verdict.location);

      if (this.options.auditAllowed === true) audit(logger, {event: 'guard.decision', decision: 'allow', method});
      if (read.kind === 'ok') {
        // Hand the inspected value to LoopBack's body parser (see the header comment).
        (req as {body?: unknown}).body = verdict.body?.value;
      }
      return next();
    };
  }
}

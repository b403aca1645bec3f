/**
 * Request limits Node's HTTP parser does not enforce itself, checked before anything else in the
 * sequence (right after the security headers), so unmatched routes are covered too:
 *  - more than HTTP_MAX_HEADERS_COUNT header fields: 431 HTTP_HEADERS_TOO_LARGE (Node would
 *    silently drop the fields past its maxHeadersCount, a parser differential);
 *  - an HTTP/1.1 request without Host: 400 BAD_REQUEST (tls-options.ts turns Node's check off).
 * These answers close the connection (the rest of the request is not trusted). The body size
 * limit (HTTP_MAX_BODY_BYTES) is the request guard's: it reads at most that many bytes and
 * answers 413 GUARD_BODY_TOO_LARGE at once, declared or chunked.
 */
import type {IncomingMessage, ServerResponse} from 'node:http';
import {Middleware} from '@loopback/rest';
import type {HttpLimitsConfig} from '../config/config';
import {AppError} from '../errors';

export const HTTP_LIMITS_GROUP = 'httpLimits';

/** Pure check: the limit a request breaks, or undefined. */
export function requestLimitViolation(
  req: Pick<IncomingMessage, 'rawHeaders' | 'headers' | 'httpVersion'>,
  limits: Pick<HttpLimitsConfig, 'maxHeadersCount'>,
): AppError | undefined {
  const fields = req.rawHeaders.length / 2;
  if (fields > limits.maxHeadersCount) {
    return new AppError('HTTP_HEADERS_TOO_LARGE', 'too many request header fields', {fields: Math.floor(fields), limit: limits.maxHeadersCount});
  }
  // RFC 9112 §3.2: an HTTP/1.1 request without Host is refused (Node's own answer would be a bare
  // 400 without the coded body and the security headers, so Node's check is turned off).
  if (req.httpVersion === '1.1' && req.headers.host === undefined) {
    return new AppError('BAD_REQUEST', 'an HTTP/1.1 request needs a Host header');
  }
  return undefined;
}

/** The middleware, closed over the validated limits (no context lookup per request). */
export function createHttpLimitsMiddleware(limits: Pick<HttpLimitsConfig, 'maxHeadersCount'>): Middleware {
  return async (ctx, next) => {
    const violation = requestLimitViolation(ctx.request, limits);
    if (violation) {
      (ctx.response as ServerResponse).setHeader('Connection', 'close');
      throw violation;
    }
    return next();
  };
}

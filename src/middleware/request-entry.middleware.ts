/**
 * The first step of every request, in one middleware: the security headers
 * (security-headers.middleware.ts), the request limits Node's parser does not enforce
 * (http-limits.middleware.ts), and `Connection: close` during graceful shutdown.
 *
 * One middleware instead of two: LoopBack resolves every middleware binding from the context and
 * runs it as a step of an interceptor chain on every request; the two steps always ran together,
 * in this order, ahead of everything else. The behaviour is theirs, unchanged: headers first (so
 * a refusal carries them too), then the limits (a violation answers with its coded error and
 * closes the connection), and the shutdown check again when the rest of the chain has produced
 * the response, for requests that began before shutdown did. No context lookup per request: the
 * middleware is a closure over the validated limits and the application's shutting-down flag.
 */
import {Middleware} from '@loopback/rest';
import type {HttpLimitsConfig} from '../config/config';
import {requestLimitViolation} from './http-limits.middleware';
import {applySecurityHeaders} from './security-headers.middleware';

export const REQUEST_ENTRY_GROUP = 'securityHeaders';

export function createRequestEntryMiddleware(shuttingDown: {readonly value: boolean}, limits: Pick<HttpLimitsConfig, 'maxHeadersCount'>): Middleware {
  return (ctx, next) => {
    const res = ctx.response;
    applySecurityHeaders(res);
    if (shuttingDown.value) res.setHeader('Connection', 'close');
    const violation = requestLimitViolation(ctx.request, limits);
    if (violation) {
      res.setHeader('Connection', 'close');
      return Promise.reject(violation);
    }
    const closeIfShuttingDown = () => {
      if (shuttingDown.value && !res.headersSent) res.setHeader('Connection', 'close');
    };
    return Promise.resolve(next()).then(
      result => {
        closeIfShuttingDown();
        return result;
      },
      (err: unknown) => {
        closeIfShuttingDown();
        throw err;
      },
    );
  };
}

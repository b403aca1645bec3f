/**
 * Security headers on every response, including errors and unmatched routes: registered in
 * its own group right after `sendResponse`, ahead of everything else in the sequence.
 */
import type {ServerResponse} from 'node:http';
import {Middleware} from '@loopback/rest';

export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Strict-Transport-Security': 'max-age=63072000; includeSubDomains',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
});

// Precomputed once: names and values in parallel arrays (no entry tuples per request).
const SECURITY_HEADER_NAMES: readonly string[] = Object.keys(SECURITY_HEADERS);
const SECURITY_HEADER_VALUES: readonly string[] = SECURITY_HEADER_NAMES.map(n => SECURITY_HEADERS[n]);

export function applySecurityHeaders(res: ServerResponse): void {
  if (res.headersSent) return;
  for (let i = 0; i < SECURITY_HEADER_NAMES.length; i++) res.setHeader(SECURITY_HEADER_NAMES[i], SECURITY_HEADER_VALUES[i]);
  res.removeHeader('X-Powered-By');
}

export const SECURITY_HEADERS_GROUP = 'securityHeaders';

/**
 * The middleware, closed over the application's shutting-down flag (AppBindings.SHUTTING_DOWN's
 * object): no context lookup per request.
 */
export function createSecurityHeadersMiddleware(shuttingDown: {readonly value: boolean}): Middleware {
  return async (ctx, next) => {
    applySecurityHeaders(ctx.response);
    // During graceful shutdown, tell keep-alive clients to reconnect elsewhere: checked again when
    // the response is about to be written, for requests that began before shutdown did.
    const closeIfShuttingDown = () => {
      if (shuttingDown.value && !ctx.response.headersSent) ctx.response.setHeader('Connection', 'close');
    };
    closeIfShuttingDown();
    try {
      return await next();
    } finally {
      closeIfShuttingDown();
    }
  };
}

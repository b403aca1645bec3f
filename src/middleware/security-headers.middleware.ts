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

export function applySecurityHeaders(res: ServerResponse): void {
  if (res.headersSent) return;
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
  res.removeHeader('X-Powered-By');
}

export const SECURITY_HEADERS_GROUP = 'securityHeaders';
/** Same key as AppBindings.SHUTTING_DOWN (kept as a string here to avoid an import cycle). */
const SHUTTING_DOWN_KEY = 'hardened.shuttingDown';

export const securityHeadersMiddleware: Middleware = async (ctx, next) => {
  applySecurityHeaders(ctx.response);
  // During graceful shutdown, tell keep-alive clients to reconnect elsewhere: checked again when
  // the response is about to be written, for requests that began before shutdown did.
  const closeIfShuttingDown = () => {
    if (!ctx.response.headersSent && ctx.getSync<{value: boolean}>(SHUTTING_DOWN_KEY, {optional: true})?.value) {
      ctx.response.setHeader('Connection', 'close');
    }
  };
  closeIfShuttingDown();
  try {
    return await next();
  } finally {
    closeIfShuttingDown();
  }
};

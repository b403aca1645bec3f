/**
 * Authentication for requests that match no route. LoopBack authenticates only routes with
 * controller metadata; an unknown path falls through to its catch-all external route and was
 * answered 404 without any authentication decision: a client outside the allow-list could map
 * the routes (404 vs 403) and left no auth.decision line. This middleware sits between the
 * request guard and findRoute; when the request ends in a 404 that nobody authenticated, it runs
 * the `mtls` strategy first, so the refusal (401/403 with its code) wins over the 404 and every
 * request that passes the guard gets exactly one auth.decision line. Routes with a controller
 * are untouched (LoopBack authenticates them as before).
 */
import type {AuthenticationStrategy} from '@loopback/authentication';
import {Middleware} from '@loopback/rest';
import {SecurityBindings} from '@loopback/security';
import {MtlsAuthBindings} from '../auth/keys';

export const UNMATCHED_ROUTE_AUTH_GROUP = 'unmatchedRouteAuth';

export const unmatchedRouteAuthMiddleware: Middleware = async (ctx, next) => {
  try {
    return await next();
  } catch (e) {
    const status = (e as {statusCode?: number; status?: number} | undefined)?.statusCode ?? (e as {status?: number} | undefined)?.status;
    // An unknown path is served by LoopBack's catch-all external route, which has no controller
    // and so no authentication metadata: it throws 404 without anyone having authenticated. A
    // 404 with no authenticated user on the request is that case.
    if (status === 404 && !ctx.contains(SecurityBindings.USER)) {
      const strategy = await ctx.get(MtlsAuthBindings.STRATEGY) as AuthenticationStrategy;
      await strategy.authenticate(ctx.request); // throws the coded denial; an allowed identity gets the 404
    }
    throw e;
  }
};

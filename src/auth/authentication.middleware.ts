/**
 * The authentication step of the REST middleware chain (AuthenticationBindings.AUTHENTICATION_MIDDLEWARE),
 * with the behaviour of @loopback/authentication's AuthenticationMiddlewareProvider +
 * AuthenticateActionProvider and without their per-request cost.
 *
 * LoopBack binds both as transient provider classes: for every request it instantiates the
 * middleware provider, which injects the authenticate action, whose provider injects a strategy
 * getter, three setters and the component configuration, all through dependency injection
 * (decorator metadata, resolution sessions). Measured under keep-alive load: about 40 µs of CPU per
 * request before any strategy runs (docs/benchmarks-fixes.md).
 *
 * This provider is a singleton; the component configuration (`failOnError`) is read once. Per
 * request it resolves the route's strategies (AuthenticationBindings.STRATEGY, see
 * auth-strategy.provider.ts) and runs them in order, as LoopBack does:
 *  - no strategies (no metadata, `@authenticate.skip()`): no authentication;
 *  - a strategy returns a user profile: it is bound to SecurityBindings.USER on the request
 *    context (always there: never a binding of a parent context) and the request goes on;
 *  - a strategy returns a redirect: AUTHENTICATION_REDIRECT_URL / _STATUS are bound and the
 *    request goes on (the controller redirects);
 *  - a strategy throws: with failOnError the error is thrown at once, else the next strategy is
 *    tried and the first error is thrown when none succeeded;
 *  - no profile at all: USER_PROFILE_NOT_FOUND.
 * AUTHENTICATION_STRATEGY_NOT_FOUND and USER_PROFILE_NOT_FOUND become 401. The mtls strategy
 * throws coded AppErrors that the reject provider maps to their own status.
 */
import {BindingScope, config, Context, injectable, Provider} from '@loopback/core';
import {
  AUTHENTICATION_STRATEGY_NOT_FOUND,
  AuthenticationBindings,
  AuthenticationOptions,
  AuthenticationStrategy,
  USER_PROFILE_NOT_FOUND,
} from '@loopback/authentication';
import {asMiddleware, Middleware, RedirectRoute, RestMiddlewareGroups} from '@loopback/rest';
import {SecurityBindings, UserProfile} from '@loopback/security';
import {routeStrategies} from './auth-strategy.provider';

/** Run the route's strategies for one request (see the header); returns the profile bound, if any. */
export async function authenticateRequest(
  ctx: Context & {request: Parameters<AuthenticationStrategy['authenticate']>[0]},
  options: Pick<AuthenticationOptions, 'failOnError'>,
): Promise<UserProfile | undefined> {
  // AuthenticationBindings.STRATEGY, resolved without a context resolution when it is the
  // component's own binding (auth-strategy.provider.ts routeStrategies).
  const found = await routeStrategies(ctx);
  if (found == null) return undefined;
  const strategies = Array.isArray(found) ? found : [found];
  const errors: unknown[] = [];
  for (const strategy of strategies) {
    let response: UserProfile | RedirectRoute | undefined;
    try {
      response = await strategy.authenticate(ctx.request);
    } catch (err) {
      if (options.failOnError) throw err;
      errors.push(err);
    }
    if (RedirectRoute.isRedirectRoute(response)) {
      ctx.bind(AuthenticationBindings.AUTHENTICATION_REDIRECT_URL).to(response.targetLocation);
      ctx.bind(AuthenticationBindings.AUTHENTICATION_REDIRECT_STATUS).to(response.statusCode);
      return undefined;
    }
    if (response != null) {
      ctx.bind(SecurityBindings.USER).to(response);
      return response;
    }
  }
  if (errors.length) throw errors[0];
  throw Object.assign(new Error("User profile not returned from strategy's authenticate function"), {code: USER_PROFILE_NOT_FOUND});
}

@injectable(asMiddleware({group: RestMiddlewareGroups.AUTHENTICATION, upstreamGroups: [RestMiddlewareGroups.FIND_ROUTE]}), {
  scope: BindingScope.SINGLETON,
})
export class AuthenticationMiddlewareProvider implements Provider<Middleware> {
  constructor(
    @config({fromBinding: AuthenticationBindings.COMPONENT})
    private readonly options: AuthenticationOptions = {},
  ) {}

  value(): Middleware {
    return async (ctx, next) => {
      try {
        await authenticateRequest(ctx, this.options);
      } catch (error) {
        const code = (error as {code?: unknown} | undefined)?.code;
        if (code === AUTHENTICATION_STRATEGY_NOT_FOUND || code === USER_PROFILE_NOT_FOUND) (error as {statusCode?: number}).statusCode = 401;
        throw error;
      }
      return next();
    };
  }
}

/**
 * AuthenticationBindings.METADATA and AuthenticationBindings.STRATEGY, resolved for every request,
 * with the semantics of @loopback/authentication's AuthMetadataProvider and
 * AuthenticationStrategyProvider and a fraction of their cost.
 *
 * LoopBack binds both to transient provider classes: every request instantiates them through
 * dependency injection (decorator metadata, resolution sessions, a configuration lookup), reads
 * the route's `@authenticate` metadata with reflect-metadata, and the strategy provider's
 * `@extensions()` getter opens a ContextView on the request context (a context subscription and an
 * async event iterator) just to find the registered strategies. Measured in the service under
 * keep-alive load: about 60 µs of CPU per request, the largest single item the service added to
 * plain LoopBack (docs/benchmarks-fixes.md).
 *
 * Here:
 *  - the strategies come from one registry whose view on the application context is opened once
 *    and kept current by LoopBack's binding events (a strategy bound or unbound later is seen on
 *    the next request);
 *  - a route's metadata is read once per controller method (decorators are static) and then
 *    served from a cache; the component's `defaultMetadata` is read once, at the first request.
 * One deliberate difference: a route without a controller (handler, external or redirect route,
 * and the 404 of an unknown path) gets the default metadata instead of none, so it is
 * authenticated like controller routes.
 * Same contract otherwise: no metadata, or `@authenticate.skip()` -> undefined, so no authentication; a
 * strategy name nobody answers to -> an error with code AUTHENTICATION_STRATEGY_NOT_FOUND, which
 * the authentication middleware (authentication.middleware.ts) turns into a 401.
 */
import {Context, ContextView, CoreBindings, ResolutionOptions, ValueFactory} from '@loopback/core';
import {
  AUTHENTICATION_STRATEGY_NOT_FOUND,
  AuthenticationBindings,
  AuthenticationMetadata,
  AuthenticationOptions,
  AuthenticationStrategy,
  getAuthenticateMetadata,
} from '@loopback/authentication';

/** The registered strategies, from a view on the application context opened once. */
export class AuthenticationStrategyRegistry {
  constructor(private readonly view: ContextView<AuthenticationStrategy>) {
    // Subscribed: a strategy bound or unbound later invalidates the cached values.
    this.view.open();
  }

  /** The strategies named by the metadata, in its order; throws AUTHENTICATION_STRATEGY_NOT_FOUND for an unknown name. */
  async find(metadata: readonly AuthenticationMetadata[]): Promise<AuthenticationStrategy[]> {
    const registered = await this.view.values();
    return metadata.map(m => {
      const strategy = registered.find(s => s.name === m.strategy);
      if (!strategy) {
        throw Object.assign(new Error(`The strategy '${m.strategy}' is not available.`), {code: AUTHENTICATION_STRATEGY_NOT_FOUND});
      }
      return strategy;
    });
  }
}

/**
 * The authentication metadata of a route, as AuthMetadataProvider decides it: the method's (or
 * else the class's) `@authenticate` metadata; `skip` -> undefined; none -> the default. Pure.
 */
export function routeAuthMetadata(
  declared: AuthenticationMetadata[] | undefined,
  defaultMetadata: AuthenticationMetadata[] | undefined,
): AuthenticationMetadata[] | undefined {
  if (declared?.[0]?.skip) return undefined;
  return declared ?? defaultMetadata;
}

const NO_METADATA = Symbol('none');
type CachedMetadata = AuthenticationMetadata[] | typeof NO_METADATA;

/** Value factory for AuthenticationBindings.METADATA (bind it transient). */
export function authMetadataFactory(): ValueFactory<AuthenticationMetadata[] | undefined> {
  const byClass = new WeakMap<object, Map<string, CachedMetadata>>();
  let defaults: {value: AuthenticationMetadata[] | undefined} | undefined;
  const optional: ResolutionOptions = {optional: true};
  return ({context}: {context: Context}) => {
    if (!defaults) {
      const options = context.getConfigSync<AuthenticationOptions>(AuthenticationBindings.COMPONENT);
      defaults = {value: options?.defaultMetadata};
    }
    const controllerClass = context.getSync<object | undefined>(CoreBindings.CONTROLLER_CLASS, optional);
    const methodName = context.getSync<string | undefined>(CoreBindings.CONTROLLER_METHOD_NAME, optional);
    // A route without a controller has no `@authenticate` metadata: a handler route
    // (`app.route(verb, path, spec, handler)`), LoopBack's external route (a mounted Express
    // router, static assets, and every path nothing matches, which it answers 404) and a redirect
    // route. LoopBack's provider leaves them all unauthenticated, so a fork that mounts a router
    // or serves files would serve them to any certificate the TLS layer accepts, outside the
    // allow-list and unchecked for revocation, and an unknown path would answer 404 without an
    // auth.decision line (a route map for refused clients). They get the default metadata.
    if (!controllerClass || !methodName) return defaults.value;
    let methods = byClass.get(controllerClass);
    if (!methods) byClass.set(controllerClass, (methods = new Map()));
    let hit = methods.get(methodName);
    if (hit === undefined) {
      hit = routeAuthMetadata(getAuthenticateMetadata(controllerClass as never, methodName), defaults.value) ?? NO_METADATA;
      methods.set(methodName, hit);
    }
    return hit === NO_METADATA ? undefined : hit;
  };
}

/** Value factory for AuthenticationBindings.STRATEGY (bind it transient). */
export function authStrategyFactory(registry: AuthenticationStrategyRegistry): ValueFactory<AuthenticationStrategy[] | undefined> {
  return async ({context}: {context: Context}) => {
    // Through the binding, so an application that rebinds METADATA is still obeyed.
    const metadata = await context.get<AuthenticationMetadata[] | undefined>(AuthenticationBindings.METADATA, {optional: true});
    if (!metadata?.length) return undefined;
    return registry.find(metadata);
  };
}

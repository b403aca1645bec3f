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
import {
  Binding,
  BindingScope,
  Constructor,
  BindingType,
  Context,
  ContextView,
  CoreBindings,
  isPromiseLike,
  ValueFactory,
  ValueOrPromise,
} from '@loopback/core';
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
  /** The view's resolved values, kept until the view refreshes (a strategy bound or unbound). */
  private resolved: AuthenticationStrategy[] | undefined;
  private generation = 0;

  constructor(private readonly view: ContextView<AuthenticationStrategy>) {
    // Subscribed: a strategy bound or unbound later invalidates the cached values.
    this.view.open();
    this.view.on('refresh', () => {
      this.generation++;
      this.resolved = undefined;
    });
  }

  /** The strategies named by the metadata, in its order; throws AUTHENTICATION_STRATEGY_NOT_FOUND for an unknown name. */
  async find(metadata: readonly AuthenticationMetadata[]): Promise<AuthenticationStrategy[]> {
    // view.values() waits a tick for pending binding events, so a strategy bound just before is seen.
    return this.pick(await this.view.values(), metadata);
  }

  /**
   * find() for the request path: no promise when the registered strategies are already resolved
   * (every request after the first, until the view refreshes on a strategy bound or unbound; the
   * refresh follows LoopBack's binding events, delivered a tick after the binding). A sync throw
   * for an unknown name.
   */
  lookup(metadata: readonly AuthenticationMetadata[]): ValueOrPromise<AuthenticationStrategy[]> {
    if (this.resolved) return this.pick(this.resolved, metadata);
    const generation = this.generation;
    return this.view.values().then(values => {
      if (generation === this.generation) this.resolved = values;
      return this.pick(values, metadata);
    });
  }

  private pick(registered: readonly AuthenticationStrategy[], metadata: readonly AuthenticationMetadata[]): AuthenticationStrategy[] {
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

/**
 * The per-request work of the two factories below, callable without LoopBack's resolution of
 * their bindings (a resolution session, the binding's scope and cache checks, the value getter),
 * which cost more than the work itself. Used only when the binding found for the key is the very
 * binding the factory was bound to, transient as documented: an application that rebinds
 * METADATA or STRATEGY (or binds it in another scope) is resolved through the context as before.
 */
const DIRECT = Symbol('auth.direct');
type Direct<T> = (context: Context) => ValueOrPromise<T>;
type WithDirect<T> = ValueFactory<T> & {[DIRECT]: Direct<T>};

function withDirect<T>(direct: Direct<T>): WithDirect<T> {
  const factory = (({context}: {context: Context}) => direct(context)) as unknown as WithDirect<T>;
  factory[DIRECT] = direct;
  return factory;
}

/** The direct function of `key`'s binding in `ctx`, when it is one of ours, transient; else undefined. */
function directOf<T>(ctx: Context, key: string): Direct<T> | undefined {
  const binding = ctx.getBinding(key, {optional: true}) as Binding<T> | undefined;
  const source = binding?.source;
  if (!binding || binding.scope !== BindingScope.TRANSIENT || source?.type !== BindingType.DYNAMIC_VALUE) return undefined;
  return (source.value as Partial<WithDirect<T>>)[DIRECT];
}

/**
 * A binding's value as `ctx.getSync(key, {optional: true})` answers it, without a resolution when
 * the binding is a constant (LoopBack binds the controller class and method name as constants; the
 * authentication middleware binds the user profile as one).
 */
export function boundValue<T>(ctx: Context, key: string): T | undefined {
  const binding = ctx.getBinding(key, {optional: true}) as Binding<T> | undefined;
  if (!binding) return undefined;
  const source = binding.source;
  if (source?.type === BindingType.CONSTANT) return source.value as T;
  return ctx.getSync<T | undefined>(key, {optional: true});
}

/**
 * The strategies of the request's route, as `ctx.get(AuthenticationBindings.STRATEGY, {optional: true})`
 * answers them, without a promise or a context resolution when the bindings are this module's.
 */
export function routeStrategies(ctx: Context): ValueOrPromise<AuthenticationStrategy | AuthenticationStrategy[] | undefined> {
  const direct = directOf<AuthenticationStrategy[] | undefined>(ctx, AuthenticationBindings.STRATEGY.key);
  if (direct) return direct(ctx);
  return ctx.get<AuthenticationStrategy | AuthenticationStrategy[] | undefined>(AuthenticationBindings.STRATEGY, {optional: true});
}

/** Value factory for AuthenticationBindings.METADATA (bind it transient). */
export function authMetadataFactory(): ValueFactory<AuthenticationMetadata[] | undefined> {
  const byClass = new WeakMap<object, Map<string, CachedMetadata>>();
  let defaults: {value: AuthenticationMetadata[] | undefined} | undefined;
  return withDirect((context: Context) => {
    if (!defaults) {
      const options = context.getConfigSync<AuthenticationOptions>(AuthenticationBindings.COMPONENT);
      defaults = {value: options?.defaultMetadata};
    }
    const controllerClass = boundValue<Constructor<unknown>>(context, CoreBindings.CONTROLLER_CLASS.key);
    const methodName = boundValue<string>(context, CoreBindings.CONTROLLER_METHOD_NAME.key);
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
  });
}

/** Value factory for AuthenticationBindings.STRATEGY (bind it transient). */
export function authStrategyFactory(registry: AuthenticationStrategyRegistry): ValueFactory<AuthenticationStrategy[] | undefined> {
  const strategiesFor = (metadata: AuthenticationMetadata[] | undefined) => (metadata?.length ? registry.lookup(metadata) : undefined);
  return withDirect((context: Context) => {
    // Through the binding, so an application that rebinds METADATA is still obeyed.
    const direct = directOf<AuthenticationMetadata[] | undefined>(context, AuthenticationBindings.METADATA.key);
    if (direct) {
      const metadata = direct(context);
      return isPromiseLike(metadata) ? metadata.then(strategiesFor) : strategiesFor(metadata);
    }
    return context.get<AuthenticationMetadata[] | undefined>(AuthenticationBindings.METADATA, {optional: true}).then(strategiesFor);
  });
}

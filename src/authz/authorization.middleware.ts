/**
 * The authorization step of the REST middleware chain: after authentication (the verified mTLS
 * identity is SecurityBindings.USER), before parameters are parsed and the method is invoked.
 *
 * It keeps @loopback/authorization's vocabulary (`@authorize` metadata, roles; the same decision
 * is offered through the Authorizer contract in mtls.authorizer.ts) but not its per-request
 * machinery: LoopBack's AuthorizationInterceptor is a global interceptor that, for every request,
 * resolves the authorizer providers through dependency injection and builds an authorization
 * context, and it only runs for controller routes (handler routes, mounted routers, static assets
 * and unknown paths never reach it). Here, per request:
 *   - the route's metadata comes from a cache filled once per controller method (route-authz.ts);
 *   - the policy is the PolicyStore's current compiled matcher (read once: a reload mid-request
 *     does not change this request's decision);
 *   - the decision for (certificate + verified CA path, route metadata) is cached per policy.
 * Every request gets one `authz.decision` audit line. A refusal throws AppError AUTHZ_DENIED /
 * AUTHZ_NO_POLICY / AUTHZ_ISSUER_MISMATCH (403), answered by the reject provider.
 *
 * Default deny: an operation without usable metadata, and every route without a controller, is
 * refused with AUTHZ_NO_POLICY in production; in development and test it is let through with a
 * `warn` decision line (and the start-up audit warns).
 *
 * CORS (off unless CORS_ALLOWED_ORIGINS is set): LoopBack's own cors middleware is removed by the
 * component. With origins configured, a preflight (OPTIONS + Origin + Access-Control-Request-Method)
 * is answered here, after authentication, with the decision the announced request would get; an
 * allowed actual request from a listed origin gets Access-Control-Allow-Origin (that origin) and
 * -Credentials. No `*`, ever.
 */
import {Constructor, Context, CoreBindings} from '@loopback/core';
import {ControllerRoute, HttpHandler, Middleware, MiddlewareContext, Request, ResolvedRoute, RestBindings} from '@loopback/rest';
import {SecurityBindings, UserProfile} from '@loopback/security';
import {AppError} from '../errors';
import {AuthzDecision, AuthzIdentity, CompiledPolicy, evaluatePolicy, fingerprintKey, rolesOf} from '../identity/role-policy';
import {audit, auditPrepared, Logger, prepareAudit, PreparedAudit} from '../logging/logger';
import {LruCache} from '../auth/lru';
import {boundValue} from '../auth/auth-strategy.provider';
import type {PolicyStore} from './policy-source';
import {NO_CONTROLLER, routeAuthz, RouteAuthz} from './route-authz';

export const AUTHORIZATION_MIDDLEWARE_GROUP = 'authorization';

export interface AuthorizationMiddlewareOptions {
  store: PolicyStore;
  logger: Logger;
  /** Refuse operations without policy (production) or only warn. */
  enforceDefaultDeny: boolean;
  corsAllowedOrigins: readonly string[];
  /** Identities whose decisions are remembered per policy (default 10000). */
  cacheSize?: number;
}

/** The policy's view of a UserProfile from the mtls strategy (mtls.strategy.ts toUserProfile). */
export function authzIdentityOf(user: UserProfile): AuthzIdentity {
  const sans = (user.sans ?? {}) as {dns?: string[]; uri?: string[]; email?: string[]; ip?: string[]};
  const cas = Array.isArray(user.caFingerprints256) ? (user.caFingerprints256 as string[]) : [];
  return {
    commonNames: Array.isArray(user.commonNames) ? (user.commonNames as string[]) : [],
    dns: sans.dns ?? [],
    uris: sans.uri ?? [],
    emails: sans.email ?? [],
    ips: sans.ip ?? [],
    caFingerprints: cas.map(fingerprintKey),
  };
}

/** A decision and its audit lines (one per method and preflight flag: the rest of the line is the decision's). */
interface DecisionEntry {
  readonly d: AuthzDecision;
  readonly lines: Map<string, PreparedAudit>;
}

interface CachedIdentity {
  readonly identity: AuthzIdentity;
  readonly decisions: Map<RouteAuthz, DecisionEntry>;
}

interface PolicyCache {
  /** By certificate fingerprint and verified CA path. */
  readonly lru: LruCache<string, CachedIdentity>;
  /**
   * By the UserProfile object itself: the mtls strategy binds one frozen profile per verdict
   * (mtls.strategy.ts userProfileOf), so a kept-alive connection's requests find their entry
   * without building the key.
   */
  readonly byUser: WeakMap<UserProfile, CachedIdentity>;
}

/** Outside production, an operation without policy is let through (with a `warn` line). */
const DEVELOPMENT_ALLOW: AuthzDecision = Object.freeze({allow: true, role: '(none: development)', rule: null});

const NO_IDENTITY: AuthzDecision = Object.freeze({allow: false, code: 'AUTHZ_DENIED', reason: 'no authenticated identity'});

/** Decisions per policy object; a reload starts a fresh cache (the old one goes with its policy). */
export class DecisionCache {
  private readonly perPolicy = new WeakMap<CompiledPolicy, PolicyCache>();
  constructor(private readonly size = 10_000) {}

  /** The identity's cache entry under this policy. */
  identity(policy: CompiledPolicy, user: UserProfile): CachedIdentity {
    let pc = this.perPolicy.get(policy);
    if (!pc) this.perPolicy.set(policy, (pc = {lru: new LruCache(this.size), byUser: new WeakMap()}));
    let entry = pc.byUser.get(user);
    if (entry) return entry;
    const key = `${String(user.fingerprint256)}|${Array.isArray(user.caFingerprints256) ? user.caFingerprints256.join('|') : ''}`;
    entry = pc.lru.get(key);
    if (!entry) {
      entry = {identity: authzIdentityOf(user), decisions: new Map()};
      pc.lru.set(key, entry);
    }
    if (Object.isFrozen(user)) pc.byUser.set(user, entry);
    return entry;
  }

  /** The decision (and its audit lines) for this identity on this route. */
  entry(policy: CompiledPolicy, user: UserProfile, route: RouteAuthz): DecisionEntry {
    const id = this.identity(policy, user);
    let e = id.decisions.get(route);
    if (!e) {
      let d = evaluatePolicy(policy, id.identity, route.allowedRoles);
      if (!d.allow && route.problem && d.code === 'AUTHZ_NO_POLICY') d = {...d, reason: route.problem};
      e = {d, lines: new Map()};
      id.decisions.set(route, e);
    }
    return e;
  }

  decide(policy: CompiledPolicy, user: UserProfile | undefined, route: RouteAuthz): AuthzDecision {
    return user ? this.entry(policy, user, route).d : NO_IDENTITY;
  }
}

const rolesCache = new WeakMap<CompiledPolicy, WeakMap<UserProfile, readonly string[]>>();

/** rolesOf() for a user profile; remembered per policy for the mtls strategy's frozen profiles (one per verdict). */
export function rolesOfUser(policy: CompiledPolicy, user: UserProfile): readonly string[] {
  if (!Object.isFrozen(user)) return rolesOf(policy, authzIdentityOf(user));
  let perUser = rolesCache.get(policy);
  if (!perUser) rolesCache.set(policy, (perUser = new WeakMap()));
  let roles = perUser.get(user);
  if (!roles) perUser.set(user, (roles = Object.freeze(rolesOf(policy, authzIdentityOf(user)))));
  return roles;
}

const TOKEN_METHOD = /^(GET|HEAD|POST|PUT|PATCH|DELETE)$/;
const HEADER_LIST = /^[A-Za-z0-9-]+(\s*,\s*[A-Za-z0-9-]+){0,31}$/;

/** The controller method behind a resolved route (LoopBack keeps them on ControllerRoute). */
function routeOf(route: ResolvedRoute | undefined): RouteAuthz {
  if (route instanceof ControllerRoute) {
    const r = route as unknown as {_controllerCtor?: Constructor<unknown>; _methodName?: string};
    return routeAuthz(r._controllerCtor, r._methodName);
  }
  return NO_CONTROLLER;
}

export function createAuthorizationMiddleware(o: AuthorizationMiddlewareOptions): Middleware {
  const cache = new DecisionCache(o.cacheSize);
  const origins = new Set(o.corsAllowedOrigins);
  const cors = origins.size > 0;
  const optional = {optional: true};

  const decideAndAudit = (ctx: Context, request: Request, policy: CompiledPolicy, route: RouteAuthz, preflight: boolean): AuthzDecision => {
    const user = boundValue<UserProfile>(ctx, SecurityBindings.USER.key);
    const entry = user ? cache.entry(policy, user, route) : undefined;
    const d = entry ? entry.d : NO_IDENTITY;
    const warnOnly = !d.allow && d.code === 'AUTHZ_NO_POLICY' && !o.enforceDefaultDeny;
    // The line depends on the decision, the identity and the route, all fixed for the entry, and
    // on the method and the preflight flag: built once per entry and method.
    const lineKey = preflight ? `${request.method} preflight` : request.method;
    let line = entry?.lines.get(lineKey);
    if (!line) {
      line = prepareAudit({
        event: 'authz.decision',
        decision: d.allow ? 'allow' : warnOnly ? 'warn' : 'deny',
        ...(d.allow ? {} : {code: d.code}),
        method: request.method,
        operation: route.operation,
        ...(preflight ? {preflight: true} : {}),
        subject: user?.subject,
        serial: user?.serial,
        fingerprint: user?.fingerprint256,
        role: d.role,
        rule: d.rule,
        ...(d.allow ? {} : {reason: d.reason}),
        policy: policy.source,
        policyLoadedAt: policy.loadedAt,
      });
      // Methods are the HTTP parser's fixed set: the map stays small.
      entry?.lines.set(lineKey, line);
    }
    auditPrepared(o.logger, line);
    return warnOnly ? DEVELOPMENT_ALLOW : d;
  };

  return async (ctx: MiddlewareContext, next) => {
    const policy = o.store.current;
    const {request, response} = ctx;
    const origin = cors ? request.headers.origin : undefined;
    const announced = request.method === 'OPTIONS' ? request.headers['access-control-request-method'] : undefined;
    if (cors && origin !== undefined && typeof announced === 'string') {
      // Preflight: authenticated already (an OPTIONS route has the default metadata); authorized
      // as the request it announces. The answer comes from here, never from a handler.
      if (!origins.has(origin) || !TOKEN_METHOD.test(announced)) {
        const code = origins.has(origin) ? 'AUTHZ_NO_POLICY' : 'CORS_ORIGIN_DENIED';
        const user = ctx.getSync<UserProfile | undefined>(SecurityBindings.USER, optional);
        audit(o.logger, {
          event: 'authz.decision',
          decision: 'deny',
          code,
          method: request.method,
          operation: '(preflight)',
          preflight: true,
          subject: user?.subject,
          serial: user?.serial,
          fingerprint: user?.fingerprint256,
          reason: code === 'CORS_ORIGIN_DENIED' ? 'origin not in CORS_ALLOWED_ORIGINS' : 'announced method not supported',
          policy: policy.source,
          policyLoadedAt: policy.loadedAt,
        });
        throw new AppError(code, code === 'CORS_ORIGIN_DENIED' ? 'origin not allowed' : 'access denied');
      }
      let target: ResolvedRoute | undefined;
      try {
        const handler = ctx.getSync<HttpHandler>(RestBindings.HANDLER);
        target = handler.findRoute(Object.create(request, {method: {value: announced}}) as Request);
      } catch {
        target = undefined;
      }
      const d = decideAndAudit(ctx, request, policy, routeOf(target), true);
      if (!d.allow) throw new AppError(d.code, 'access denied');
      response.statusCode = 204;
      response.setHeader('Access-Control-Allow-Origin', origin);
      response.setHeader('Access-Control-Allow-Credentials', 'true');
      response.setHeader('Access-Control-Allow-Methods', announced);
      const wanted = request.headers['access-control-request-headers'];
      if (typeof wanted === 'string' && HEADER_LIST.test(wanted)) response.setHeader('Access-Control-Allow-Headers', wanted);
      response.setHeader('Access-Control-Max-Age', '600');
      response.setHeader('Vary', 'Origin');
      response.setHeader('Content-Length', '0');
      response.end();
      return response;
    }
    const route = routeAuthz(
      boundValue<Constructor<unknown>>(ctx, CoreBindings.CONTROLLER_CLASS.key),
      boundValue<string>(ctx, CoreBindings.CONTROLLER_METHOD_NAME.key),
    );
    const d = decideAndAudit(ctx, request, policy, route, false);
    if (!d.allow) throw new AppError(d.code, 'access denied');
    if (origin !== undefined && origins.has(origin)) {
      response.setHeader('Access-Control-Allow-Origin', origin);
      response.setHeader('Access-Control-Allow-Credentials', 'true');
      response.setHeader('Vary', 'Origin');
    }
    return next();
  };
}

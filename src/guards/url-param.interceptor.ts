/**
 * Defence in depth for routes that take URL / path / socket / container-id inputs: a global
 * interceptor that applies the guard's pure functions to the *parsed* arguments (after LoopBack's
 * own decoding and coercion) — inspectValue() on every string, and the static half of the SSRF
 * policy (checkOutboundUrl) on every input that denotes a URL.
 *
 * Which routes: those whose operation spec has a parameter or a request-body property that
 * classifyField() (src/audit/openapi-audit.ts) marks as url / host-path / socket / container-id. Other routes
 * pass through untouched. The interceptor only runs for controller invocations (a request that
 * matches no route is the middleware's business).
 *
 * Rejections throw AppError (GUARD_* / SSRF_* codes); the application's reject action renders
 * them as `{error: {code, message}}`. One audit() line per rejection.
 */
import {BindingScope, globalInterceptor, inject, Interceptor, InvocationContext, Next, NonVoid, Provider, ValueOrPromise} from '@loopback/core';
import {RestBindings, RouteEntry} from '@loopback/rest';
import {AppError, ERROR_CODES, ErrorCode} from '../errors';
import {audit} from '../logging/logger';
import {classifyField, SensitiveKind} from '../audit/openapi-audit';
import {GuardsBindings, GuardsOptions} from './keys';
import {DEFAULT_INSPECT_LIMITS, inspectValue, InspectLimits} from './request-policy';
import {checkOutboundUrl, compileOutboundPolicy, OutboundPolicy} from '../outbound/url-policy';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

interface ArgSlot {
  name: string;
  schema: unknown;
}

/** Names (and schemas) of the invocation arguments, in LoopBack's order (parameters, body spliced in). */
function argumentSlots(spec: Json): ArgSlot[] {
  const params = Array.isArray(spec.parameters) ? spec.parameters.filter(isObj) : [];
  const slots: ArgSlot[] = params.map(p => ({name: String(p.name ?? ''), schema: p.schema}));
  if (isObj(spec.requestBody)) {
    const index = typeof spec.requestBody['x-parameter-index'] === 'number' ? spec.requestBody['x-parameter-index'] : 0;
    const content = isObj(spec.requestBody.content) ? Object.values(spec.requestBody.content) : [];
    const schema = content.find(isObj)?.schema;
    slots.splice(index, 0, {name: '', schema});
  }
  return slots;
}

/** Does the operation take a sensitive input anywhere (parameters or body properties)? */
export function routeTakesSensitiveInput(spec: Json): boolean {
  let found = false;
  const seen = new WeakSet<object>();
  const walk = (schema: unknown, depth: number) => {
    if (found || !isObj(schema) || depth > 16 || seen.has(schema)) return;
    seen.add(schema);
    if (isObj(schema.properties)) {
      for (const [n, s] of Object.entries(schema.properties)) {
        if (classifyField(n, s)) found = true;
        walk(s, depth + 1);
      }
    }
    if (isObj(schema.items)) walk(schema.items, depth + 1);
  };
  for (const slot of argumentSlots(spec)) {
    if (slot.name && classifyField(slot.name, slot.schema)) return true;
    walk(slot.schema, 0);
  }
  return found;
}

/**
 * Per operation spec (route specs are built once at start-up): the argument slots when the route
 * takes a sensitive input, else null. Computed on first use instead of walking the spec and
 * classifying every field on every request.
 */
const ROUTE_ANALYSIS = new WeakMap<object, readonly ArgSlot[] | null>();

export function sensitiveSlotsOf(spec: Json): readonly ArgSlot[] | null {
  const hit = ROUTE_ANALYSIS.get(spec);
  if (hit !== undefined) return hit;
  const slots = routeTakesSensitiveInput(spec) ? argumentSlots(spec) : null;
  ROUTE_ANALYSIS.set(spec, slots);
  return slots;
}

/**
 * The route of a REST invocation: LoopBack passes it as the invocation's source
 * (`RouteSource`, type 'route'), so no context lookup is needed per request; any other
 * invocation (a proxy, a fork's own `invokeMethod`) falls back to the bound route, if any.
 */
function routeOf(ctx: InvocationContext): RouteEntry | undefined {
  const source = ctx.source as {type?: unknown; value?: unknown} | undefined;
  if (source?.type === 'route' && source.value && typeof source.value === 'object' && 'spec' in source.value) return source.value as RouteEntry;
  return ctx.getSync<RouteEntry | undefined>(RestBindings.Operation.ROUTE, {optional: true});
}

interface Rejection {
  code: ErrorCode;
  ruleId: string;
  location: string;
}

/**
 * A singleton: LoopBack binds interceptor and middleware providers TRANSIENT by default, which
 * re-ran this constructor (and compileOutboundPolicy => ipaddr.parseCIDR for every configured
 * CIDR) on every request. The provider holds no per-request state.
 */
@globalInterceptor('guard', {tags: {name: 'guardsUrlParam'}, scope: BindingScope.SINGLETON})
export class UrlParamInterceptor implements Provider<Interceptor> {
  private readonly policy: OutboundPolicy;
  private readonly limits: InspectLimits;

  constructor(@inject(GuardsBindings.OPTIONS) private readonly options: GuardsOptions) {
    this.policy = compileOutboundPolicy(options.config.outbound);
    this.limits = {...DEFAULT_INSPECT_LIMITS, ...(options.limits ?? {})};
  }

  value(): Interceptor {
    return (ctx, next) => this.intercept(ctx, next);
  }

  intercept(ctx: InvocationContext, next: Next): ValueOrPromise<NonVoid> {
    const route = routeOf(ctx);
    const spec = route?.spec as Json | undefined;
    const slots = spec ? sensitiveSlotsOf(spec) : null;
    // Most routes take no sensitive input: straight on, no promise of our own.
    if (!slots) return next();
    return this.checkAndContinue(ctx, route!, slots, next);
  }

  private async checkAndContinue(ctx: InvocationContext, route: RouteEntry, slots: readonly ArgSlot[], next: Next): Promise<NonVoid> {
    const rejection = this.checkArguments(ctx.args, slots);
    if (rejection) {
      audit(this.options.logger, {
        event: 'guard.param',
        decision: 'deny',
        code: rejection.code,
        ruleId: rejection.ruleId,
        location: rejection.location,
        route: `${route.verb.toUpperCase()} ${route.path}`,
      });
      throw new AppError(rejection.code, ERROR_CODES[rejection.code].doc, {ruleId: rejection.ruleId, location: rejection.location});
    }
    return next();
  }

  /** Walk the arguments (bounded) and return the first rejection. */
  checkArguments(args: readonly unknown[], slots: readonly ArgSlot[]): Rejection | null {
    let nodes = 0;
    const visit = (value: unknown, name: string, schema: unknown, location: string, depth: number): Rejection | null => {
      if (++nodes > this.limits.maxNodes || depth > this.limits.maxDepth)
        return {code: 'GUARD_MALFORMED_INPUT', ruleId: 'MF-JSON-TOO-LARGE', location};
      if (typeof value === 'string') {
        const kind: SensitiveKind | null = name ? classifyField(name, schema) : null;
        if (kind === 'url') {
          const v = checkOutboundUrl(value, this.policy);
          if (!v.ok) return {code: v.code, ruleId: `SSRF-${v.reason.split(':')[0].toUpperCase()}`, location};
        }
        const f = inspectValue(value, 'param', this.limits);
        return f ? {code: f.code, ruleId: f.ruleId, location} : null;
      }
      if (Array.isArray(value)) {
        const items = isObj(schema) ? schema.items : undefined;
        for (let i = 0; i < value.length; i++) {
          const r = visit(value[i], name, items, `${location}/${i}`, depth + 1);
          if (r) return r;
        }
        return null;
      }
      if (isObj(value)) {
        const props = isObj(schema) && isObj(schema.properties) ? schema.properties : {};
        let i = 0;
        for (const [k, v] of Object.entries(value)) {
          const key = /^[A-Za-z0-9_.-]{1,64}$/.test(k) ? k : `#${i}`;
          const keyFinding = inspectValue(k, 'param', this.limits);
          if (keyFinding) return {code: keyFinding.code, ruleId: keyFinding.ruleId, location: `${location}/${key}`};
          const r = visit(v, k, props[k], `${location}/${key}`, depth + 1);
          if (r) return r;
          i++;
        }
      }
      return null;
    };
    for (let i = 0; i < args.length; i++) {
      const slot = slots[i] ?? {name: '', schema: undefined};
      const r = visit(args[i], slot.name, slot.schema, slot.name ? `param:${slot.name}` : 'body:', 0);
      if (r) return r;
    }
    return null;
  }
}

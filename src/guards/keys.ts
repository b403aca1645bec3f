/**
 * Binding keys of the guards component (BindingKey.create<T>() only).
 */
import {BindingKey} from '@loopback/core';
import type {AppConfig} from '../config/config';
import type {Logger} from '../logging/logger';
import type {OutboundClient, OutboundDeps} from '../outbound/outbound-client';
import type {InspectLimits} from './request-policy';

/** What the GuardsComponent needs from the application (bind it before `app.component(GuardsComponent)`). */
export interface GuardsOptions {
  /** The validated configuration; `http.maxBodyBytes` and `outbound` are read. */
  readonly config: Pick<AppConfig, 'http' | 'outbound'>;
  /** The service logger: every guard refusal is one audit() line on it (allow lines: auditAllowed). */
  readonly logger: Logger;
  /** Test hooks for the outbound client (stub DNS, connect shim, trust anchors). Never set in production. */
  readonly outboundDeps?: OutboundDeps;
  /** Override inspection limits (defaults: DEFAULT_INSPECT_LIMITS). */
  readonly limits?: Partial<InspectLimits>;
  /**
   * Also write a guard.decision allow line for requests the guard lets through (default false).
   * A request the guard lets through gets its one decision line from the authentication step
   * (auth.decision, unknown routes included); a refused one gets the guard's deny line. Turning
   * this on adds a second line per request (about 10 µs each, docs/benchmarks-fixes.md).
   */
  readonly auditAllowed?: boolean;
}

export namespace GuardsBindings {
  /** Input: bound by the application. */
  export const OPTIONS = BindingKey.create<GuardsOptions>('guards.options');
  /** Output: the SSRF-safe outbound client (a singleton; closed when the application stops). */
  export const OUTBOUND_CLIENT = BindingKey.create<OutboundClient>('guards.outboundClient');
  /** The component instance (LoopBack's default component key). */
  export const COMPONENT = BindingKey.create<unknown>('components.GuardsComponent');
  /** Key of the request-guard middleware binding. */
  export const REQUEST_GUARD_MIDDLEWARE = 'middleware.guards.requestGuard';
  /** Key of the URL-parameter global interceptor binding. */
  export const URL_PARAM_INTERCEPTOR = 'globalInterceptors.guards.urlParam';
}

/** The middleware group of the request guard, and where it sits in the REST middleware chain. */
export const GUARD_MIDDLEWARE_GROUP = 'guard';

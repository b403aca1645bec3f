/**
 * GuardsComponent: request guard middleware, URL-parameter interceptor and the SSRF-safe outbound
 * client, for a RestApplication.
 *
 * WHAT THE COMPONENT NEEDS (bind before mounting):
 *
 *   app.bind(GuardsBindings.OPTIONS).to({config: appConfig, logger});   // GuardsOptions (keys.ts)
 *   app.component(GuardsComponent);
 *
 *   - `config`: the AppConfig from parseConfig() (reads `http.maxBodyBytes` and `outbound`);
 *   - `logger`: the service's pino logger (audit lines: guard.decision, guard.param,
 *     outbound.decision, outbound.connect);
 *   - `outboundDeps` (tests only): stub lookup / connect shim / CA for the outbound client.
 *   The application must use LoopBack's default MiddlewareSequence (the guard is a middleware of the
 *   REST chain), and its reject action should render AppError as `{error: {code, message}}` with
 *   `statusCode` (the interceptor throws AppError; the middleware writes its own responses).
 *
 * WHAT IT PROVIDES:
 *   - middleware `middleware.guards.requestGuard` (group 'guard', before cors/apiSpec/findRoute);
 *   - global interceptor `globalInterceptors.guards.urlParam` (group 'guard');
 *   - `GuardsBindings.OUTBOUND_CLIENT`: one OutboundClient (for POST /fetch and CRL/OCSP
 *     fetching), closed when the application stops (the component is a life-cycle observer).
 *
 * Operations that fetch a URL through the OutboundClient should carry `'x-outbound-client': true`
 * in their OpenAPI operation spec, or the OpenAPI audit reports OA-URL-PARAM-UNGUARDED (high).
 */
import {Binding, BindingScope, Component, createBindingFromClass, inject, LifeCycleObserver} from '@loopback/core';
import {createMiddlewareBinding} from '@loopback/rest';
import {GuardsBindings, GuardsOptions} from './keys';
import {OutboundClient} from '../outbound/outbound-client';
import {REQUEST_GUARD_MIDDLEWARE_OPTIONS, RequestGuardMiddlewareProvider} from './request-guard.middleware';
import {UrlParamInterceptor} from './url-param.interceptor';

export class GuardsComponent implements Component, LifeCycleObserver {
  readonly bindings: Binding[];
  private readonly outbound: OutboundClient;

  constructor(@inject(GuardsBindings.OPTIONS) options: GuardsOptions) {
    if (!options || !options.config || !options.logger) {
      throw new Error('GuardsComponent: bind GuardsBindings.OPTIONS ({config, logger}) before app.component(GuardsComponent)');
    }
    this.outbound = new OutboundClient(options.config.outbound, options.logger, options.outboundDeps);
    this.bindings = [
      Binding.bind(GuardsBindings.OUTBOUND_CLIENT).to(this.outbound).inScope(BindingScope.SINGLETON),
      // Singletons: the providers compile their options (limits, outbound policy) once, not per request.
      createMiddlewareBinding(RequestGuardMiddlewareProvider, {
        ...REQUEST_GUARD_MIDDLEWARE_OPTIONS,
        key: GuardsBindings.REQUEST_GUARD_MIDDLEWARE,
      }).inScope(BindingScope.SINGLETON),
      createBindingFromClass(UrlParamInterceptor, {key: GuardsBindings.URL_PARAM_INTERCEPTOR}).inScope(BindingScope.SINGLETON),
    ];
  }

  async stop(): Promise<void> {
    await this.outbound.close();
  }
}

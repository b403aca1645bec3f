/**
 * MtlsAuthenticationComponent: registers the `mtls` strategy and makes it the default for
 * every route. A route opts out only with an explicit `@authenticate.skip()`, which the
 * OpenAPI audit reports.
 */
import {Application, Component, config, ContextTags, CoreBindings, createBindingFromClass, inject, injectable} from '@loopback/core';
import {AuthenticationBindings, AuthenticationComponent} from '@loopback/authentication';
import {MtlsAuthBindings} from './keys';
import {MtlsAuthenticationStrategy} from './mtls.strategy';

export interface MtlsAuthenticationOptions {
  /** Apply the strategy to every route unless it opts out explicitly (default true). */
  applyToAllRoutes: boolean;
}

export const DEFAULT_MTLS_AUTHENTICATION_OPTIONS: MtlsAuthenticationOptions = Object.freeze({applyToAllRoutes: true});

@injectable({tags: {[ContextTags.KEY]: MtlsAuthBindings.COMPONENT_OPTIONS.key}})
export class MtlsAuthenticationComponent implements Component {
  bindings = [createBindingFromClass(MtlsAuthenticationStrategy, {key: MtlsAuthBindings.STRATEGY})];

  constructor(
    @inject(CoreBindings.APPLICATION_INSTANCE) app: Application,
    @config() options: Partial<MtlsAuthenticationOptions> = {},
  ) {
    const opts = {...DEFAULT_MTLS_AUTHENTICATION_OPTIONS, ...options};
    app.component(AuthenticationComponent);
    if (opts.applyToAllRoutes) {
      app.configure(AuthenticationBindings.COMPONENT).to({defaultMetadata: [{strategy: 'mtls'}]});
    }
  }
}

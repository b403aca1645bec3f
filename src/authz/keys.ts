import {BindingKey} from '@loopback/core';
import type {Authorizer} from '@loopback/authorization';
import type {PolicyStore} from './policy-source';

export namespace AuthzBindings {
  /** The role policy in force (reloadable); `store.current` is the compiled matcher. */
  export const POLICY_STORE = BindingKey.create<PolicyStore>('hardened.authz.policyStore');
  /**
   * The mTLS role authorizer with @loopback/authorization's Authorizer contract (mtls.authorizer.ts),
   * for a fork that wants LoopBack's AuthorizationComponent/interceptor; the service itself decides
   * in the authorization middleware (same evaluator, cached path).
   */
  export const AUTHORIZER = BindingKey.create<Authorizer>('authorizationProviders.mtls-roles');
}

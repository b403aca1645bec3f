/**
 * The mTLS role policy behind @loopback/authorization's Authorizer contract:
 * `(authorizationCtx, metadata) => ALLOW | DENY`. The principal is the UserProfile of the `mtls`
 * strategy; the decision is evaluatePolicy (src/identity/role-policy.ts) over the store's current
 * policy, exactly what the authorization middleware decides. Never ABSTAIN: no metadata, no
 * identity or an error is DENY (fail closed).
 */
import {injectable, inject, Provider} from '@loopback/core';
import {AuthorizationContext, AuthorizationDecision, AuthorizationMetadata, AuthorizationTags, Authorizer} from '@loopback/authorization';
import type {UserProfile} from '@loopback/security';
import {evaluatePolicy} from '../identity/role-policy';
import {authzIdentityOf} from './authorization.middleware';
import {AuthzBindings} from './keys';
import type {PolicyStore} from './policy-source';
import {routeAuthzOf} from './route-authz';

@injectable({tags: {[AuthorizationTags.AUTHORIZER]: true}})
export class MtlsRoleAuthorizerProvider implements Provider<Authorizer> {
  constructor(@inject(AuthzBindings.POLICY_STORE) private readonly store: PolicyStore) {}

  value(): Authorizer {
    return async (ctx: AuthorizationContext, metadata: AuthorizationMetadata) => {
      try {
        const user = ctx.principals[0] as UserProfile | undefined;
        if (!user) return AuthorizationDecision.DENY;
        const route = routeAuthzOf(ctx.resource, metadata);
        const d = evaluatePolicy(this.store.current, authzIdentityOf(user), route.allowedRoles);
        return d.allow ? AuthorizationDecision.ALLOW : AuthorizationDecision.DENY;
      } catch {
        return AuthorizationDecision.DENY;
      }
    };
  }
}

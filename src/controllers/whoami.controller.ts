import {authorize} from '@loopback/authorization';
import {inject} from '@loopback/core';
import {get} from '@loopback/rest';
import {SecurityBindings, UserProfile} from '@loopback/security';
import {rolesOfUser} from '../authz/authorization.middleware';
import {AuthzBindings} from '../authz/keys';
import type {PolicyStore} from '../authz/policy-source';

export interface WhoAmI {
  subject: string;
  issuer: string;
  serial: string;
  fingerprint256: string;
  sans: {dns: string[]; uri: string[]; email: string[]; ip: string[]};
  /** The roles of the policy in force that this identity holds (SAN rule and issuer binding). */
  roles: string[];
}

export class WhoAmIController {
  constructor(@inject(AuthzBindings.POLICY_STORE) private readonly policy: PolicyStore) {}

  @authorize.allowAuthenticated()
  @get('/whoami', {
    summary: 'The identity the mTLS authenticator established for this caller.',
    responses: {
      '200': {
        description: 'authenticated identity',
        content: {
          'application/json': {
            schema: {
              type: 'object',
              properties: {
                subject: {type: 'string'},
                issuer: {type: 'string'},
                serial: {type: 'string'},
                fingerprint256: {type: 'string'},
                roles: {type: 'array', items: {type: 'string'}},
                sans: {
                  type: 'object',
                  properties: {
                    dns: {type: 'array', items: {type: 'string'}},
                    uri: {type: 'array', items: {type: 'string'}},
                    email: {type: 'array', items: {type: 'string'}},
                    ip: {type: 'array', items: {type: 'string'}},
                  },
                },
              },
            },
          },
        },
      },
    },
  })
  whoami(@inject(SecurityBindings.USER) user: UserProfile): WhoAmI {
    const roles = [...rolesOfUser(this.policy.current, user)];
    return {subject: user.subject, issuer: user.issuer, serial: user.serial, fingerprint256: user.fingerprint256, sans: user.sans, roles};
  }
}

import {inject} from '@loopback/core';
import {get} from '@loopback/rest';
import {SecurityBindings, UserProfile} from '@loopback/security';

export interface WhoAmI {
  subject: string;
  issuer: string;
  serial: string;
  fingerprint256: string;
  sans: {dns: string[]; uri: string[]; email: string[]; ip: string[]};
}

export class WhoAmIController {
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
                subject: {type: 'string'}, issuer: {type: 'string'}, serial: {type: 'string'}, fingerprint256: {type: 'string'},
                sans: {type: 'object', properties: {
                  dns: {type: 'array', items: {type: 'string'}}, uri: {type: 'array', items: {type: 'string'}},
                  email: {type: 'array', items: {type: 'string'}}, ip: {type: 'array', items: {type: 'string'}},
                }},
              },
            },
          },
        },
      },
    },
  })
  whoami(@inject(SecurityBindings.USER) user: UserProfile): WhoAmI {
    return {subject: user.subject, issuer: user.issuer, serial: user.serial, fingerprint256: user.fingerprint256, sans: user.sans};
  }
}

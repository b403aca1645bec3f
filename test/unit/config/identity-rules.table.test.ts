import assert from 'node:assert/strict';
import {CertificateIdentity, matchIdentity, parseIdentityRules} from '../../../src/identity/identity-rules';

const none: CertificateIdentity = {commonNames: [], dns: [], uris: [], emails: [], ips: []};
const id = (p: Partial<CertificateIdentity>): CertificateIdentity => ({...none, ...p});

describe('auth: identity rules (unit)', () => {
  const cases: [string, string, CertificateIdentity, boolean][] = [
    ['uri exact', 'uri:spiffe://td/ns/a', id({uris: ['spiffe://td/ns/a']}), true],
    ['uri segment wildcard', 'uri:spiffe://td/ns/*', id({uris: ['spiffe://td/ns/a']}), true],
    ['uri wildcard is one segment only', 'uri:spiffe://td/ns/*', id({uris: ['spiffe://td/ns/a/b']}), false],
    ['uri wildcard needs a non-empty segment', 'uri:spiffe://td/ns/*', id({uris: ['spiffe://td/ns/']}), false],
    ['uri other trust domain', 'uri:spiffe://td/ns/*', id({uris: ['spiffe://evil/ns/a']}), false],
    ['uri percent-encoded segment is not equivalent', 'uri:spiffe://td/ns/a', id({uris: ['spiffe://td/ns/%61']}), false],
    ['uri dot segment is not equivalent', 'uri:spiffe://td/ns/a', id({uris: ['spiffe://td/ns/x/../a']}), false],
    ['dns exact, case-insensitive', 'dns:svc.example.org', id({dns: ['SVC.example.org']}), true],
    ['dns wildcard matches one label', 'dns:*.example.org', id({dns: ['a.example.org']}), true],
    ['dns wildcard does not match two labels', 'dns:*.example.org', id({dns: ['a.b.example.org']}), false],
    ['dns wildcard does not match the apex', 'dns:*.example.org', id({dns: ['example.org']}), false],
    ['dns with NUL never matches', 'dns:svc.example.org', id({dns: ['svc.example.org\u0000.evil']}), false],
    ['email local part is case-sensitive, domain is not', 'email:Ops@Example.org', id({emails: ['Ops@EXAMPLE.ORG']}), true],
    ['email other local part', 'email:ops@example.org', id({emails: ['dev@example.org']}), false],
    ['ip v4', 'ip:10.0.0.1', id({ips: ['10.0.0.1']}), true],
    ['ip v6 canonical forms', 'ip:2001:db8::1', id({ips: ['2001:0db8:0:0:0:0:0:1']}), true],
    ['cn only when a cn rule exists', 'dns:client', id({commonNames: ['client']}), false],
    ['cn exact', 'cn:client', id({commonNames: ['client']}), true],
    ['cn with NUL never matches', 'cn:client', id({commonNames: ['client\u0000']}), false],
    ['cn with control char never matches', 'cn:client', id({commonNames: ['cli\u0007ent']}), false],
    ['no SAN at all', 'uri:spiffe://td/*', none, false],
  ];
  for (const [name, rules, identity, expected] of cases) {
    it(`${expected ? 'matches' : 'refuses'}: ${name}`, () => {
      assert.equal(matchIdentity(parseIdentityRules(rules), identity) !== undefined, expected);
    });
  }

  it('an empty rule list matches nothing', () => {
    assert.equal(matchIdentity([], id({uris: ['spiffe://td/a']})), undefined);
  });
});

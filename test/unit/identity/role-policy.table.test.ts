/**
 * The pure role policy (src/identity/role-policy.ts): document validation, env form, compilation
 * and evaluation, table-driven.
 */
import assert from 'node:assert/strict';
import {parsePolicyText} from '../../../src/authz/policy-source';
import {routeAuthzOf} from '../../../src/authz/route-authz';
import {
  AuthzIdentity,
  builtInPolicyDocument,
  compilePolicy,
  evaluatePolicy,
  normalizeFingerprint,
  parseRolesEnv,
  PolicyError,
  rolesOf,
  unknownRoles,
  validatePolicyDocument,
} from '../../../src/identity/role-policy';

const CA_A = 'AA'.repeat(32);
const CA_B = 'BB'.repeat(32);
const CA_TD = 'CC'.repeat(32);
const colon = (hex: string) => hex.match(/../g)!.join(':');

function id(p: Partial<AuthzIdentity>): AuthzIdentity {
  return {commonNames: [], dns: [], uris: [], emails: [], ips: [], caFingerprints: [], ...p};
}

const policy = compilePolicy(
  validatePolicyDocument({
    version: 1,
    roles: {
      operator: {rules: ['uri:spiffe://prod.example/ops/*'], issuers: [`sha256:${colon(CA_A)}`]},
      reader: {
        rules: [
          'dns:*.readers.example',
          {match: 'email:qa@example.org', issuers: [`sha256:${CA_B.toLowerCase()}`]},
          'ip:192.0.2.7',
          'cn:legacy-client',
        ],
      },
      partner: {rules: ['uri:spiffe://partner.example/qa']},
      nobody: {rules: []},
    },
    trustDomains: {'partner.example': {bundle: 'partner.pem'}},
  }),
  'test',
  new Map([['partner.example', [CA_TD]]]),
);

describe('role policy: evaluation (unit)', () => {
  const cases: [string, AuthzIdentity, string[] | undefined, {allow: boolean; code?: string; role?: string}][] = [
    [
      'no metadata -> AUTHZ_NO_POLICY',
      id({uris: ['spiffe://prod.example/ops/a'], caFingerprints: [CA_A]}),
      undefined,
      {allow: false, code: 'AUTHZ_NO_POLICY'},
    ],
    ['empty allowedRoles -> AUTHZ_NO_POLICY', id({}), [], {allow: false, code: 'AUTHZ_NO_POLICY'}],
    ['$authenticated: any identity', id({}), ['$authenticated'], {allow: true, role: '$authenticated'}],
    [
      'operator from CA A',
      id({uris: ['spiffe://prod.example/ops/a'], caFingerprints: ['11'.repeat(32), CA_A]}),
      ['operator'],
      {allow: true, role: 'operator'},
    ],
    [
      'operator SAN from CA B -> AUTHZ_ISSUER_MISMATCH',
      id({uris: ['spiffe://prod.example/ops/a'], caFingerprints: [CA_B]}),
      ['operator'],
      {allow: false, code: 'AUTHZ_ISSUER_MISMATCH', role: 'operator'},
    ],
    [
      'operator SAN, no CA path -> AUTHZ_ISSUER_MISMATCH',
      id({uris: ['spiffe://prod.example/ops/a']}),
      ['operator'],
      {allow: false, code: 'AUTHZ_ISSUER_MISMATCH'},
    ],
    [
      'wildcard is one segment only',
      id({uris: ['spiffe://prod.example/ops/a/b'], caFingerprints: [CA_A]}),
      ['operator'],
      {allow: false, code: 'AUTHZ_DENIED'},
    ],
    ['other trust domain', id({uris: ['spiffe://evil.example/ops/a'], caFingerprints: [CA_A]}), ['operator'], {allow: false, code: 'AUTHZ_DENIED'}],
    ['reader by dns wildcard (any CA)', id({dns: ['x.readers.example'], caFingerprints: [CA_B]}), ['reader'], {allow: true, role: 'reader'}],
    ['dns wildcard does not match two labels', id({dns: ['a.b.readers.example']}), ['reader'], {allow: false, code: 'AUTHZ_DENIED'}],
    ['reader by email bound to CA B', id({emails: ['qa@EXAMPLE.org'], caFingerprints: [CA_B]}), ['reader'], {allow: true, role: 'reader'}],
    [
      'reader email from CA A -> mismatch',
      id({emails: ['qa@example.org'], caFingerprints: [CA_A]}),
      ['reader'],
      {allow: false, code: 'AUTHZ_ISSUER_MISMATCH'},
    ],
    ['reader by ip (canonical form)', id({ips: ['192.0.2.7']}), ['reader'], {allow: true, role: 'reader'}],
    ['reader by cn', id({commonNames: ['legacy-client']}), ['reader'], {allow: true, role: 'reader'}],
    [
      'partner bound to its trust-domain bundle',
      id({uris: ['spiffe://partner.example/qa'], caFingerprints: [CA_TD]}),
      ['partner'],
      {allow: true, role: 'partner'},
    ],
    [
      'partner SAN from another CA -> mismatch (trust-domain)',
      id({uris: ['spiffe://partner.example/qa'], caFingerprints: [CA_A]}),
      ['partner'],
      {allow: false, code: 'AUTHZ_ISSUER_MISMATCH'},
    ],
    ['a role held by nobody', id({uris: ['spiffe://prod.example/ops/a'], caFingerprints: [CA_A]}), ['nobody'], {allow: false, code: 'AUTHZ_DENIED'}],
    [
      'a role missing from the policy is held by nobody',
      id({uris: ['spiffe://prod.example/ops/a'], caFingerprints: [CA_A]}),
      ['ghost'],
      {allow: false, code: 'AUTHZ_DENIED'},
    ],
    ['second allowed role matches', id({dns: ['x.readers.example']}), ['operator', 'reader'], {allow: true, role: 'reader'}],
    [
      'mismatch on one role, match on another -> allow',
      id({uris: ['spiffe://prod.example/ops/a'], dns: ['x.readers.example'], caFingerprints: [CA_B]}),
      ['operator', 'reader'],
      {allow: true, role: 'reader'},
    ],
    ['control characters never match', id({dns: ['x\u0000.readers.example']}), ['reader'], {allow: false, code: 'AUTHZ_DENIED'}],
  ];
  for (const [name, identity, roles, want] of cases) {
    it(name, () => {
      const d = evaluatePolicy(policy, identity, roles);
      assert.equal(d.allow, want.allow, JSON.stringify(d));
      if (!d.allow) assert.equal(d.code, want.code);
      if (want.role) assert.equal(d.role, want.role);
    });
  }

  it('rolesOf lists the roles held, issuer binding included', () => {
    assert.deepEqual(rolesOf(policy, id({uris: ['spiffe://prod.example/ops/a'], dns: ['x.readers.example'], caFingerprints: [CA_A]})), [
      'operator',
      'reader',
    ]);
    assert.deepEqual(rolesOf(policy, id({uris: ['spiffe://prod.example/ops/a'], caFingerprints: [CA_B]})), []);
  });

  it('unknownRoles names roles absent from the policy ($authenticated is built in)', () => {
    assert.deepEqual(unknownRoles(policy, ['operator', '$authenticated', 'ghost', 'ghost']), ['ghost']);
  });

  it('a listed trust domain whose bundle was not read binds to nothing (fail closed)', () => {
    const p = compilePolicy(
      validatePolicyDocument({
        version: 1,
        roles: {p: {rules: ['uri:spiffe://partner.example/qa']}},
        trustDomains: {'partner.example': {bundle: 'x.pem'}},
      }),
      't',
    );
    assert.equal(evaluatePolicy(p, id({uris: ['spiffe://partner.example/qa'], caFingerprints: [CA_TD]}), ['p']).allow, false);
  });
});

describe('role policy: documents (unit)', () => {
  const invalid: [string, unknown, RegExp][] = [
    ['not a mapping', [], /must be a mapping/],
    ['unknown top-level key', {version: 1, roles: {}, extra: 1}, /unknown key "extra"/],
    ['wrong version', {version: 2, roles: {}}, /version: must be 1/],
    ['roles missing', {version: 1}, /roles/],
    ['unknown role key', {version: 1, roles: {a: {rules: [], allow: ['x']}}}, /unknown key "allow"/],
    ['bad role name', {version: 1, roles: {$admin: {rules: []}}}, /role names/],
    ['upper-case role name', {version: 1, roles: {Admin: {rules: []}}}, /role names/],
    ['rules not a list', {version: 1, roles: {a: {rules: 'dns:x'}}}, /must be a list/],
    ['empty rule string', {version: 1, roles: {a: {rules: ['']}}}, /empty rule/],
    ['rule without value', {version: 1, roles: {a: {rules: ['dns:']}}}, /invalid identity rule/],
    ['two rules in one entry', {version: 1, roles: {a: {rules: ['dns:a.example,dns:b.example']}}}, /one rule per entry/],
    ['unknown rule kind', {version: 1, roles: {a: {rules: ['spiffe:x']}}}, /unknown kind/],
    ['wildcard inside a segment', {version: 1, roles: {a: {rules: ['uri:spiffe://td/a*']}}}, /whole path segment/],
    ['unknown rule-object key', {version: 1, roles: {a: {rules: [{match: 'dns:a.example', ca: 'x'}]}}}, /unknown key "ca"/],
    ['bad issuer', {version: 1, roles: {a: {rules: ['dns:a.example'], issuers: ['sha1:abcd']}}}, /sha256/],
    ['short fingerprint', {version: 1, roles: {a: {rules: ['dns:a.example'], issuers: ['sha256:ABCD']}}}, /sha256/],
    ['empty issuer list', {version: 1, roles: {a: {rules: ['dns:a.example'], issuers: []}}}, /1\.\.64/],
    ['bad trust domain', {version: 1, roles: {}, trustDomains: {Bad_TD: {bundle: 'x'}}}, /trust domain/],
    ['trust domain without bundle', {version: 1, roles: {}, trustDomains: {'td.example': {}}}, /bundle/],
    ['prototype key', JSON.parse('{"version":1,"roles":{"__proto__":{"rules":[]}}}'), /role names/],
  ];
  for (const [name, doc, why] of invalid) {
    it(`refuses: ${name}`, () => {
      assert.throws(
        () => validatePolicyDocument(doc),
        (e: unknown) => e instanceof PolicyError && why.test(e.message),
      );
    });
  }

  it('accepts an empty rule list (nobody holds the role) and normalises issuers', () => {
    const d = validatePolicyDocument({version: 1, roles: {a: {rules: [], issuers: [`sha256:${colon(CA_A).toLowerCase()}`]}}});
    assert.deepEqual(d.roles.a, {rules: [], issuers: [CA_A]});
  });

  it('normalizeFingerprint: colons everywhere or nowhere', () => {
    assert.equal(normalizeFingerprint(`sha256:${colon(CA_A)}`), CA_A);
    assert.equal(normalizeFingerprint(`SHA256:${CA_A.toLowerCase()}`), CA_A);
    assert.equal(normalizeFingerprint(`sha256:${CA_A.slice(0, 4)}:${CA_A.slice(4)}`), undefined);
  });

  const texts: [string, string, string, RegExp | null][] = [
    ['valid YAML', 'p.yaml', 'version: 1\nroles:\n  a:\n    rules: ["dns:a.example"]\n', null],
    ['valid JSON', 'p.json', '{"version":1,"roles":{"a":{"rules":["dns:a.example"]}}}', null],
    ['bad YAML', 'p.yaml', 'version: 1\nroles: [\n', /not valid YAML/],
    ['duplicate YAML key', 'p.yaml', 'version: 1\nroles:\n  a: {rules: []}\n  a: {rules: []}\n', /not valid YAML/],
    ['YAML alias', 'p.yaml', 'version: 1\nx: &r ["dns:a.example"]\nroles:\n  a: {rules: *r}\n', /not valid YAML|unknown key/],
    ['bad JSON', 'p.json', '{"version":1,', /not valid JSON/],
    ['YAML unknown key', 'p.yml', 'version: 1\nroles: {}\nrole: {}\n', /unknown key "role"/],
  ];
  for (const [name, file, text, why] of texts) {
    it(`file text: ${name}`, () => {
      if (why === null) assert.ok(parsePolicyText(text, file).roles.a);
      else
        assert.throws(
          () => parsePolicyText(text, file),
          (e: unknown) => e instanceof PolicyError && why.test(e.message),
        );
    });
  }

  const env: [string, string, string[] | RegExp][] = [
    ['two roles', 'operator=uri:spiffe://td/ops/*,dns:ops.example; reader=dns:r.example', ['operator', 'reader']],
    ['no "="', 'operator', /expected role=rule/],
    ['empty rule', 'operator=dns:a.example,,dns:b.example', /empty rule/],
    ['role twice', 'a=dns:a.example;a=dns:b.example', /given twice/],
    ['nothing', ' ; ', /holds no role/],
    ['bad rule', 'a=dns:', /invalid identity rule/],
  ];
  for (const [name, text, want] of env) {
    it(`MTLS_ROLES: ${name}`, () => {
      if (Array.isArray(want)) assert.deepEqual(Object.keys(parseRolesEnv(text).roles), want);
      else
        assert.throws(
          () => parseRolesEnv(text),
          (e: unknown) => e instanceof PolicyError && want.test(e.message),
        );
    });
  }

  it('built-in policy: operator and spec-reader, held by nobody in production', () => {
    assert.deepEqual(builtInPolicyDocument(true).roles.operator.rules, []);
    assert.deepEqual(builtInPolicyDocument(false).roles.operator.rules, ['uri:spiffe://hardened-mtls.test/client/valid']);
  });
});

describe('route metadata reduction (unit)', () => {
  const cases: [string, object | undefined, string[] | undefined][] = [
    ['none', undefined, undefined],
    ['skip', {skip: true}, undefined],
    ['allowedRoles', {allowedRoles: ['operator']}, ['operator']],
    ['allowAuthenticated', {allowedRoles: ['$authenticated']}, ['$authenticated']],
    ['$everyone is refused', {allowedRoles: ['$everyone']}, undefined],
    ['deniedRoles is unsupported (refused, not ignored)', {allowedRoles: ['operator'], deniedRoles: ['x']}, undefined],
    ['voters are unsupported', {allowedRoles: ['operator'], voters: [() => undefined]}, undefined],
    ['scopes are unsupported', {allowedRoles: ['operator'], scopes: ['read']}, undefined],
    ['no allowedRoles', {resource: undefined}, undefined],
  ];
  for (const [name, md, want] of cases) {
    it(name, () => {
      const r = routeAuthzOf('C.m', md as never);
      assert.deepEqual(r.allowedRoles, want);
      if (!want) assert.ok(r.problem);
    });
  }
});

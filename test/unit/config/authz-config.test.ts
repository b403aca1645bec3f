/** MTLS_POLICY_FILE, MTLS_ROLES and CORS_ALLOWED_ORIGINS in parseConfig (table-driven). */
import assert from 'node:assert/strict';
import path from 'node:path';
import {parseConfig} from '../../../src/config/config';
import {isAppError} from '../../../src/errors';

const base = {NODE_ENV: 'development'};

describe('config: authorization and CORS (unit)', () => {
  it('defaults: no policy file, no env roles, no CORS origins', () => {
    const c = parseConfig(base);
    assert.deepEqual(c.authz, {policyFile: null, roles: null, corsAllowedOrigins: []});
    assert.ok(Object.isFrozen(c.authz));
  });

  it('MTLS_POLICY_FILE is resolved against the working directory', () => {
    assert.equal(
      parseConfig({...base, MTLS_POLICY_FILE: 'etc/policy.yaml'}, {cwd: '/srv/app'}).authz.policyFile,
      path.resolve('/srv/app', 'etc/policy.yaml'),
    );
  });

  it('MTLS_ROLES is parsed and validated at start-up', () => {
    const c = parseConfig({...base, MTLS_ROLES: 'operator=uri:spiffe://td/ops/*;reader=dns:r.example'});
    assert.deepEqual(Object.keys(c.authz.roles!.roles), ['operator', 'reader']);
  });

  const invalid: [string, Record<string, string>, string][] = [
    ['MTLS_ROLES with a bad rule', {MTLS_ROLES: 'operator=dns:'}, 'MTLS_ROLES'],
    ['MTLS_ROLES with a bad role name', {MTLS_ROLES: 'Operator=dns:a.example'}, 'MTLS_ROLES'],
    ['both policy sources', {MTLS_ROLES: 'a=dns:a.example', MTLS_POLICY_FILE: 'p.yaml'}, 'MTLS_ROLES'],
    ['CORS *', {CORS_ALLOWED_ORIGINS: '*'}, 'CORS_ALLOWED_ORIGINS'],
    ['CORS null', {CORS_ALLOWED_ORIGINS: 'null'}, 'CORS_ALLOWED_ORIGINS'],
    ['CORS origin with a path', {CORS_ALLOWED_ORIGINS: 'https://app.example/'}, 'CORS_ALLOWED_ORIGINS'],
    ['CORS origin with a wildcard host', {CORS_ALLOWED_ORIGINS: 'https://*.example'}, 'CORS_ALLOWED_ORIGINS'],
    ['CORS non-http scheme', {CORS_ALLOWED_ORIGINS: 'file://x'}, 'CORS_ALLOWED_ORIGINS'],
    ['CORS default port spelled out (not the exact origin)', {CORS_ALLOWED_ORIGINS: 'https://app.example:443'}, 'CORS_ALLOWED_ORIGINS'],
  ];
  for (const [name, env, variable] of invalid) {
    it(`refuses ${name}: CONFIG_INVALID naming ${variable}`, () => {
      assert.throws(
        () => parseConfig({...base, ...env}),
        (e: unknown) => isAppError(e) && e.code === 'CONFIG_INVALID' && e.details.variable === variable,
      );
    });
  }

  it('CORS: exact origins, with ports', () => {
    assert.deepEqual(parseConfig({...base, CORS_ALLOWED_ORIGINS: 'https://app.example, http://127.0.0.1:8080'}).authz.corsAllowedOrigins, [
      'https://app.example',
      'http://127.0.0.1:8080',
    ]);
  });
});

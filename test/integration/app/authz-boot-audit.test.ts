/**
 * The start-up audit of authorization (src/authz/policy-audit.ts) on a booted application, and an
 * undecorated controller method at request time (real TLS 1.3, production mode): 403
 * AUTHZ_NO_POLICY, never the handler.
 */
import type {Constructor} from '@loopback/core';
import assert from 'node:assert/strict';
import {authorize} from '@loopback/authorization';
import {get} from '@loopback/rest';
import {HardenedMtlsApplication} from '../../../src/application';
import {auditAuthorization} from '../../../src/authz/policy-audit';
import {PolicyStore} from '../../../src/authz/policy-source';
import {parseConfig} from '../../../src/config/config';
import {AppError} from '../../../src/errors';
import {createLogger} from '../../../src/logging/logger';
import {RevocationStore} from '../../../src/tls/revocation/revocation-store';
import {loadTlsMaterial} from '../../../src/tls/tls-material';
import {givenClient, givenMtlsEnv} from '../../fixtures/mtls-env';
import {givenTestPki} from '../../fixtures/pki';
import {tlsRequest} from '../../fixtures/tls-client';

class UndecoratedController {
  @get('/undecorated', {responses: {'200': {description: 'forgot @authorize'}}})
  hello(): object {
    return {reached: true};
  }
}

class SkippedController {
  @authorize.skip()
  @get('/skipped', {responses: {'200': {description: 'skip is not a policy'}}})
  hello(): object {
    return {reached: true};
  }
}

class UnknownRoleController {
  @authorize({allowedRoles: ['payments-writer']})
  @get('/payments', {responses: {'200': {description: 'role missing from the policy'}}})
  hello(): object {
    return {reached: true};
  }
}

const silent = createLogger({level: 'silent'});

async function givenBootedApp(
  env: Record<string, string>,
  ...controllers: Constructor<unknown>[]
): Promise<{app: HardenedMtlsApplication; store: PolicyStore}> {
  const pki = await givenTestPki();
  const config = parseConfig(givenMtlsEnv(pki, env));
  const material = await loadTlsMaterial(config.tls);
  const revocation = await RevocationStore.load(config.tls.crlFiles, material.caCerts);
  const store = PolicyStore.withoutFile(config, silent);
  const app = new HardenedMtlsApplication({config, logger: silent, material, revocation, policy: store});
  for (const c of controllers) app.controller(c as never);
  await app.boot();
  return {app, store};
}

describe('authz: start-up audit and default deny (integration)', function () {
  this.timeout(60_000);

  it("the service's own operations all have a policy (enforce passes) and name roles the policy defines", async () => {
    const {app, store} = await givenBootedApp({});
    const r = auditAuthorization(app, await app.restServer.getApiSpec(), store, 'enforce', silent);
    assert.deepEqual(r.findings, []);
    assert.deepEqual(r.roles, ['$authenticated', 'operator', 'spec-reader']);
  });

  it('an undecorated method and @authorize.skip() are high findings: enforce refuses with OPENAPI_AUDIT_FAILED', async () => {
    const {app, store} = await givenBootedApp({}, UndecoratedController, SkippedController);
    const spec = await app.restServer.getApiSpec();
    assert.throws(
      () => auditAuthorization(app, spec, store, 'enforce', silent),
      (e: unknown) => e instanceof AppError && e.code === 'OPENAPI_AUDIT_FAILED',
    );
    const r = auditAuthorization(app, spec, store, 'warn', silent);
    assert.deepEqual(r.findings.map(f => `${f.method} ${f.path} ${f.operation}`).sort(), [
      'GET /skipped SkippedController.hello',
      'GET /undecorated UndecoratedController.hello',
    ]);
  });

  it('a role the policy does not define exits 78 (AUTHZ_POLICY_INVALID) in every mode', async () => {
    const {app, store} = await givenBootedApp({}, UnknownRoleController);
    const spec = await app.restServer.getApiSpec();
    for (const mode of ['enforce', 'warn', 'off'] as const) {
      assert.throws(
        () => auditAuthorization(app, spec, store, mode, silent),
        (e: unknown) => e instanceof AppError && e.code === 'AUTHZ_POLICY_INVALID' && e.exitCode === 78,
      );
    }
  });

  it('MTLS_ROLES defining the role satisfies the audit', async () => {
    const {app, store} = await givenBootedApp({MTLS_ROLES: 'payments-writer=uri:spiffe://hardened-mtls.test/client/valid2'}, UnknownRoleController);
    const r = auditAuthorization(app, await app.restServer.getApiSpec(), store, 'enforce', silent);
    assert.ok(r.roles.includes('payments-writer'));
  });

  it('production: an undecorated controller method answers 403 AUTHZ_NO_POLICY (the handler never runs); test mode only warns', async () => {
    const pki = await givenTestPki();
    for (const [env, want] of [
      ['production', 403],
      ['test', 200],
    ] as const) {
      const {app} = await givenBootedApp({NODE_ENV: env, AUDIT_MODE: 'warn'}, UndecoratedController);
      await app.start();
      try {
        const port = Number(new URL(app.restServer.url!).port);
        const r = await tlsRequest({port, ...givenClient(pki, 'valid'), servername: 'localhost'}, {target: '/undecorated'});
        assert.equal(r.outcome === 'response' && r.status, want, env);
        if (want === 403) assert.ok(r.outcome === 'response' && r.body.includes('AUTHZ_NO_POLICY') && !r.body.includes('reached'));
      } finally {
        await app.stop();
      }
    }
  });
});

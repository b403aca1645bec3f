/**
 * AUDIT_MODE at boot: the app's own spec is audited after boot and before listening; a
 * container-management route makes `enforce` refuse with OPENAPI_AUDIT_FAILED.
 */
import assert from 'node:assert/strict';
import {get, param} from '@loopback/rest';
import {HardenedMtlsApplication} from '../../../src/application';
import {parseConfig} from '../../../src/config/config';
import {AppError} from '../../../src/errors';
import {auditApplicationSpec} from '../../../src/audit/openapi-audit';
import {createLogger} from '../../../src/logging/logger';
import {RevocationStore} from '../../../src/tls/revocation/revocation-store';
import {loadTlsMaterial} from '../../../src/tls/tls-material';
import {givenMtlsEnv} from '../../fixtures/mtls-env';
import {givenTestPki} from '../../fixtures/pki';

class RiskyController {
  @get('/containers/{id}/exec', {responses: {'200': {description: 'runs a command in a container'}}})
  exec(@param.path.string('id') id: string, @param.query.string('socketPath') socketPath: string): object {
    return {id, socketPath};
  }
}

async function givenBootedApp(extra?: (app: HardenedMtlsApplication) => void): Promise<HardenedMtlsApplication> {
  const pki = await givenTestPki();
  const config = parseConfig(givenMtlsEnv(pki));
  const logger = createLogger({level: 'silent'});
  const material = await loadTlsMaterial(config.tls);
  const revocation = await RevocationStore.load(config.tls.crlFiles, material.caCerts);
  const app = new HardenedMtlsApplication({config, logger, material, revocation});
  extra?.(app);
  await app.boot();
  return app;
}

describe('app: OpenAPI self-audit at boot (integration)', function () {
  this.timeout(30000);

  it("the service's own spec has no high finding (enforce passes)", async () => {
    const app = await givenBootedApp();
    const report = await auditApplicationSpec(await app.restServer.getApiSpec(), 'enforce', createLogger({level: 'silent'}));
    assert.ok(report);
    assert.equal(report.counts.high, 0);
  });

  it('a container-management route makes enforce refuse with OPENAPI_AUDIT_FAILED', async () => {
    const app = await givenBootedApp(a => a.controller(RiskyController));
    await assert.rejects(
      auditApplicationSpec(await app.restServer.getApiSpec(), 'enforce', createLogger({level: 'silent'})),
      (e: unknown) => e instanceof AppError && e.code === 'OPENAPI_AUDIT_FAILED',
    );
  });

  it('warn mode reports the same finding without refusing', async () => {
    const app = await givenBootedApp(a => a.controller(RiskyController));
    const report = await auditApplicationSpec(await app.restServer.getApiSpec(), 'warn', createLogger({level: 'silent'}));
    assert.ok(report && report.counts.high > 0);
  });
});

/**
 * Production start-up says which revocation source covers each CA of the trust bundle
 * (`revocation.coverage` log lines) and starts only when every CA has one or is exempted by
 * fingerprint (the refusals are in startup-refusals.acceptance.test.ts).
 */
import assert from 'node:assert/strict';
import {givenMtlsEnv} from '../fixtures/mtls-env';
import {DevPkiManifest, givenTestPki} from '../fixtures/pki';
import {givenService, LogLine, ServiceHandle} from '../fixtures/service';

describe('revocation: coverage of the trust bundle at production start-up (acceptance)', function () {
  this.timeout(120_000);
  let pki: DevPkiManifest;
  let service: ServiceHandle | undefined;

  before(async () => {
    pki = await givenTestPki();
  });
  afterEach(async () => {
    await service?.stop();
    service = undefined;
  });

  const coverage = (logs: LogLine[]) =>
    Object.fromEntries(logs.filter(l => l.event === 'revocation.coverage').map(l => [l.fingerprint256 as string, l.source as string]));

  it('root and intermediate CRLs loaded: both CAs covered by crl, the service listens', async () => {
    service = await givenService(givenMtlsEnv(pki, {NODE_ENV: 'production', POSTURE_MODE: 'warn', PORT: '0'}));
    await service.waitForLog(l => l.event === 'listening');
    assert.deepEqual(coverage(service.logs), {[pki.rootCa.fingerprint256]: 'crl', [pki.intermediateCa.fingerprint256]: 'crl'});
  });

  it('the root CRL missing but the root exempted by fingerprint: exempt, the service listens', async () => {
    service = await givenService(
      givenMtlsEnv(pki, {
        NODE_ENV: 'production',
        POSTURE_MODE: 'warn',
        PORT: '0',
        TLS_CRL_FILES: pki.crls.intermediate,
        MTLS_REVOCATION_EXEMPT: pki.rootCa.fingerprint256,
      }),
    );
    await service.waitForLog(l => l.event === 'listening');
    assert.deepEqual(coverage(service.logs), {[pki.rootCa.fingerprint256]: 'exempt', [pki.intermediateCa.fingerprint256]: 'crl'});
  });

  it('MTLS_REVOCATION=none stated: every CA is none-stated, the service listens', async () => {
    service = await givenService(
      givenMtlsEnv(pki, {NODE_ENV: 'production', POSTURE_MODE: 'warn', PORT: '0', TLS_CRL_FILES: undefined, MTLS_REVOCATION: 'none'}),
    );
    await service.waitForLog(l => l.event === 'listening');
    assert.deepEqual(Object.values(coverage(service.logs)), ['none-stated', 'none-stated']);
  });
});

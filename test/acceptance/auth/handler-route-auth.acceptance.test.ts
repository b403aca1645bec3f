/**
 * Routes without a controller are authenticated like every other route. A handler route
 * (`app.route(verb, path, spec, handler)`) carries no `@authenticate` metadata, and
 * @loopback/authentication's own metadata provider leaves such a route unauthenticated: a fork
 * adding one would have served it to any certificate the TLS layer accepts, outside the
 * allow-list. The service's metadata provider (src/auth/auth-strategy.provider.ts) gives it the
 * default metadata. In-process service (startService, the same start-up as `npm start`), real
 * TLS 1.3 handshakes with the test PKI.
 */
import assert from 'node:assert/strict';
import {startService, RunningService} from '../../../src/index';
import {createLogger} from '../../../src/logging/logger';
import {givenClient, givenMtlsEnv} from '../../fixtures/mtls-env';
import {DevPkiManifest, givenTestPki} from '../../fixtures/pki';
import {tlsRequest} from '../../fixtures/tls-client';

describe('handler routes are authenticated (acceptance)', function () {
  this.timeout(60_000);
  let pki: DevPkiManifest;
  let service: RunningService;
  let port: number;
  const lines: Record<string, unknown>[] = [];

  before(async () => {
    pki = await givenTestPki();
    const logger = createLogger({level: 'info', destination: {write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>)}});
    service = await startService(givenMtlsEnv(pki, {LOG_LEVEL: 'info'}), logger, {quiet: true});
    port = Number(new URL(service.url).port);
    service.app.route('get', '/handler-route', {responses: {'200': {description: 'plain text'}}}, () => 'handler says hi');
  });
  after(async () => {
    await service?.stop();
  });

  const get = (name: 'valid' | 'wrong-san') => tlsRequest({port, ...givenClient(pki, name)}, {target: '/handler-route'});

  it('an allowed client gets the handler answer, with one auth.decision allow line', async () => {
    const before = lines.length;
    const r = await get('valid');
    assert.equal(r.outcome === 'response' && r.status, 200);
    const decisions = lines.slice(before).filter(l => l.event === 'auth.decision');
    assert.deepEqual(decisions.map(l => l.decision), ['allow']);
  });

  it('a client outside the allow-list is refused (403 AUTH_IDENTITY_NOT_ALLOWED), the handler never runs', async () => {
    const before = lines.length;
    const r = await get('wrong-san');
    assert.equal(r.outcome, 'response');
    if (r.outcome !== 'response') return;
    assert.equal(r.status, 403);
    assert.equal((r.json as {error?: {code?: string}})?.error?.code, 'AUTH_IDENTITY_NOT_ALLOWED');
    assert.ok(!r.body.includes('handler says hi'));
    const decisions = lines.slice(before).filter(l => l.event === 'auth.decision');
    assert.deepEqual(decisions.map(l => [l.decision, l.code]), [['deny', 'AUTH_IDENTITY_NOT_ALLOWED']]);
  });
});

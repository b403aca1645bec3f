/**
 * Routes without a controller are authenticated like every other route. A handler route
 * (`app.route(verb, path, spec, handler)`), a mounted Express router and LoopBack's external
 * route for paths nothing matches carry no `@authenticate` metadata, and
 * @loopback/authentication's own metadata provider leaves them unauthenticated: a fork adding
 * one would have served it to any certificate the TLS layer accepts, outside the allow-list, and
 * an unknown path answered 404 to a refused client. The service's metadata provider
 * (src/auth/auth-strategy.provider.ts) gives them the default metadata. In-process service
 * (startService, the same start-up as `npm start`), real TLS 1.3 handshakes with the test PKI.
 */
import assert from 'node:assert/strict';
import type {ServerResponse} from 'node:http';
import {startService, RunningService} from '../../../src/index';
import {createLogger} from '../../../src/logging/logger';
import {givenClient, givenMtlsEnv} from '../../fixtures/mtls-env';
import {DevPkiManifest, givenTestPki} from '../../fixtures/pki';
import {tlsRequest} from '../../fixtures/tls-client';

describe('auth: routes without a controller are authenticated (acceptance)', function () {
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
    service.app.mountExpressRouter('/mounted', (_req: unknown, res: ServerResponse) => {
      res.setHeader('Content-Type', 'text/plain');
      res.end('mounted says hi');
    });
  });
  after(async () => {
    await service?.stop();
  });

  const get = (name: 'valid' | 'wrong-san', target: string) => tlsRequest({port, ...givenClient(pki, name)}, {target});
  /** The auth.decision lines written while `fn` ran. */
  async function decisionsDuring<T>(fn: () => Promise<T>): Promise<{result: T; decisions: unknown[][]}> {
    const from = lines.length;
    const result = await fn();
    return {
      result,
      decisions: lines
        .slice(from)
        .filter(l => l.event === 'auth.decision')
        .map(l => [l.decision, l.code]),
    };
  }

  const cases: {route: string; target: string; body: string; allowedStatus: number}[] = [
    {route: 'a handler route', target: '/handler-route', body: 'handler says hi', allowedStatus: 200},
    {route: 'a mounted Express router', target: '/mounted/anything', body: 'mounted says hi', allowedStatus: 200},
    {route: 'a path nothing matches (404)', target: '/no/such/route', body: 'NOT_FOUND', allowedStatus: 404},
  ];
  for (const c of cases) {
    it(`${c.route}: an allowed client gets the answer, with one auth.decision allow line`, async () => {
      const {result: r, decisions} = await decisionsDuring(() => get('valid', c.target));
      assert.equal(r.outcome === 'response' && r.status, c.allowedStatus);
      assert.ok(r.outcome === 'response' && r.body.includes(c.body));
      assert.deepEqual(decisions, [['allow', undefined]]);
    });

    it(`${c.route}: a client outside the allow-list is refused (403 AUTH_IDENTITY_NOT_ALLOWED), nothing is served`, async () => {
      const {result: r, decisions} = await decisionsDuring(() => get('wrong-san', c.target));
      assert.equal(r.outcome, 'response');
      if (r.outcome !== 'response') return;
      assert.equal(r.status, 403);
      assert.equal((r.json as {error?: {code?: string}})?.error?.code, 'AUTH_IDENTITY_NOT_ALLOWED');
      assert.ok(!r.body.includes('says hi'));
      assert.deepEqual(decisions, [['deny', 'AUTH_IDENTITY_NOT_ALLOWED']]);
    });
  }
});

/**
 * Authorization per operation, fail-closed (issue 13), with real certificates and real TLS 1.3:
 * the test PKI plus a second CA in the trust bundle, a policy file binding the operator role to
 * the dev intermediate CA, the service in production mode (in-process startService: the same
 * start-up as `npm start`).
 *   - identity A (`valid`, role operator) 200; identity B (`valid2`, admitted, no role) 403
 *     AUTHZ_DENIED; A's SANs on a certificate of the second CA 403 AUTHZ_ISSUER_MISMATCH;
 *   - routes without policy (handler route, mounted router, static assets, unknown path) 403
 *     AUTHZ_NO_POLICY;
 *   - method/path variants of a protected operation never get a weaker decision;
 *   - one authz.decision line per request; GET /whoami lists the caller's roles;
 *   - a bad reload keeps the old policy, a good one replaces it;
 *   - CORS: no headers by default; with CORS_ALLOWED_ORIGINS preflights are authenticated and
 *     authorized like the request they announce.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type {ServerResponse} from 'node:http';
import path from 'node:path';
import {sendOverTls} from '../../../src/escape/client';
import type {RawRequest} from '../../../src/escape/client';
import {startService, RunningService} from '../../../src/index';
import {createLogger} from '../../../src/logging/logger';
import {AuthzDeployment, givenAuthzDeployment} from '../../fixtures/authz';
import {givenClient} from '../../fixtures/mtls-env';
import {DevPkiManifest, givenTempDir, givenTestPki} from '../../fixtures/pki';

type Who = 'valid' | 'valid2' | 'wrong-san' | 'second-ca';

interface Answer {
  status: number;
  code?: string;
  body: string;
  headers: Record<string, string>;
}

describe('authz: authorization per operation (acceptance)', function () {
  this.timeout(120_000);
  let pki: DevPkiManifest;
  let deployment: AuthzDeployment;
  let service: RunningService;
  let port: number;
  const lines: Record<string, unknown>[] = [];
  let ca: Buffer;

  async function givenRunning(extra: Record<string, string | undefined> = {}): Promise<{service: RunningService; port: number}> {
    const logger = createLogger({level: 'info', destination: {write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>)}});
    const s = await startService(deployment.env(extra), logger, {quiet: true});
    return {service: s, port: Number(new URL(s.url).port)};
  }

  before(async () => {
    pki = await givenTestPki();
    deployment = await givenAuthzDeployment(pki);
    ca = fs.readFileSync(pki.caBundle);
    ({service, port} = await givenRunning());
    service.app.route('get', '/handler-route', {responses: {'200': {description: 'plain text'}}}, () => 'handler says hi');
    service.app.mountExpressRouter('/mounted', (_req: unknown, res: ServerResponse) => {
      res.setHeader('Content-Type', 'text/plain');
      res.end('mounted says hi');
    });
    const assets = givenTempDir('hmtls-assets-');
    fs.writeFileSync(path.join(assets, 'app.js'), 'static says hi');
    service.app.static('/assets', assets);
  });
  after(async () => {
    await service?.stop();
  });

  function credentials(who: Who): {cert: Buffer; key: Buffer} {
    if (who === 'second-ca') return deployment.secondCa;
    const c = givenClient(pki, who);
    return {cert: c.cert!, key: c.key!};
  }

  async function send(who: Who, request: Omit<RawRequest, 'method'> & {method?: string}, onPort = port): Promise<Answer> {
    const o = await sendOverTls({
      endpoint: {host: '127.0.0.1', port: onPort, ca, servername: 'localhost'},
      credentials: credentials(who),
      request: {method: 'GET', ...request},
      timeoutMs: 10_000,
    });
    if (o.kind !== 'http') throw new Error(`no HTTP answer: ${JSON.stringify(o)}`);
    return {status: o.status, code: o.code, body: o.body, headers: o.headers};
  }

  /** The authz.decision lines written while fn ran. */
  async function decisionsDuring<T>(fn: () => Promise<T>): Promise<{result: T; decisions: Record<string, unknown>[]}> {
    const from = lines.length;
    const result = await fn();
    await new Promise(r => setImmediate(r));
    return {result, decisions: lines.slice(from).filter(l => l.event === 'authz.decision')};
  }

  const fetchBody = (): RawRequest => ({
    method: 'POST',
    target: '/fetch',
    headers: [['Content-Type', 'application/json']],
    body: Buffer.from('{"url":"https://public.example/"}'),
  });
  const spec: RawRequest = {method: 'GET', target: '/openapi.json'};

  describe('decisions by identity', () => {
    it('identity A (role operator) gets 200 on GET /openapi.json, one authz.decision allow line naming role and rule', async () => {
      const {result, decisions} = await decisionsDuring(() => send('valid', spec));
      assert.equal(result.status, 200);
      assert.equal(decisions.length, 1);
      assert.equal(decisions[0].decision, 'allow');
      assert.equal(decisions[0].operation, 'OpenApiController.spec');
      assert.equal(decisions[0].role, 'operator');
      assert.equal(decisions[0].rule, 'uri:spiffe://hardened-mtls.test/client/valid');
    });

    it('identity A reaches POST /fetch (the handler answers, not the authorizer)', async () => {
      const r = await send('valid', fetchBody());
      assert.notEqual(r.status, 403, JSON.stringify(r));
      assert.ok(!r.code?.startsWith('AUTHZ_'), r.code);
    });

    for (const [what, req] of [
      ['GET /openapi.json', spec],
      ['POST /fetch', fetchBody()],
    ] as const) {
      it(`identity B (admitted, no operator role) gets 403 AUTHZ_DENIED on ${what}, one deny line with the reason`, async () => {
        const {result, decisions} = await decisionsDuring(() => send('valid2', req));
        assert.equal(result.status, 403);
        assert.equal(result.code, 'AUTHZ_DENIED');
        assert.equal(decisions.length, 1);
        assert.equal(decisions[0].decision, 'deny');
        assert.equal(decisions[0].code, 'AUTHZ_DENIED');
        assert.match(String(decisions[0].reason), /no rule of the allowed roles/);
      });

      it(`A's SANs on a certificate from the second CA get 403 AUTHZ_ISSUER_MISMATCH on ${what}`, async () => {
        const {result, decisions} = await decisionsDuring(() => send('second-ca', req));
        assert.equal(result.status, 403);
        assert.equal(result.code, 'AUTHZ_ISSUER_MISMATCH');
        assert.equal(decisions[0]?.code, 'AUTHZ_ISSUER_MISMATCH');
        assert.equal(decisions[0]?.role, 'operator');
      });
    }

    it('both admitted identities reach $authenticated routes (GET /ping)', async () => {
      for (const who of ['valid', 'valid2', 'second-ca'] as const) assert.equal((await send(who, {target: '/ping'})).status, 200, who);
    });

    it('an identity the authenticator refuses never reaches the authorizer (401/403 AUTH_*, no authz.decision line)', async () => {
      const {result, decisions} = await decisionsDuring(() => send('wrong-san', spec));
      assert.equal(result.code, 'AUTH_IDENTITY_NOT_ALLOWED');
      assert.equal(decisions.length, 0);
    });

    it('GET /whoami lists the roles the caller holds (issuer binding included)', async () => {
      const roles = async (who: Who) => (JSON.parse((await send(who, {target: '/whoami'})).body) as {roles: string[]}).roles;
      assert.deepEqual(await roles('valid'), ['operator', 'spec-reader']);
      assert.deepEqual(await roles('valid2'), []);
      assert.deepEqual(await roles('second-ca'), []);
    });
  });

  describe('default deny: routes without policy (production)', () => {
    const routes: [string, string][] = [
      ['a handler route', '/handler-route'],
      ['a mounted Express router', '/mounted/anything'],
      ['static assets', '/assets/app.js'],
      ['an unknown path', '/no/such/route'],
    ];
    for (const [what, target] of routes) {
      it(`${what} answers 403 AUTHZ_NO_POLICY even to the operator, with a deny line`, async () => {
        const {result, decisions} = await decisionsDuring(() => send('valid', {target}));
        assert.equal(result.status, 403);
        assert.equal(result.code, 'AUTHZ_NO_POLICY');
        assert.ok(!result.body.includes('says hi'));
        assert.deepEqual(
          decisions.map(d => [d.decision, d.code]),
          [['deny', 'AUTHZ_NO_POLICY']],
        );
      });
    }
  });

  describe('method and path variants never get a weaker decision than the canonical request', () => {
    const variants: [string, Omit<RawRequest, 'method'> & {method?: string}][] = [
      ['HEAD', {method: 'HEAD', target: '/openapi.json'}],
      ['trailing slash', {target: '/openapi.json/'}],
      ['upper case', {target: '/OPENAPI.JSON'}],
      ['percent-encoded letter', {target: '/%6Fpenapi.json'}],
      ['encoded slash', {target: '/x%2F..%2Fopenapi.json'}],
      ['double slash', {target: '//openapi.json'}],
      ['; parameter', {target: '/openapi.json;x=1'}],
      [
        'X-HTTP-Method-Override on a POST',
        {
          method: 'POST',
          target: '/openapi.json',
          headers: [
            ['X-HTTP-Method-Override', 'GET'],
            ['Content-Type', 'application/json'],
          ],
          body: Buffer.from('{}'),
        },
      ],
      ['fetch: trailing slash', {...fetchBody(), target: '/fetch/'}],
      ['fetch: upper case', {...fetchBody(), target: '/FETCH'}],
      ['fetch: ; parameter', {...fetchBody(), target: '/fetch;a=b'}],
      ['fetch: percent-encoded letter', {...fetchBody(), target: '/%66etch'}],
      ['fetch: GET with X-HTTP-Method-Override: POST', {method: 'GET', target: '/fetch', headers: [['X-HTTP-Method-Override', 'POST']]}],
      [
        'fetch: POST /ping with X-HTTP-Method-Override',
        {
          ...fetchBody(),
          target: '/ping',
          headers: [
            ['X-HTTP-Method-Override', 'POST'],
            ['Content-Type', 'application/json'],
          ],
        },
      ],
    ];
    for (const [what, req] of variants) {
      it(`${what}: identity B (denied on the canonical request) is refused, the protected handler never answers`, async () => {
        const {result, decisions} = await decisionsDuring(() => send('valid2', req));
        assert.ok(result.status >= 400 && result.status < 500, `status ${result.status}`);
        // A HEAD answer carries no body: its status and the decision line tell.
        if (req.method !== 'HEAD') assert.ok(result.code && /^(AUTHZ_|GUARD_|NOT_FOUND|METHOD_NOT_ALLOWED)/.test(result.code), result.code);
        assert.ok(!decisions.some(d => d.decision === 'allow' && d.role !== '$authenticated'), JSON.stringify(decisions));
        assert.ok(!/"openapi"|"preview"/.test(result.body));
      });
      it(`${what}: identity A gets either the canonical decision (allow, role operator) or a refusal`, async () => {
        const {result, decisions} = await decisionsDuring(() => send('valid', req));
        // Anything but a 4xx refusal means a handler answered: only after an allow decision.
        if (result.status < 400 || result.status >= 500)
          assert.ok(
            decisions.some(d => d.decision === 'allow'),
            `${result.status} ${JSON.stringify(decisions)}`,
          );
      });
    }
  });

  describe('policy reload', () => {
    it('an invalid file keeps the old policy (AUTHZ_POLICY_RELOAD_FAILED line); a valid one takes over atomically', async () => {
      const original = fs.readFileSync(deployment.policyFile, 'utf8');
      try {
        fs.writeFileSync(deployment.policyFile, 'version: 1\nroles:\n  operator:\n    rules: ["dns:"]\n');
        const from = lines.length;
        assert.equal(await service.app.policy.reload('test'), false);
        const failed = lines.slice(from).find(l => l.event === 'authz.policy.reload');
        assert.equal(failed?.code, 'AUTHZ_POLICY_RELOAD_FAILED');
        assert.equal((await send('valid', spec)).status, 200);
        assert.equal((await send('valid2', spec)).code, 'AUTHZ_DENIED');

        // A policy that drops a role an operation uses is refused too.
        fs.writeFileSync(deployment.policyFile, 'version: 1\nroles:\n  operator:\n    rules: []\n');
        assert.equal(await service.app.policy.reload('test'), false);
        assert.equal((await send('valid', spec)).status, 200);

        // Operator moves to valid2.
        fs.writeFileSync(deployment.policyFile, original.replace(/client\/valid'/g, "client/valid2'"));
        assert.equal(await service.app.policy.reload('test'), true);
        assert.equal((await send('valid2', spec)).status, 200);
        assert.equal((await send('valid', spec)).code, 'AUTHZ_DENIED');
      } finally {
        fs.writeFileSync(deployment.policyFile, original);
        await service.app.policy.reload('test');
      }
      assert.equal((await send('valid', spec)).status, 200);
    });
  });

  describe('CORS', () => {
    it('off by default: no Access-Control-* header on an answer, a preflight is an unknown operation (403 AUTHZ_NO_POLICY)', async () => {
      const r = await send('valid', {target: '/ping', headers: [['Origin', 'https://app.example']]});
      assert.equal(r.status, 200);
      assert.deepEqual(
        Object.keys(r.headers).filter(h => h.startsWith('access-control-')),
        [],
      );
      const pre = await send('valid', {
        method: 'OPTIONS',
        target: '/ping',
        headers: [
          ['Origin', 'https://app.example'],
          ['Access-Control-Request-Method', 'GET'],
        ],
      });
      assert.equal(pre.status, 403);
      assert.equal(pre.code, 'AUTHZ_NO_POLICY');
      assert.deepEqual(
        Object.keys(pre.headers).filter(h => h.startsWith('access-control-')),
        [],
      );
    });

    describe('with CORS_ALLOWED_ORIGINS', () => {
      let cors: {service: RunningService; port: number};
      before(async () => {
        cors = await givenRunning({CORS_ALLOWED_ORIGINS: 'https://app.example'});
      });
      after(async () => {
        await cors?.service.stop();
      });
      const preflight = (origin: string, method: string, target: string): RawRequest => ({
        method: 'OPTIONS',
        target,
        headers: [
          ['Origin', origin],
          ['Access-Control-Request-Method', method],
          ['Access-Control-Request-Headers', 'content-type'],
        ],
      });

      it('a preflight of the operator for POST /fetch: 204 with that exact origin and credentials, never *', async () => {
        const r = await send('valid', preflight('https://app.example', 'POST', '/fetch'), cors.port);
        assert.equal(r.status, 204);
        assert.equal(r.headers['access-control-allow-origin'], 'https://app.example');
        assert.equal(r.headers['access-control-allow-credentials'], 'true');
        assert.equal(r.headers['access-control-allow-methods'], 'POST');
      });
      it('the same preflight from identity B is authorized like the request it announces: 403 AUTHZ_DENIED, no CORS headers', async () => {
        const r = await send('valid2', preflight('https://app.example', 'POST', '/fetch'), cors.port);
        assert.equal(r.status, 403);
        assert.equal(r.code, 'AUTHZ_DENIED');
        assert.equal(r.headers['access-control-allow-origin'], undefined);
      });
      it('a preflight from a refused certificate is refused by the authenticator', async () => {
        const r = await send('wrong-san', preflight('https://app.example', 'GET', '/ping'), cors.port);
        assert.equal(r.code, 'AUTH_IDENTITY_NOT_ALLOWED');
        assert.equal(r.headers['access-control-allow-origin'], undefined);
      });
      it('a preflight from an origin not listed: 403 CORS_ORIGIN_DENIED, with its deny line', async () => {
        const {result: r, decisions} = await decisionsDuring(() => send('valid', preflight('https://evil.example', 'GET', '/ping'), cors.port));
        assert.equal(r.code, 'CORS_ORIGIN_DENIED');
        assert.deepEqual(
          decisions.map(d => [d.decision, d.code]),
          [['deny', 'CORS_ORIGIN_DENIED']],
        );
      });
      it('an allowed request from a listed origin carries the exact origin; another origin gets none', async () => {
        const ok = await send('valid', {target: '/ping', headers: [['Origin', 'https://app.example']]}, cors.port);
        assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example');
        const other = await send('valid', {target: '/ping', headers: [['Origin', 'https://evil.example']]}, cors.port);
        assert.equal(other.status, 200);
        assert.equal(other.headers['access-control-allow-origin'], undefined);
      });
    });
  });
});

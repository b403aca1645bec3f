/**
 * The guards against the running mTLS service: every path / query / header / body / url-param
 * case of the reference catalog, sent byte for byte (raw request target over a raw TLS socket)
 * with the valid client certificate.
 *
 * - rejects: a 4xx carrying a GUARD_* code (request vectors) or a GUARD_* / SSRF_* code
 *   (url-param), never a routing 404; redirect cases may instead report the upstream 3xx as is
 *   (never followed); the rebinding case passes when no canary sees a connection;
 * - benign controls: 2xx (url-param: the fake public upstream sees exactly one request);
 * - the loopback canaries (127.0.0.1 and ::1 on 80, 2375, 2376, 2379, 6443, 8001, 10250, 10255,
 *   plus a unix socket) see zero connections.
 *
 * The service runs in-process (startService(), the same start-up as `npm start`) so that the
 * outbound client can be given the harness's stub resolver and connect shim: the test rebinds
 * GuardsBindings.OUTBOUND_CLIENT (plain LoopBack IoC; production code has no test hook).
 * BENIGN_GET = GET /search, BENIGN_POST = POST /echo (src/controllers/demo.controller.ts),
 * url-param = POST /fetch {"url": ...} (src/controllers/fetch.controller.ts).
 */
import assert from 'node:assert/strict';
import {GuardsBindings} from '../../src/guards/keys';
import {OutboundClient} from '../../src/outbound/outbound-client';
import {startService, RunningService} from '../../src/index';
import {CatalogCase, EscapeHarness, givenEscapeHarness, upstreamRoutesFor} from '../fixtures/escape-harness';
import {ClientCredentials, givenClient, givenMtlsEnv} from '../fixtures/mtls-env';
import {DevPkiManifest, givenTestPki} from '../fixtures/pki';
import {HttpResult, RawRequest, TlsHttpConnection, tlsRequest} from '../fixtures/tls-client';
import {CapturedLog, givenCapturingLogger} from '../integration/guards/support';
import {requestInputFor} from '../unit/guards/catalog-input';

const BENIGN_GET = '/search';
const BENIGN_POST = '/echo';
const REQUEST_VECTORS = ['path', 'query', 'header', 'body'];

interface ErrorBody {
  error?: {code?: string; message?: string};
  status?: number;
  location?: string | null;
  preview?: string;
}

describe('guards: against the running mTLS service (acceptance)', function () {
  this.timeout(120_000);
  let pki: DevPkiManifest;
  let h: EscapeHarness;
  let log: CapturedLog;
  let service: RunningService;
  let client: ClientCredentials;
  let port: number;

  before(async () => {
    h = await givenEscapeHarness();
    pki = await givenTestPki();
    client = givenClient(pki, 'valid');
    log = givenCapturingLogger('info');
    const env = givenMtlsEnv(pki, {OUTBOUND_ALLOW_HTTP: 'true', OUTBOUND_ALLOWED_PORTS: '80,443', LOG_LEVEL: 'info'});
    service = await startService(env, log.logger);
    port = Number(new URL(service.url).port);
    service.app
      .bind(GuardsBindings.OUTBOUND_CLIENT)
      .to(new OutboundClient(service.config.outbound, log.logger, {lookup: h.lookup, connectShim: h.connectShim, ca: h.ca}));
  });
  after(async () => {
    conn?.close();
    if (service) {
      const harnessClient = await service.app.get(GuardsBindings.OUTBOUND_CLIENT);
      await harnessClient.close();
      await service.stop();
    }
    await h?.close();
  });

  /** One keep-alive mTLS connection, reopened when the server closes it (e.g. after a 413). */
  let conn: TlsHttpConnection | undefined;
  async function send(req: RawRequest): Promise<HttpResult & {json?: ErrorBody}> {
    if (!conn || !conn.isOpen) conn = await TlsHttpConnection.open({port, ...client});
    let r = await conn.request(req);
    if (r.outcome !== 'response') {
      // The server may have closed an idle keep-alive connection: one retry on a fresh one.
      conn.close();
      r = await tlsRequest({port, ...client}, req);
    }
    assert.equal(r.outcome, 'response', `no HTTP response for ${req.method ?? 'GET'} ${req.target}: ${JSON.stringify(r)}`);
    return r as HttpResult & {json?: ErrorBody};
  }

  function rawRequestFor(c: CatalogCase): RawRequest {
    const input = requestInputFor(c, BENIGN_GET, BENIGN_POST);
    const headers: [string, string][] = input.headers.map(([k, v]) => [k, v]);
    if (input.body) {
      headers.push(['Content-Type', input.body.contentType ?? 'application/json']);
      return {method: 'POST', target: input.rawTarget, headers, body: Buffer.from(input.body.text, 'utf8')};
    }
    // HEAD responses carry no body; the guard decision does not depend on the method.
    const method = c.method === undefined || c.method === 'HEAD' ? 'GET' : c.method;
    return {method, target: input.rawTarget, headers};
  }

  it('the valid client reaches the benign routes (sanity: mTLS and routing work)', async () => {
    const r = await send({target: `${BENIGN_GET}?q=hello`});
    assert.equal(r.status, 200, r.body);
  });

  it('refuses every path, query, header and body reference case with a guard code and passes every benign control', async () => {
    const cases = h.catalog.filter(c => REQUEST_VECTORS.includes(c.vector));
    assert.ok(cases.length >= 120, `expected the request-vector cases, found ${cases.length}`);
    const failures: string[] = [];
    for (const c of cases) {
      const r = await send(rawRequestFor(c));
      const code = r.json?.error?.code ?? '';
      if (c.expected === 'allow') {
        if (r.status < 200 || r.status > 299) failures.push(`${c.id}: benign control got ${r.status} ${code}`);
      } else if (!(r.status >= 400 && r.status <= 499 && code.startsWith('GUARD_'))) {
        failures.push(`${c.id}: expected a 4xx guard rejection, got ${r.status} ${code || r.body.slice(0, 80)}`);
      }
    }
    assert.deepEqual(failures, []);
    assert.deepEqual(h.canaryCounts(), Object.fromEntries(Object.keys(h.canaryCounts()).map(k => [k, 0])));
  });

  it('refuses every url-param reference case (or neutralises it) with zero canary connections, and fetches every benign control once', async () => {
    const cases = h.catalog.filter(c => c.vector === 'url-param');
    assert.ok(cases.length >= 149, `expected the url-param cases, found ${cases.length}`);
    const failures: string[] = [];
    for (const c of cases) {
      h.reset();
      for (const [p, a] of upstreamRoutesFor(c)) h.upstream.route(p, a);
      const r = await send(rawRequestFor(c));
      const code = r.json?.error?.code ?? '';
      if (c.expected === 'allow') {
        if (r.status !== 200 || r.json?.status !== 200) failures.push(`${c.id}: benign control got ${r.status} ${code} upstream=${r.json?.status}`);
        if (h.upstream.requests.length !== 1) failures.push(`${c.id}: the fake upstream saw ${h.upstream.requests.length} requests`);
      } else if (c.expect_detail === '4xx|no-follow') {
        const passedBack =
          r.status === 200 && (r.json?.status ?? 0) >= 300 && (r.json?.status ?? 0) < 400 && r.json?.location === c.upstream?.location?.split(' ')[0];
        const refused = r.status >= 400 && r.status <= 499 && /^(GUARD|SSRF)_/.test(code);
        if (!passedBack && !refused) failures.push(`${c.id}: redirect neither passed back as is nor refused: ${r.status} ${r.body.slice(0, 120)}`);
        if (h.upstream.requests.length > 1) failures.push(`${c.id}: the redirect was followed`);
      } else if (c.expect_detail === 'no-internal-connection') {
        if (r.status >= 500) failures.push(`${c.id}: ${r.status} ${code}`);
      } else if (!(r.status >= 400 && r.status <= 499 && /^(GUARD|SSRF)_/.test(code))) {
        failures.push(`${c.id}: expected a 4xx guard/SSRF rejection, got ${r.status} ${code || r.body.slice(0, 80)}`);
      }
      if (h.totalCanaryConnections() !== 0) failures.push(`${c.id}: canaries saw ${JSON.stringify(h.canaryCounts())}`);
      if (h.blockedConnects.length !== 0) failures.push(`${c.id}: tried to leave loopback: ${h.blockedConnects.join(', ')}`);
    }
    assert.deepEqual(failures, []);
  });

  it('rejections are not routing 404s and carry only {error: {code, message}} plus security headers', async () => {
    const r = await send({target: '/v1.41/containers/json'});
    assert.equal(r.status, 403);
    assert.deepEqual(Object.keys(r.json ?? {}), ['error']);
    assert.deepEqual(Object.keys(r.json?.error ?? {}).sort(), ['code', 'message']);
    assert.equal(r.json?.error?.code, 'GUARD_DENIED_REFERENCE');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.headers['cache-control'], 'no-store');
    const nf = await send({target: '/no/such/page'});
    assert.equal(nf.status, 404);
    assert.equal(nf.json?.error?.code, 'NOT_FOUND');
  });

  it('audits each rejection with the rule and the location, never the payload', async () => {
    log.clear();
    await send({target: `${BENIGN_GET}?file=%2Fproc%2Fself%2Fenviron`});
    const line = log.lines.find(l => l.event === 'guard.decision' && l.decision === 'deny');
    assert.equal(line?.code, 'GUARD_DENIED_REFERENCE');
    assert.equal(line?.ruleId, 'HP-PROC');
    assert.equal(line?.location, 'query:file');
    assert.ok(!log.text().includes('environ'), 'the payload reached the log');
  });

  it('answers 413 for a body over HTTP_MAX_BODY_BYTES', async () => {
    const big = Buffer.alloc(service.config.http.maxBodyBytes + 1, 0x20);
    const r = await send({method: 'POST', target: BENIGN_POST, headers: [['Content-Type', 'application/json']], body: big});
    assert.equal(r.status, 413);
    assert.equal(r.json?.error?.code, 'GUARD_BODY_TOO_LARGE');
  });
});

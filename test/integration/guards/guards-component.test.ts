/**
 * GuardsComponent in a real RestApplication (plain HTTP on loopback; the mTLS service is covered by
 * test/acceptance/guards.acceptance.test.ts): middleware position, body hand-off to LoopBack's
 * body parser, 413/415, the URL-parameter interceptor, the outbound client binding.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import {BindingScope, inject, Provider} from '@loopback/core';
import {get, param, post, requestBody, Reject, RestApplication, RestBindings, HandlerContext} from '@loopback/rest';
import type {AppConfig} from '../../../src/config/config';
import {isAppError} from '../../../src/errors';
import {GuardsComponent} from '../../../src/guards/guards.component';
import {GuardsBindings, GuardsOptions} from '../../../src/guards/keys';
import type {OutboundClient} from '../../../src/outbound/outbound-client';
import {EscapeHarness, givenEscapeHarness} from '../../fixtures/escape-harness';
import {requestInputFor} from '../../unit/guards/catalog-input';
import {CapturedLog, givenCapturingLogger} from './support';

const invocations: string[] = [];

class TestController {
  constructor(@inject(GuardsBindings.OUTBOUND_CLIENT) private readonly outbound: OutboundClient) {}

  @get('/ping', {responses: {'200': {description: 'pong'}}})
  ping(): object {
    invocations.push('ping');
    return {pong: true};
  }

  @post('/echo', {responses: {'200': {description: 'echo'}}})
  echo(
    @requestBody({
      content: {
        'application/json': {schema: {}},
        'application/x-www-form-urlencoded': {schema: {type: 'object'}},
        'text/plain': {schema: {type: 'string'}},
      },
    })
    body: unknown,
  ): object {
    invocations.push('echo');
    return {body: body ?? null};
  }

  @get('/static/{path}', {responses: {'200': {description: 'file'}}})
  file(@param.path.string('path') p: string): object {
    invocations.push('static');
    return {path: p};
  }

  @post('/fetch', {'x-outbound-client': true, responses: {'200': {description: 'fetched'}}})
  async fetch(
    @requestBody({content: {'application/json': {schema: {type: 'object', properties: {url: {type: 'string', format: 'uri'}}, required: ['url']}}}})
    body: {
      url: string;
    },
  ): Promise<object> {
    invocations.push('fetch');
    const r = await this.outbound.fetch(body.url, {purpose: 'test-fetch', overflow: 'truncate', maxBytes: 256});
    return {status: r.status, contentType: r.contentType, preview: r.body.toString('utf8')};
  }
}

/** What the application's reject action is expected to do with an AppError. */
class TestRejectProvider implements Provider<Reject> {
  value(): Reject {
    return ({response}: HandlerContext, err: Error) => {
      const status = isAppError(err) ? err.statusCode : ((err as {statusCode?: number}).statusCode ?? 500);
      const code = isAppError(err) ? err.code : status === 404 ? 'NOT_FOUND' : status < 500 ? 'BAD_REQUEST' : 'INTERNAL_ERROR';
      response.statusCode = status;
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({error: {code, message: isAppError(err) ? err.message : 'error'}}));
    };
  }
}

interface RawResponse {
  status: number;
  json: {error?: {code: string; message: string}; [k: string]: unknown} | null;
}

function send(
  port: number,
  method: string,
  target: string,
  headers: Record<string, string | number> = {},
  body?: string | Buffer,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({host: '127.0.0.1', port, method, path: target, headers, agent: false}, res => {
      const chunks: Buffer[] = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: RawResponse['json'];
        try {
          json = text ? JSON.parse(text) : null;
        } catch {
          json = null;
        }
        resolve({status: res.statusCode ?? 0, json});
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

describe('guards: GuardsComponent in a RestApplication (integration)', function () {
  let app: RestApplication;
  let port: number;
  let h: EscapeHarness;
  let log: CapturedLog;
  const outbound: AppConfig['outbound'] = {
    allowedHosts: null,
    allowHttp: true,
    allowedPorts: [80, 443],
    allowedCidrs: [],
    timeoutMs: 5000,
    maxResponseBytes: 65536,
  };

  before(async () => {
    h = await givenEscapeHarness();
    log = givenCapturingLogger();
    app = new RestApplication({rest: {host: '127.0.0.1', port: 0, openApiSpec: {disabled: false}}});
    const options: GuardsOptions = {
      config: {http: {maxBodyBytes: 4096} as AppConfig['http'], outbound},
      logger: log.logger,
      outboundDeps: {lookup: h.lookup, connectShim: h.connectShim, ca: h.ca},
    };
    app.bind(GuardsBindings.OPTIONS).to(options);
    app.component(GuardsComponent);
    app.bind(RestBindings.SequenceActions.REJECT).toProvider(TestRejectProvider);
    app.controller(TestController);
    await app.start();
    port = new URL(app.restServer.url!).port as unknown as number;
  });
  after(async () => {
    await app?.stop();
    await h?.close();
  });
  beforeEach(() => {
    invocations.length = 0;
    h.reset();
    log.clear();
  });

  it('lets a benign request through to the controller', async () => {
    const r = await send(port, 'GET', '/ping');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, {pong: true});
  });

  it('refuses every reject case of the catalog (path, query, header, body) with a guard code, and passes every benign one', async () => {
    const failures: string[] = [];
    for (const c of h.catalog.filter(x => ['path', 'query', 'header', 'body'].includes(x.vector))) {
      const input = requestInputFor(c, '/ping', '/echo');
      const headers: Record<string, string> = {};
      for (const [k, v] of input.headers) headers[k] = v;
      let body: Buffer | undefined;
      if (input.body) {
        headers['content-type'] = input.body.contentType ?? 'application/json';
        body = Buffer.from(input.body.text, 'utf8');
      }
      const method = input.body ? 'POST' : (c.method ?? 'GET');
      const r = await send(port, method === 'HEAD' ? 'GET' : method, input.rawTarget, headers, body);
      if (c.expected === 'allow') {
        if (r.status !== 200 && !(c.vector === 'path' && r.status === 404 && r.json?.error?.code === 'NOT_FOUND'))
          failures.push(`${c.id}: ${r.status} ${JSON.stringify(r.json)}`);
      } else if (!(r.status >= 400 && r.status < 500 && /^GUARD_/.test(r.json?.error?.code ?? ''))) {
        failures.push(`${c.id}: ${r.status} ${JSON.stringify(r.json)}`);
      }
    }
    assert.deepEqual(failures, []);
    assert.equal(h.totalCanaryConnections(), 0);
  });

  it('rejects before route finding (a guard code, not a 404) and leaves unknown benign paths to routing', async () => {
    assert.deepEqual((await send(port, 'GET', '/v1.41/containers/json')).json?.error?.code, 'GUARD_DENIED_REFERENCE');
    const r = await send(port, 'GET', '/no/such/route');
    assert.equal(r.status, 404);
  });

  it('runs before the OpenAPI spec endpoints', async () => {
    assert.equal((await send(port, 'GET', '/openapi.json')).status, 200);
    const r = await send(port, 'GET', '/openapi.json?x=%2Fetc%2Fshadow');
    assert.equal(r.status, 403);
    assert.equal(r.json?.error?.code, 'GUARD_DENIED_REFERENCE');
  });

  it('hands the inspected JSON, form and text bodies on to the controller', async () => {
    const j = await send(port, 'POST', '/echo', {'content-type': 'application/json'}, '{"a":[1,{"b":"c"}],"s":"\\u00e9"}');
    assert.deepEqual(j.json, {body: {a: [1, {b: 'c'}], s: 'é'}});
    const f = await send(port, 'POST', '/echo', {'content-type': 'application/x-www-form-urlencoded'}, 'a=1+2&b=%C3%A9');
    assert.deepEqual(f.json, {body: {a: '1 2', b: 'é'}});
    const t = await send(port, 'POST', '/echo', {'content-type': 'text/plain'}, 'hello');
    assert.deepEqual(t.json, {body: 'hello'});
    assert.deepEqual(invocations, ['echo', 'echo', 'echo']);
  });

  it('binds the guard middleware and the URL-parameter interceptor as singletons (options compiled once, not per request)', async () => {
    for (const key of [GuardsBindings.REQUEST_GUARD_MIDDLEWARE, GuardsBindings.URL_PARAM_INTERCEPTOR]) {
      assert.equal(app.getBinding(key).scope, BindingScope.SINGLETON, key);
    }
    const middleware = await app.get(GuardsBindings.REQUEST_GUARD_MIDDLEWARE);
    const interceptor = await app.get(GuardsBindings.URL_PARAM_INTERCEPTOR);
    // Requests through both (a sensitive route runs the interceptor) resolve the same instances.
    assert.deepEqual((await send(port, 'GET', '/static/report.pdf')).json, {path: 'report.pdf'});
    assert.equal((await send(port, 'GET', '/static/..%2f..%2fetc%2fpasswd')).status, 403);
    assert.equal(await app.get(GuardsBindings.REQUEST_GUARD_MIDDLEWARE), middleware);
    assert.equal(await app.get(GuardsBindings.URL_PARAM_INTERCEPTOR), interceptor);
  });

  it('answers 413 for a declared or streamed body over the limit, 415 for what it cannot read', async () => {
    const big = Buffer.alloc(5000, 0x61);
    assert.equal(
      (await send(port, 'POST', '/echo', {'content-type': 'text/plain', 'content-length': 5000}, big)).json?.error?.code,
      'GUARD_BODY_TOO_LARGE',
    );
    const chunked = await send(port, 'POST', '/echo', {'content-type': 'text/plain', 'transfer-encoding': 'chunked'}, big);
    assert.equal(chunked.status, 413);
    assert.equal(chunked.json?.error?.code, 'GUARD_BODY_TOO_LARGE');
    const xml = await send(port, 'POST', '/echo', {'content-type': 'application/xml'}, '<a/>');
    assert.equal(xml.status, 415);
    assert.equal(xml.json?.error?.code, 'GUARD_UNSUPPORTED_MEDIA_TYPE');
    const gz = await send(port, 'POST', '/echo', {'content-type': 'application/json', 'content-encoding': 'gzip'}, '{}');
    assert.equal(gz.json?.error?.code, 'GUARD_UNSUPPORTED_MEDIA_TYPE');
    assert.deepEqual(invocations, []);
  });

  it('refuses duplicate and prototype keys with 400', async () => {
    const dup = await send(
      port,
      'POST',
      '/fetch',
      {'content-type': 'application/json'},
      '{"url":"https://public.test/","url":"http://127.0.0.1:2375/"}',
    );
    assert.equal(dup.status, 400);
    assert.equal(dup.json?.error?.code, 'GUARD_MALFORMED_INPUT');
    const proto = await send(port, 'POST', '/echo', {'content-type': 'application/json'}, '{"__proto__":{"polluted":true}}');
    assert.equal(proto.json?.error?.code, 'GUARD_MALFORMED_INPUT');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('the URL-parameter interceptor refuses an internal URL before the controller runs', async () => {
    const r = await send(
      port,
      'POST',
      '/fetch',
      {'content-type': 'application/json'},
      JSON.stringify({url: 'http://127.0.0.1:2375/containers/json'}),
    );
    assert.equal(r.status, 403);
    assert.equal(r.json?.error?.code, 'SSRF_ADDRESS_DENIED');
    assert.deepEqual(invocations, []);
    assert.equal(h.totalCanaryConnections(), 0);
    const line = log.lines.find(l => l.event === 'guard.param');
    assert.equal(line?.code, 'SSRF_ADDRESS_DENIED');
    assert.equal(line?.location, 'body:/url');
  });

  it('fetches a public URL through the bound outbound client', async () => {
    const r = await send(
      port,
      'POST',
      '/fetch',
      {'content-type': 'application/json'},
      JSON.stringify({url: 'https://public.test/items?ref=127.0.0.1'}),
    );
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json, {status: 200, contentType: 'application/json', preview: '{"upstream":"fake-public"}'});
    assert.equal(h.upstream.requests.length, 1);
    assert.equal(h.totalCanaryConnections(), 0);
  });

  it('a name that resolves to loopback passes the static checks and is denied at connect time', async () => {
    const r = await send(port, 'POST', '/fetch', {'content-type': 'application/json'}, JSON.stringify({url: 'http://localtest.me/'}));
    assert.equal(r.status, 403);
    assert.equal(r.json?.error?.code, 'SSRF_ADDRESS_DENIED');
    assert.equal(h.totalCanaryConnections(), 0);
  });

  it('writes an audit line with rule and location and never the payload', async () => {
    await send(port, 'GET', '/ping', {'X-Secret-Path': '/var/run/secrets/kubernetes.io/serviceaccount/token'});
    const deny = log.lines.find(l => l.event === 'guard.decision' && l.decision === 'deny');
    assert.equal(deny?.code, 'GUARD_DENIED_REFERENCE');
    assert.equal(deny?.ruleId, 'K8-SERVICEACCOUNT');
    assert.equal(deny?.location, 'header:x-secret-path');
    assert.ok(!log.text().includes('serviceaccount/token'));
  });
});

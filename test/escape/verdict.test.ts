/** Verdicts, table-driven: what each observation means for each expectation (statuses, not messages). */
import assert from 'node:assert/strict';
import type {ExpectDetail, Vector} from '../../src/escape/catalog';
import type {HttpObservation} from '../../src/escape/client';
import {HarnessEvidence, isPassedBackRedirect, judge, JudgedCase, Observation, VerdictContext} from '../../src/escape/verdict';

const http = (status: number, code?: string, extra: Partial<HttpObservation> = {}): Observation => ({
  kind: 'http',
  status,
  code,
  headers: {},
  body: '',
  httpParser: false,
  ...extra,
});
const parser400: Observation = {kind: 'http', status: 400, headers: {connection: 'close'}, body: '', httpParser: true};
const noResp: Observation = {kind: 'no-response', secureConnected: true, error: 'ECONNRESET'};
const clientErr: Observation = {kind: 'client-error', error: 'ERR_SSL_NO_CIPHERS_AVAILABLE'};
const unreachable: Observation = {kind: 'unreachable', error: 'ECONNREFUSED'};
const notRun: Observation = {kind: 'not-run', reason: 'scenario missing'};
const clean: HarnessEvidence = {internalConnections: {}, internalTotal: 0, upstreamRequests: 0};
const hit: HarnessEvidence = {internalConnections: {'127.0.0.1:2375': 1}, internalTotal: 1, upstreamRequests: 0};
const up = (n: number): HarnessEvidence => ({internalConnections: {}, internalTotal: 0, upstreamRequests: n});
const rt = (findings: Array<[boolean, string?]>, error?: string): Observation => ({
  kind: 'runtime',
  where: 'test',
  error,
  findings: findings.map(([ok, severity], i) => ({id: `f${i}`, ok, severity: severity ?? 'high', detail: ''})),
});

const c = (vector: Vector, expect_detail: ExpectDetail, expected: 'reject' | 'allow' = 'reject'): JudgedCase => ({vector, expect_detail, expected});
const strict: VerdictContext = {strictCodes: true};
const lenient: VerdictContext = {strictCodes: false};
const local = (h: HarnessEvidence): VerdictContext => ({strictCodes: true, harness: h});

const table: Array<[string, JudgedCase, Observation, VerdictContext, string]> = [
  // 4xx on request vectors
  ['guard 403', c('path', '4xx'), http(403, 'GUARD_DENIED_REFERENCE'), strict, 'passed'],
  ['guard 400', c('query', '4xx'), http(400, 'GUARD_MALFORMED_INPUT'), strict, 'passed'],
  ['HTTP parser 400', c('path', '4xx'), parser400, strict, 'passed'],
  ['routing 404 is not a refusal (strict)', c('path', '4xx'), http(404, 'NOT_FOUND'), strict, 'failed'],
  ['routing 404 counts when lenient', c('path', '4xx'), http(404, 'NOT_FOUND'), lenient, 'passed'],
  ['validation 400 is not a guard refusal (strict)', c('body', '4xx'), http(400, 'BAD_REQUEST'), strict, 'failed'],
  ['200', c('header', '4xx'), http(200), strict, 'failed'],
  [
    'HEAD 403 without body (JSON error type)',
    {...c('path', '4xx'), method: 'HEAD'},
    http(403, undefined, {headers: {'content-type': 'application/json'}}),
    strict,
    'passed',
  ],
  [
    'HEAD 404 without body',
    {...c('path', '4xx'), method: 'HEAD'},
    http(404, undefined, {headers: {'content-type': 'application/json'}}),
    strict,
    'failed',
  ],
  ['GET 403 without a code (strict)', c('path', '4xx'), http(403, undefined, {headers: {'content-type': 'application/json'}}), strict, 'failed'],
  ['500 is never a refusal', c('body', '4xx'), http(500, 'INTERNAL_ERROR'), lenient, 'failed'],
  ['no response is not a 4xx', c('path', '4xx'), noResp, strict, 'failed'],
  ['client error never passes', c('path', '4xx'), clientErr, lenient, 'failed'],
  ['unreachable never passes', c('path', '4xx'), unreachable, lenient, 'failed'],
  ['not run is not applicable', c('path', '4xx'), notRun, strict, 'not-applicable'],
  // url-param
  ['SSRF refusal, no canary', c('url-param', '4xx'), http(403, 'SSRF_ADDRESS_DENIED'), local(clean), 'passed'],
  ['SSRF refusal but a canary was hit', c('url-param', '4xx'), http(403, 'SSRF_ADDRESS_DENIED'), local(hit), 'failed'],
  ['5xx after a canary hit', c('url-param', '4xx'), http(502, 'SSRF_UPSTREAM_FAILED'), local(hit), 'failed'],
  ['guard 400 on a url param', c('url-param', '4xx'), http(400, 'GUARD_MALFORMED_INPUT'), local(clean), 'passed'],
  ['auth code is not an SSRF refusal', c('url-param', '4xx'), http(403, 'AUTH_IDENTITY_NOT_ALLOWED'), local(clean), 'failed'],
  ['remote: refusal without canary proof', c('url-param', '4xx'), http(403, 'SSRF_ADDRESS_DENIED'), strict, 'not-applicable'],
  ['remote: 200 is a failure even without the harness', c('url-param', '4xx'), http(200), strict, 'failed'],
  // handshake
  ['no response', c('tls', 'handshake'), noResp, strict, 'passed'],
  ['handshake case answered with 200', c('tls', 'handshake'), http(200), strict, 'failed'],
  ['handshake case answered with 403', c('tls', 'handshake'), http(403, 'AUTH_CERT_IS_CA'), strict, 'failed'],
  [
    "handshake case: the connection gate's coded answer (401 AUTH_*, Connection: close)",
    c('tls', 'handshake'),
    http(401, 'AUTH_CERT_EXPIRED', {headers: {connection: 'close'}}),
    strict,
    'passed',
  ],
  [
    'handshake case: 403 AUTH_* with Connection: close (gate, wrong EKU)',
    c('tls', 'handshake'),
    http(403, 'AUTH_EKU_NOT_CLIENT_AUTH', {headers: {connection: 'close'}}),
    strict,
    'passed',
  ],
  [
    'handshake case: 401 AUTH_* on a kept-alive connection is an application answer',
    c('tls', 'handshake'),
    http(401, 'AUTH_CERT_EXPIRED', {headers: {connection: 'keep-alive'}}),
    strict,
    'failed',
  ],
  [
    'handshake case: 400 with Connection: close is no gate answer',
    c('tls', 'handshake'),
    http(400, 'BAD_REQUEST', {headers: {connection: 'close'}}),
    strict,
    'failed',
  ],
  [
    'handshake case: 401 without a code is no gate answer',
    c('tls', 'handshake'),
    http(401, undefined, {headers: {connection: 'close'}}),
    strict,
    'failed',
  ],
  ['client could not load the scenario', c('tls', 'handshake'), clientErr, strict, 'failed'],
  ['target down is not a refusal', c('tls', 'handshake'), unreachable, strict, 'failed'],
  ['handshake|4xx: no response', c('tls', 'handshake|4xx'), noResp, strict, 'passed'],
  ['handshake|4xx: 403 AUTH_*', c('tls', 'handshake|4xx'), http(403, 'AUTH_IDENTITY_NOT_ALLOWED'), strict, 'passed'],
  ['handshake|4xx: 404 NOT_FOUND (strict)', c('tls', 'handshake|4xx'), http(404, 'NOT_FOUND'), strict, 'failed'],
  ['handshake|4xx: 200', c('tls', 'handshake|4xx'), http(200), strict, 'failed'],
  // redirects
  ['no-follow: 4xx', c('url-param', '4xx|no-follow'), http(403, 'SSRF_REDIRECT_DENIED'), local(up(1)), 'passed'],
  [
    'no-follow: 3xx passed back in JSON',
    c('url-param', '4xx|no-follow'),
    http(200, undefined, {body: '{"status":302,"location":"http://127.0.0.1/"}'}),
    local(up(1)),
    'passed',
  ],
  ['no-follow: relayed 302', c('url-param', '4xx|no-follow'), http(302), local(up(1)), 'passed'],
  ['no-follow: followed (upstream saw 2)', c('url-param', '4xx|no-follow'), http(200, undefined, {body: '{"status":200}'}), local(up(2)), 'failed'],
  ['no-follow: 200 with the final page', c('url-param', '4xx|no-follow'), http(200, undefined, {body: '{"status":200}'}), local(up(1)), 'failed'],
  ['no-follow: canary hit', c('url-param', '4xx|no-follow'), http(200, undefined, {body: '{"status":302}'}), local(hit), 'failed'],
  ['no-follow: remote', c('url-param', '4xx|no-follow'), http(403, 'SSRF_REDIRECT_DENIED'), strict, 'not-applicable'],
  // rebinding
  ['rebinding: 2xx pinned to public', c('url-param', 'no-internal-connection'), http(200), local(up(1)), 'passed'],
  ['rebinding: refused', c('url-param', 'no-internal-connection'), http(403, 'SSRF_ADDRESS_DENIED'), local(clean), 'passed'],
  ['rebinding: reached 127.0.0.1', c('url-param', 'no-internal-connection'), http(200), local(hit), 'failed'],
  ['rebinding: 5xx', c('url-param', 'no-internal-connection'), http(502), local(clean), 'failed'],
  ['rebinding: remote', c('url-param', 'no-internal-connection'), http(200), strict, 'not-applicable'],
  // benign
  ['2xx control', c('path', '2xx', 'allow'), http(200), strict, 'passed'],
  ['2xx control over-blocked', c('query', '2xx', 'allow'), http(403, 'GUARD_DENIED_REFERENCE'), strict, 'failed'],
  ['tls positive control without response', c('tls', '2xx', 'allow'), noResp, strict, 'failed'],
  ['guard-pass: fetched once', c('url-param', 'guard-pass', 'allow'), http(200), local(up(1)), 'passed'],
  ['guard-pass: refused', c('url-param', 'guard-pass', 'allow'), http(403, 'SSRF_ADDRESS_DENIED'), local(up(0)), 'failed'],
  ['guard-pass: 200 but the upstream saw nothing', c('url-param', 'guard-pass', 'allow'), http(200), local(up(0)), 'failed'],
  ['guard-pass: upstream saw two requests', c('url-param', 'guard-pass', 'allow'), http(200), local(up(2)), 'failed'],
  ['guard-pass: remote', c('url-param', 'guard-pass', 'allow'), http(200), strict, 'not-applicable'],
  // runtime
  ['runtime: all ok', c('runtime', 'denied'), rt([[true], [true, 'medium']]), strict, 'passed'],
  ['runtime: one high not ok', c('runtime', 'denied'), rt([[true], [false]]), strict, 'failed'],
  ['runtime: only a low finding fails (advisory)', c('runtime', 'denied'), rt([[true], [false, 'low']]), strict, 'passed'],
  ['runtime: no finding answers the case', c('runtime', 'denied'), rt([]), strict, 'failed'],
  ['runtime: only low findings answer the case', c('runtime', 'denied'), rt([[true, 'low']]), strict, 'failed'],
  ['runtime: probe error', c('runtime', 'denied'), rt([[true]], 'posture unavailable'), strict, 'failed'],
  ['runtime: not run (remote without --runtime-exec)', c('runtime', 'denied'), notRun, strict, 'not-applicable'],
  ['runtime: an HTTP observation', c('runtime', 'denied'), http(200), strict, 'failed'],
];

describe('escape: verdicts table (escape)', () => {
  for (const [name, kase, obs, ctx, status] of table) {
    it(`${kase.expect_detail} / ${name} -> ${status}`, () => {
      assert.equal(judge(kase, obs, ctx).status, status);
    });
  }

  it('spec-driven cases may bring their own refusal codes', () => {
    const spec = {...c('body', '4xx'), refusal: /^(GUARD_|SSRF_)/};
    assert.equal(judge(spec, http(403, 'SSRF_ADDRESS_DENIED'), strict).status, 'passed');
    assert.equal(judge(c('body', '4xx'), http(403, 'SSRF_ADDRESS_DENIED'), strict).status, 'failed');
  });

  it('recognises a passed-back redirect only for 3xx statuses', () => {
    assert.equal(isPassedBackRedirect(http(200, undefined, {body: '{"status":301}'})), true);
    assert.equal(isPassedBackRedirect(http(200, undefined, {body: '{"status":200}'})), false);
    assert.equal(isPassedBackRedirect(http(200, undefined, {body: 'not json'})), false);
    assert.equal(isPassedBackRedirect(http(307)), true);
    assert.equal(isPassedBackRedirect(http(404)), false);
    assert.equal(isPassedBackRedirect(noResp), false);
  });
});

/**
 * The HTTP limits added for hostile transport input: config validation, the pure limit check of
 * the limits middleware, Node's timeout-check interval and the strict parser pin. The behaviour
 * against real clients is in test/acceptance/reliability/hostile-input.acceptance.test.ts.
 */
import assert from 'node:assert/strict';
import {parseConfig} from '../../../src/config/config';
import {AppError} from '../../../src/errors';
import {requestLimitViolation} from '../../../src/middleware/http-limits.middleware';
import {clientErrorResponse, isHttpParserError} from '../../../src/observers/tls-gate.observer';
import {handshakeRefusalCode} from '../../../src/tls/connection-gate';
import {buildServerTlsOptions, connectionsCheckingIntervalMs} from '../../../src/tls/tls-options';

function configError(env: Record<string, string>): AppError {
  try {
    parseConfig(env);
  } catch (e) {
    assert.ok(e instanceof AppError);
    return e;
  }
  assert.fail('parseConfig accepted the environment');
}

describe('reliability: HTTP limits (integration)', () => {
  it('HTTP_MAX_HEADERS_COUNT defaults to 100 and is bounded', () => {
    assert.equal(parseConfig({}).http.maxHeadersCount, 100);
    assert.equal(parseConfig({HTTP_MAX_HEADERS_COUNT: '40'}).http.maxHeadersCount, 40);
    for (const bad of ['0', '7', '2001', 'ten', '-1']) {
      const e = configError({HTTP_MAX_HEADERS_COUNT: bad});
      assert.equal(e.code, 'CONFIG_INVALID', bad);
      assert.equal(e.details.variable, 'HTTP_MAX_HEADERS_COUNT');
    }
  });

  it("TLS_HANDSHAKE_TIMEOUT_MS defaults to 10 s (not Node's 120 s), is bounded and reaches the server options", () => {
    assert.equal(parseConfig({}).http.handshakeTimeoutMs, 10_000);
    const cfg = parseConfig({TLS_HANDSHAKE_TIMEOUT_MS: '1500'});
    assert.equal(
      buildServerTlsOptions(cfg.tls, cfg.http, {certPem: Buffer.from('C'), keyPem: Buffer.from('K'), caPem: Buffer.from('A')}).handshakeTimeout,
      1500,
    );
    for (const bad of ['0', '99', '120001', 'x'])
      assert.equal(configError({TLS_HANDSHAKE_TIMEOUT_MS: bad}).details.variable, 'TLS_HANDSHAKE_TIMEOUT_MS', bad);
  });

  it('a headers timeout above the request timeout is a coded config error, not a start-up crash', () => {
    const e = configError({HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '4000'});
    assert.equal(e.code, 'CONFIG_INVALID');
    assert.equal(e.details.variable, 'HTTP_HEADERS_TIMEOUT_MS');
    assert.equal(parseConfig({HTTP_HEADERS_TIMEOUT_MS: '4000', HTTP_REQUEST_TIMEOUT_MS: '4000'}).http.requestTimeoutMs, 4000);
  });

  const limits = {maxHeadersCount: 10};
  const req = (pairs: number, contentLength?: string, httpVersion = '1.1', host: string | null = 'localhost') => ({
    rawHeaders: Array.from({length: pairs}, (_, i) => [`x-${i}`, 'v']).flat(),
    headers: {...(host === null ? {} : {host}), ...(contentLength === undefined ? {} : {'content-length': contentLength})},
    httpVersion,
  });
  const table: [string, ReturnType<typeof req>, string | undefined][] = [
    ['10 header fields', req(10), undefined],
    ['11 header fields', req(11), 'HTTP_HEADERS_TOO_LARGE'],
    ["a body far over HTTP_MAX_BODY_BYTES (the request guard's limit, not this one)", req(2, '99999999999999999999'), undefined],
    ['HTTP/1.1 without Host', req(2, undefined, '1.1', null), 'BAD_REQUEST'],
    ['HTTP/1.0 without Host', req(2, undefined, '1.0', null), undefined],
  ];
  for (const [what, r, code] of table) {
    it(`limits middleware: ${what} -> ${code ?? 'pass'}`, () => {
      const v = requestLimitViolation(r, limits);
      assert.equal(v?.code, code);
      if (v) assert.equal(v.statusCode, {PAYLOAD_TOO_LARGE: 413, HTTP_HEADERS_TOO_LARGE: 431, BAD_REQUEST: 400}[v.code as string]);
    });
  }

  it('TLS-layer errors reaching clientError get no HTTP answer, parser errors do', () => {
    const e = (code: string) => Object.assign(new Error(code), {code});
    for (const c of ['HPE_INVALID_METHOD', 'HPE_HEADER_OVERFLOW', 'HPE_UNEXPECTED_CONTENT_LENGTH', 'ERR_HTTP_REQUEST_TIMEOUT'])
      assert.equal(isHttpParserError(e(c)), true, c);
    for (const c of ['ERR_TLS_HANDSHAKE_TIMEOUT', 'ECONNRESET', 'ERR_SSL_WRONG_VERSION_NUMBER']) assert.equal(isHttpParserError(e(c)), false, c);
    assert.equal(isHttpParserError(new Error('no code')), false);
  });

  it("the parser-error answers carry a code whose status is the response's status", () => {
    for (const [errCode, status, code] of [
      ['HPE_HEADER_OVERFLOW', 431, 'HTTP_HEADERS_TOO_LARGE'],
      ['ERR_HTTP_REQUEST_TIMEOUT', 408, 'HTTP_REQUEST_TIMEOUT'],
      ['HPE_INVALID_METHOD', 400, 'BAD_REQUEST'],
      [undefined, 400, 'BAD_REQUEST'],
    ] as const) {
      const text = clientErrorResponse(errCode);
      assert.match(text, new RegExp(`^HTTP/1\\.1 ${status} `));
      const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
      assert.deepEqual(Object.keys(body), ['error']);
      assert.equal(body.error.code, code);
      assert.match(text, /\r\nConnection: close\r\n/);
    }
  });

  it('Node checks the timeouts at least every second and never slower than a quarter of the shortest', () => {
    assert.equal(connectionsCheckingIntervalMs({headersTimeoutMs: 10_000, requestTimeoutMs: 30_000}), 1000);
    assert.equal(connectionsCheckingIntervalMs({headersTimeoutMs: 1000, requestTimeoutMs: 2000}), 250);
    assert.equal(connectionsCheckingIntervalMs({headersTimeoutMs: 100, requestTimeoutMs: 100}), 25);
    const cfg = parseConfig({HTTP_HEADERS_TIMEOUT_MS: '800', HTTP_REQUEST_TIMEOUT_MS: '2000'});
    const o = buildServerTlsOptions(cfg.tls, cfg.http, {certPem: Buffer.from('C'), keyPem: Buffer.from('K'), caPem: Buffer.from('A')});
    assert.equal(o.connectionsCheckingInterval, 200);
    assert.equal(o.insecureHTTPParser, false);
    assert.equal(o.requireHostHeader, false, 'the limits middleware answers a missing Host with a coded 400');
  });

  const handshakeTable: [string | undefined, string | undefined, string][] = [
    ['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', undefined, 'AUTH_NO_CLIENT_CERT'],
    ['ECONNRESET', 'CERT_HAS_EXPIRED', 'AUTH_CERT_EXPIRED'],
    ['ECONNRESET', 'CERT_NOT_YET_VALID', 'AUTH_CERT_NOT_YET_VALID'],
    ['ECONNRESET', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'AUTH_CERT_UNTRUSTED'],
    ['ECONNRESET', 'SELF_SIGNED_CERT_IN_CHAIN', 'AUTH_CERT_UNTRUSTED'],
    ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', undefined, 'TLS_HANDSHAKE_FAILED'],
    ['ERR_SSL_CERTIFICATE_VERIFY_FAILED', undefined, 'AUTH_CERT_UNTRUSTED'],
    ['ERR_SSL_UNSUPPORTED_PROTOCOL', undefined, 'TLS_HANDSHAKE_FAILED'],
    ['ERR_SSL_NO_SHARED_CIPHER', undefined, 'TLS_HANDSHAKE_FAILED'],
    ['ERR_TLS_HANDSHAKE_TIMEOUT', undefined, 'TLS_HANDSHAKE_FAILED'],
    ['ECONNRESET', undefined, 'TLS_HANDSHAKE_FAILED'],
    [undefined, undefined, 'TLS_HANDSHAKE_FAILED'],
  ];
  for (const [err, authz, code] of handshakeTable) {
    it(`a refused handshake (${err ?? 'no code'}, ${authz ?? 'no verdict'}) is audited as ${code}`, () => {
      assert.equal(handshakeRefusalCode(err, authz), code);
    });
  }
});

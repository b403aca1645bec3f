/**
 * The request-entry middleware (src/middleware/request-entry.middleware.ts): security headers,
 * request limits and the shutdown check in one step, with the behaviour of the two middleware it
 * replaced. Real Node request/response objects and a real LoopBack MiddlewareContext; the
 * end-to-end behaviour (over mTLS) is in test/integration/reliability/http-limits.test.ts,
 * test/acceptance/mtls-policy.acceptance.test.ts and the shutdown-under-load acceptance test.
 */
import assert from 'node:assert/strict';
import {IncomingMessage, ServerResponse} from 'node:http';
import {Socket} from 'node:net';
import {Context} from '@loopback/core';
import {MiddlewareContext} from '@loopback/rest';
import {AppError} from '../../../src/errors';
import {createRequestEntryMiddleware} from '../../../src/middleware/request-entry.middleware';
import {SECURITY_HEADERS} from '../../../src/middleware/security-headers.middleware';

function givenRequest(headers: [string, string][], httpVersion = '1.1'): {ctx: MiddlewareContext; res: ServerResponse} {
  const req = new IncomingMessage(new Socket());
  req.httpVersion = httpVersion;
  req.rawHeaders = headers.flat();
  req.headers = Object.fromEntries(headers.map(([k, v]) => [k.toLowerCase(), v]));
  const res = new ServerResponse(req);
  return {ctx: new MiddlewareContext(req as never, res as never, new Context('app')), res};
}

describe('middleware: request-entry middleware (unit)', () => {
  const limits = {maxHeadersCount: 3};

  const cases: [string, [string, string][], string, boolean, string | undefined, string | undefined][] = [
    // name, headers, http version, shutting down, expected error code, expected Connection header
    ['an ordinary request goes on', [['Host', 'x']], '1.1', false, undefined, undefined],
    [
      'too many header fields: 431 HTTP_HEADERS_TOO_LARGE, connection closed',
      [
        ['Host', 'x'],
        ['A', '1'],
        ['B', '2'],
        ['C', '3'],
      ],
      '1.1',
      false,
      'HTTP_HEADERS_TOO_LARGE',
      'close',
    ],
    ['HTTP/1.1 without Host: BAD_REQUEST, connection closed', [['A', '1']], '1.1', false, 'BAD_REQUEST', 'close'],
    ['HTTP/1.0 without Host goes on', [['A', '1']], '1.0', false, undefined, undefined],
    ['during shutdown: told to close', [['Host', 'x']], '1.1', true, undefined, 'close'],
  ];
  for (const [name, headers, version, shutting, code, connection] of cases) {
    it(name, async () => {
      const {ctx, res} = givenRequest(headers, version);
      let nextCalled = false;
      const mw = createRequestEntryMiddleware({value: shutting}, limits);
      const outcome = await Promise.resolve(
        mw(ctx, async () => {
          nextCalled = true;
          return 'result';
        }),
      ).then(
        v => ({v}),
        (e: unknown) => ({e}),
      );
      // The security headers are on every answer, refusals included.
      for (const [h, v] of Object.entries(SECURITY_HEADERS)) assert.equal(res.getHeader(h), v, h);
      if (code) {
        assert.ok('e' in outcome && outcome.e instanceof AppError, 'refused with an AppError');
        assert.equal((outcome as {e: AppError}).e.code, code);
        assert.equal(nextCalled, false, 'the rest of the chain does not run');
      } else {
        assert.deepEqual(outcome, {v: 'result'});
        assert.equal(nextCalled, true);
      }
      assert.equal(res.getHeader('Connection'), connection);
    });
  }

  it('a shutdown that begins while the request runs still closes the connection', async () => {
    const {ctx, res} = givenRequest([['Host', 'x']]);
    const shutting = {value: false};
    await createRequestEntryMiddleware(shutting, limits)(ctx, async () => {
      shutting.value = true;
      return undefined;
    });
    assert.equal(res.getHeader('Connection'), 'close');
  });

  it('an error from the rest of the chain passes through, with the shutdown check applied', async () => {
    const {ctx, res} = givenRequest([['Host', 'x']]);
    const shutting = {value: false};
    const boom = new Error('boom');
    await assert.rejects(
      Promise.resolve(
        createRequestEntryMiddleware(shutting, limits)(ctx, async () => {
          shutting.value = true;
          throw boom;
        }),
      ),
      (e: unknown) => e === boom,
    );
    assert.equal(res.getHeader('Connection'), 'close');
  });
});

/**
 * readBoundedBody() (the guard middleware's body reader) against a real HTTP server on loopback:
 * no body, a body in several chunks, the bound (declared and streamed), a client that goes away
 * mid-body.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import net from 'node:net';
import {readBoundedBody} from '../../../src/guards/request-guard.middleware';

type Read = Awaited<ReturnType<typeof readBoundedBody>>;

describe('guards: readBoundedBody (integration)', () => {
  const MAX = 1000;
  let server: http.Server;
  let port: number;
  let results: Read[] = [];
  let waiters: Array<() => void> = [];

  before(async () => {
    server = http.createServer((req, res) => {
      void readBoundedBody(req, MAX).then(read => {
        results.push(read);
        waiters.splice(0).forEach(w => w());
        if (!res.destroyed) res.end(`read:${read.kind}`);
      });
    });
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise(r => server.close(r));
  });
  beforeEach(() => {
    results = [];
    waiters = [];
  });

  const nextResult = () => (results.length > 0 ? Promise.resolve() : new Promise<void>(r => waiters.push(r)));

  /** Raw request text over a socket (the test controls chunking and aborts); resolves to the response text. */
  async function raw(parts: string[], opts: {abortAfter?: boolean} = {}): Promise<string> {
    const sock = net.connect(port, '127.0.0.1');
    let answer = '';
    sock.on('data', d => (answer += d.toString()));
    sock.on('error', () => {});
    await new Promise<void>(r => sock.once('connect', r));
    for (const p of parts) {
      sock.write(p);
      await new Promise(r => setTimeout(r, 5));
    }
    if (opts.abortAfter) sock.destroy();
    await nextResult();
    if (!opts.abortAfter) {
      const end = Date.now() + 5000;
      while (!/\r\n\r\nread:/.test(answer) && !/read:\w+$/.test(answer) && Date.now() < end) await new Promise(r => setTimeout(r, 5));
    }
    sock.destroy();
    return answer;
  }

  it('no body: none', async () => {
    await raw(['GET /x HTTP/1.1\r\nHost: a\r\n\r\n']);
    assert.deepEqual(results[0], {kind: 'none'});
  });

  it('a body in several chunks (content-length and chunked): ok, bytes in order', async () => {
    await raw(['POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello', ' ', 'world']);
    assert.equal(results[0].kind, 'ok');
    assert.equal(results[0].kind === 'ok' && results[0].bytes.toString(), 'hello world');
    results = [];
    await raw(['POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n', '2\r\nde\r\n', '0\r\n\r\n']);
    assert.equal(results[0].kind === 'ok' && results[0].bytes.toString(), 'abcde');
  });

  it('a declared length over the bound: too-large before reading, and the response is still written', async () => {
    const answer = await raw([`POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: ${MAX + 1}\r\n\r\n`]);
    assert.deepEqual(results[0], {kind: 'too-large'});
    assert.match(answer, /read:too-large$/);
  });

  it('a streamed body over the bound: too-large, and the response is still written', async () => {
    const chunk = 'x'.repeat(600);
    const answer = await raw([
      `POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${(600).toString(16)}\r\n${chunk}\r\n`,
      `${(600).toString(16)}\r\n${chunk}\r\n`,
    ]);
    assert.deepEqual(results[0], {kind: 'too-large'});
    assert.match(answer, /^HTTP\/1\.1 200 [\s\S]*read:too-large$/);
  });

  it('a client that goes away mid-body: aborted', async () => {
    await raw(['POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\npartial'], {abortAfter: true});
    assert.deepEqual(results[0], {kind: 'aborted'});
  });
});

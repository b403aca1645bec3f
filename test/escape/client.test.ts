/**
 * The runner's wire client against real loopback TLS servers: raw bytes go out unchanged, and a
 * refusal is only ever "no response" when the server refused, never when the client failed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import {parseResponse, sendOverTls, sendPlain, serializeRequest} from '../../src/escape/client';
import {buildRequest, DEFAULT_ROUTES, splitHeader} from '../../src/escape/requests';
import {loadCatalog} from '../../src/escape/catalog';
import {DevPkiManifest, givenTestPki} from '../fixtures/pki';

function listen(server: net.Server): Promise<number> {
  return new Promise(resolve => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

describe('escape: wire client (escape)', () => {
  let pki: DevPkiManifest;
  let ca: Buffer;
  let cert: Buffer;
  let key: Buffer;
  const servers: net.Server[] = [];
  const received: Buffer[] = [];

  /** A TLS 1.3 server that requires a client certificate and runs `onSocket` after the handshake. */
  async function givenTlsServer(onSocket: (s: tls.TLSSocket) => void, extra: tls.TlsOptions = {}): Promise<number> {
    const server = tls.createServer(
      {
        cert: fs.readFileSync(pki.server.cert),
        key: fs.readFileSync(pki.server.key),
        ca,
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.3',
        ...extra,
      },
      onSocket,
    );
    servers.push(server);
    return listen(server);
  }

  before(async () => {
    pki = await givenTestPki();
    ca = fs.readFileSync(pki.caBundle);
    cert = fs.readFileSync(pki.clients.valid.cert);
    key = fs.readFileSync(pki.clients.valid.key);
  });
  after(async () => {
    for (const s of servers) await new Promise(r => s.close(() => r(undefined)));
  });

  it('writes path, query, header and body payloads byte for byte (no URL normalisation)', async () => {
    const port = await givenTlsServer(s => {
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => {
        chunks.push(d);
        const all = Buffer.concat(chunks);
        if (all.includes('\r\n\r\n')) {
          received.push(all);
          s.end(
            'HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: 49\r\n\r\n{"error":{"code":"GUARD_DENIED_REFERENCE","m":1}}',
          );
        }
      });
    });
    const cases = loadCatalog().cases;
    const pick = (id: string) => cases.find(c => c.id === id)!;
    for (const id of ['PT-013', 'PT-003', 'PT-025', 'HP-023', 'HM-HP-001']) {
      received.length = 0;
      const c = pick(id);
      const r = await sendOverTls({
        endpoint: {host: '127.0.0.1', port, servername: 'localhost', ca},
        credentials: {cert, key},
        request: buildRequest(c, DEFAULT_ROUTES),
      });
      assert.equal(r.kind, 'http', id);
      assert.equal(r.kind === 'http' && r.code, 'GUARD_DENIED_REFERENCE');
      const line = received[0].toString('latin1').split('\r\n')[0];
      if (c.vector === 'path') assert.equal(line, `GET ${c.payload} HTTP/1.1`, id);
      if (c.vector === 'query') assert.equal(line, `GET /search?${c.payload} HTTP/1.1`, id);
      if (c.vector === 'header') {
        const [name, value] = splitHeader(c.payload);
        assert.ok(received[0].includes(Buffer.from(`\r\n${name}: ${value}\r\n`, 'utf8')), id);
      }
    }
  });

  it('a server that closes after the handshake is "no-response" (secureConnected)', async () => {
    const port = await givenTlsServer(s => s.destroy());
    const r = await sendOverTls({
      endpoint: {host: '127.0.0.1', port, servername: 'localhost', ca},
      credentials: {cert, key},
      request: {method: 'GET', target: '/'},
    });
    assert.equal(r.kind, 'no-response');
  });

  it('a server that refuses the client certificate is "no-response"', async () => {
    const port = await givenTlsServer(s => s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    const r = await sendOverTls({endpoint: {host: '127.0.0.1', port, servername: 'localhost', ca}, request: {method: 'GET', target: '/'}});
    assert.equal(r.kind, 'no-response');
  });

  it('a TLS 1.2-only client against a TLS 1.3 server is "no-response" (protocol_version alert)', async () => {
    const port = await givenTlsServer(s => s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    const r = await sendOverTls({
      endpoint: {host: '127.0.0.1', port, servername: 'localhost', ca},
      credentials: {cert, key},
      tlsOptions: {maxVersion: 'TLSv1.2'},
      request: {method: 'GET', target: '/'},
    });
    assert.equal(r.kind, 'no-response');
  });

  it('a server certificate that does not verify against --ca is a client error, never a refusal', async () => {
    const port = await givenTlsServer(s => s.destroy());
    const wrongCa = fs.readFileSync(pki.untrustedCa.cert);
    const r = await sendOverTls({
      endpoint: {host: '127.0.0.1', port, servername: 'localhost', ca: wrongCa},
      credentials: {cert, key},
      request: {method: 'GET', target: '/'},
    });
    assert.equal(r.kind, 'client-error');
  });

  it('a cipher list the client cannot use is a client error, never a refusal', async () => {
    const port = await givenTlsServer(s => s.destroy());
    const r = await sendOverTls({
      endpoint: {host: '127.0.0.1', port, servername: 'localhost', ca},
      credentials: {cert, key},
      tlsOptions: {maxVersion: 'TLSv1.2', ciphers: 'NO-SUCH-CIPHER'},
      request: {method: 'GET', target: '/'},
    });
    assert.equal(r.kind, 'client-error');
  });

  it('a closed port is "unreachable", never a refusal', async () => {
    const s = net.createServer();
    const port = await listen(s);
    await new Promise(r => s.close(() => r(undefined)));
    const r = await sendOverTls({endpoint: {host: '127.0.0.1', port, ca}, credentials: {cert, key}, request: {method: 'GET', target: '/'}});
    assert.equal(r.kind, 'unreachable');
    const p = await sendPlain({host: '127.0.0.1', port}, {method: 'GET', target: '/'});
    assert.equal(p.kind, 'unreachable');
  });

  it('plain HTTP to a TLS port gets no HTTP response', async () => {
    const port = await givenTlsServer(s => s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    const r = await sendPlain({host: '127.0.0.1', port}, {method: 'GET', target: '/ping'});
    assert.equal(r.kind, 'no-response');
  });

  it('parses Content-Length, chunked, HEAD and HTTP-parser answers', () => {
    const cl = parseResponse(
      Buffer.from('HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: 35\r\n\r\n{"error":{"code":"GUARD_X","m":""}}'),
      {headRequest: false, final: false},
    );
    assert.equal(cl?.status, 403);
    assert.equal(cl?.code, 'GUARD_X');
    assert.equal(parseResponse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'), {headRequest: false, final: false}), undefined);
    const ch = parseResponse(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'), {
      headRequest: false,
      final: false,
    });
    assert.equal(ch?.body, 'abc');
    const head = parseResponse(Buffer.from('HTTP/1.1 403 Forbidden\r\nContent-Length: 99\r\n\r\n'), {headRequest: true, final: false});
    assert.equal(head?.status, 403);
    const p = parseResponse(Buffer.from('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'), {headRequest: false, final: true});
    assert.equal(p?.httpParser, true);
    assert.equal(parseResponse(Buffer.from('\x15\x03\x03\x00\x02\x02\x46'), {headRequest: false, final: true}), undefined);
  });

  it('serialises exactly one request with Content-Length for bodies', () => {
    const b = serializeRequest(
      {method: 'POST', target: '/echo', headers: [['Content-Type', 'application/json']], body: Buffer.from('{"a":"é"}')},
      'h:1',
    );
    const text = b.toString('utf8');
    assert.match(
      text,
      /^POST \/echo HTTP\/1\.1\r\nHost: h:1\r\nContent-Type: application\/json\r\nContent-Length: 10\r\nConnection: close\r\n\r\n\{"a":"é"\}$/,
    );
  });
});

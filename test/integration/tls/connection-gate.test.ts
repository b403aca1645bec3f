/**
 * ConnectionGate on a real TLS 1.3 server on loopback with the test PKI's certificates and CRLs:
 * accepted and revoked clients, the audit line of a refusal, the per-connection peer data, the
 * revocation index's issuer cache across connections, fail-closed on a lookup error, and the
 * reload sweep.
 */
import assert from 'node:assert/strict';
import {X509Certificate} from 'node:crypto';
import {once} from 'node:events';
import * as fs from 'node:fs';
import type {AddressInfo} from 'node:net';
import * as tls from 'node:tls';
import {ConnectionGate, RevocationView} from '../../../src/tls/connection-gate';
import {RevocationIndex} from '../../../src/tls/revocation/revocation-index';
import {CapturedLog, givenCapturingLogger} from '../guards/support';
import {DevClientName, DevPkiManifest, givenTestPki} from '../../fixtures/pki';

interface Outcome {
  /** The server kept the connection and answered. */
  served: boolean;
}

describe('tls: ConnectionGate, real TLS 1.3 on loopback (integration)', function () {
  this.timeout(60_000);
  let pki: DevPkiManifest;
  let index: RevocationIndex;
  let server: tls.Server;
  let port: number;
  let log: CapturedLog;
  let gate: ConnectionGate;
  let view: () => RevocationView;
  /** When set, the stand-in keeps accepted sockets open (in `held`) instead of answering. */
  let holdOpen = false;
  const held: tls.TLSSocket[] = [];

  before(async () => {
    pki = await givenTestPki();
    const cas = [pki.rootCa.cert, pki.intermediateCa.cert].map(f => new X509Certificate(fs.readFileSync(f)));
    index = await RevocationIndex.load([pki.crls.root, pki.crls.intermediate], cas);
    log = givenCapturingLogger('info');
    view = () => index;
    gate = new ConnectionGate(() => view(), log.logger, {readTimeoutMs: 300, lingerMs: 200});
    server = tls.createServer({
      key: fs.readFileSync(pki.server.key),
      cert: fs.readFileSync(pki.server.cert),
      ca: fs.readFileSync(pki.caBundle),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
    });
    // Node's own listener stands in for the HTTP server: answer once the gate let the socket through.
    server.on('secureConnection', socket => {
      if (socket.destroyed) return;
      if (holdOpen) held.push(socket);
      else socket.end('ok');
    });
    gate.attach(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    gate?.detach();
    for (const s of gate?.sockets() ?? []) s.destroy();
    await new Promise(r => server?.close(r));
  });

  beforeEach(() => {
    log.clear();
    view = () => index;
  });

  async function connect(name: DevClientName): Promise<Outcome> {
    const c = pki.clients[name];
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: fs.readFileSync(pki.caBundle),
      cert: fs.readFileSync(c.cert),
      key: fs.readFileSync(c.key),
      minVersion: 'TLSv1.3',
    });
    let data = '';
    socket.on('data', d => (data += d.toString()));
    socket.on('error', () => undefined);
    await once(socket, 'close');
    return {served: data === 'ok'};
  }

  it('lets a valid client through and records its peer data; refuses a revoked one with one audit line', async () => {
    let seen: tls.TLSSocket | undefined;
    server.once('secureConnection', s => (seen = s));
    assert.deepEqual(await connect('valid'), {served: true});
    const peer = seen ? gate.peer(seen) : undefined;
    assert.equal(peer?.leaf?.serialNumber.replace(/^0+/, ''), pki.clients.valid.serialHex.replace(/^0+/, ''));
    assert.equal(peer?.resumed, false);

    assert.deepEqual(await connect('revoked'), {served: false});
    const denials = log.lines.filter(l => l.event === 'tls.connection');
    assert.equal(denials.length, 1);
    assert.equal(denials[0].code, 'AUTH_CERT_REVOKED');
    assert.equal(denials[0].source, 'crl');
    assert.equal(denials[0].remote, '127.0.0.1');
    assert.equal(denials[0].decision, 'deny');
  });

  it("repeated connections by the same certificate reuse the index's issuer match", async () => {
    const before = index.issuerCacheStats;
    for (let i = 0; i < 3; i++) assert.deepEqual(await connect('valid2'), {served: true});
    const after = index.issuerCacheStats;
    assert.equal(after.misses - before.misses, 1, JSON.stringify({before, after}));
    assert.equal(after.hits - before.hits, 2, JSON.stringify({before, after}));
  });

  it('fails closed when the revocation lookup throws', async () => {
    view = () => ({
      statusOfCertificate: () => {
        throw new Error('index unavailable');
      },
    });
    assert.deepEqual(await connect('valid'), {served: false});
    assert.ok(log.lines.some(l => l.code === 'CRL_RELOAD_FAILED'));
    assert.ok(log.lines.some(l => l.event === 'tls.connection' && l.code === 'AUTH_CERT_REVOKED'));
  });

  it('sweep() closes open connections a new index revokes, and only those', async () => {
    holdOpen = true;
    const open = (name: DevClientName) => {
      const c = pki.clients[name];
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        ca: fs.readFileSync(pki.caBundle),
        cert: fs.readFileSync(c.cert),
        key: fs.readFileSync(c.key),
        minVersion: 'TLSv1.3',
      });
      socket.on('error', () => undefined);
      return socket;
    };
    const a = open('valid');
    const b = open('health');
    try {
      while (held.length < 2) await new Promise(r => setTimeout(r, 5));
      assert.equal(gate.openConnections, 2);
      const healthSerial = new X509Certificate(fs.readFileSync(pki.clients.health.cert)).serialNumber;
      assert.equal(
        gate.sweep(leaf => leaf.serialNumber !== healthSerial),
        1,
      );
      assert.equal(gate.openConnections, 1);
      const swept = log.lines.filter(l => l.event === 'tls.connection' && l.reason === 'reload');
      assert.equal(swept.length, 1);
      assert.equal(swept[0].code, 'AUTH_CHAIN_INVALID');
      assert.equal(swept[0].serial, healthSerial);
      assert.equal(swept[0].remote, '127.0.0.1');
      // Nothing is revoked or distrusted now: a second sweep closes nothing.
      assert.equal(
        gate.sweep(() => true),
        0,
      );
    } finally {
      holdOpen = false;
      a.destroy();
      b.destroy();
      for (const s of held.splice(0)) s.destroy();
    }
  });
});

describe('tls: ConnectionGate in place of the HTTP listeners (rejectUnauthorized off, real TLS 1.3)', function () {
  this.timeout(60_000);
  let pki: DevPkiManifest;
  let server: tls.Server;
  let port: number;
  let gate: ConnectionGate;
  let log: CapturedLog;
  /** Sockets the downstream (stand-in for Node's HTTP connection listener) received. */
  const downstream: tls.TLSSocket[] = [];

  before(async () => {
    pki = await givenTestPki();
    const cas = [pki.rootCa.cert, pki.intermediateCa.cert].map(f => new X509Certificate(fs.readFileSync(f)));
    const index = await RevocationIndex.load([pki.crls.root, pki.crls.intermediate], cas);
    log = givenCapturingLogger('info');
    gate = new ConnectionGate(() => index, log.logger, {readTimeoutMs: 2000, lingerMs: 200, headers: {'Cache-Control': 'no-store'}});
    server = tls.createServer({
      key: fs.readFileSync(pki.server.key),
      cert: fs.readFileSync(pki.server.cert),
      ca: fs.readFileSync(pki.caBundle),
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
    });
    server.on('secureConnection', socket => {
      downstream.push(socket);
      socket.end('served');
    });
    gate.attach(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    for (const s of downstream) s.destroy();
    await new Promise(r => server?.close(r));
  });

  async function exchange(name: DevClientName | undefined): Promise<string> {
    const c = name ? pki.clients[name] : undefined;
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: fs.readFileSync(pki.caBundle),
      minVersion: 'TLSv1.3',
      ...(c ? {cert: fs.readFileSync(c.cert), key: fs.readFileSync(c.key)} : {}),
    });
    let data = '';
    socket.on('data', d => (data += d.toString()));
    socket.on('error', () => undefined);
    socket.once('secureConnect', () => socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    await once(socket, 'close');
    return data;
  }

  it('a refused client never reaches the downstream listener and receives the coded answer', async () => {
    const before = downstream.length;
    for (const [name, code] of [
      ['expired', 'AUTH_CERT_EXPIRED'],
      ['revoked', 'AUTH_CERT_REVOKED'],
      [undefined, 'AUTH_NO_CLIENT_CERT'],
    ] as const) {
      const answer = await exchange(name);
      assert.match(answer, /^HTTP\/1\.1 401 Unauthorized\r\n/);
      assert.match(answer, /\r\nConnection: close\r\n/);
      assert.equal((JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as {error: {code: string}}).error.code, code);
    }
    assert.equal(downstream.length, before, 'no refused socket was handed on');
    // The server side closes once the client's FIN arrives (or the drain bound ends): wait for it.
    for (let i = 0; i < 200 && gate.refusingConnections > 0; i++) await new Promise(r => setTimeout(r, 10));
    assert.equal(gate.refusingConnections, 0, 'every refused socket is closed');
  });

  it('an admitted client is handed to the downstream listener exactly once', async () => {
    const before = downstream.length;
    assert.equal(await exchange('valid'), 'served');
    assert.equal(downstream.length, before + 1);
  });

  it('after detach() nothing is admitted any more (fail closed)', async () => {
    gate.detach();
    const before = downstream.length;
    assert.equal(await exchange('valid'), '');
    assert.equal(downstream.length, before);
  });
});

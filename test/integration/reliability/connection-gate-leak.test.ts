/**
 * The connection gate reads the peer certificate without socket.getPeerX509Certificate(), which
 * leaked the peer X509 in native memory on Node 20.20 / OpenSSL 3.0 (found by the soak: RSS grew
 * ~15-20 KB per connection with a forced GC; see PeerLeaf), and without parsing the DER on the
 * accept path (OpenSSL 3.0's d2i_X509 costs ~140 µs). The soak measures the memory
 * (`npm run soak`); this test pins the mechanism with a real TLS handshake.
 */
import assert from 'node:assert/strict';
import {X509Certificate} from 'node:crypto';
import {readFileSync} from 'node:fs';
import tls from 'node:tls';
import {isAppError} from '../../../src/errors';
import {MtlsAuthenticator} from '../../../src/auth/mtls-authenticator';
import {MtlsAuthenticationStrategy} from '../../../src/auth/mtls.strategy';
import {createLogger} from '../../../src/logging/logger';
import {ConnectionGate, PeerLeaf, peerLeaf} from '../../../src/tls/connection-gate';
import {givenTestPki} from '../../fixtures/pki';

describe('reliability: the connection gate reads the peer certificate without the leaking call (integration)', () => {
  it('keeps the leaf from getPeerCertificate() and never calls getPeerX509Certificate()', async () => {
    const pki = await givenTestPki();
    const server = tls.createServer({
      cert: readFileSync(pki.server.cert),
      key: readFileSync(pki.server.key),
      ca: readFileSync(pki.caBundle),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
    });
    const seen = new Promise<PeerLeaf | undefined>(resolve => {
      server.once('secureConnection', (socket: tls.TLSSocket) => {
        socket.getPeerX509Certificate = () => assert.fail('getPeerX509Certificate() leaks native memory; the gate must not call it');
        resolve(peerLeaf(socket));
        socket.destroy();
      });
    });
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as {port: number}).port;
    const client = tls.connect({
      port,
      host: '127.0.0.1',
      servername: 'localhost',
      ca: readFileSync(pki.caBundle),
      cert: readFileSync(pki.clients.valid.cert),
      key: readFileSync(pki.clients.valid.key),
    });
    client.on('error', () => undefined);
    try {
      const leaf = await seen;
      assert.ok(leaf instanceof PeerLeaf);
      // The unparsed fields agree with a parse of the same DER (the revocation index keys on them).
      const parsed = new X509Certificate(readFileSync(pki.clients.valid.cert));
      assert.equal(leaf.fingerprint256, pki.clients.valid.fingerprint256);
      assert.equal(leaf.fingerprint256, parsed.fingerprint256);
      assert.equal(leaf.serialNumber, parsed.serialNumber);
      assert.ok(leaf.raw.equals(parsed.raw));
      assert.equal(leaf.x509().subject, parsed.subject);
      assert.equal(leaf.x509(), leaf.x509(), 'parsed once');
    } finally {
      client.destroy();
      await new Promise(r => server.close(r));
    }
  });

  it('no certificate, or a socket that cannot say: undefined (the gate then refuses)', () => {
    assert.equal(peerLeaf({getPeerCertificate: () => ({})}), undefined);
    assert.equal(peerLeaf({getPeerCertificate: () => null}), undefined);
    assert.equal(peerLeaf({getPeerCertificate: () => assert.fail('closed')}), undefined);
    assert.equal(peerLeaf({getPeerCertificate: () => ({raw: Buffer.alloc(0), serialNumber: '01', fingerprint256: 'AA'})}), undefined);
    assert.equal(peerLeaf({getPeerCertificate: () => ({raw: Buffer.from('x'), fingerprint256: 'AA'})}), undefined);
    // DER OpenSSL would not have accepted: kept unparsed, and the parse throws (the gate then refuses).
    const bad = peerLeaf({getPeerCertificate: () => ({raw: Buffer.from('not DER'), serialNumber: '01', fingerprint256: 'AA'})});
    assert.ok(bad);
    assert.throws(() => bad.x509());
  });

  it('the mtls strategy refusing a socket the gate did not admit reads the raw DER, never getPeerX509Certificate()', async () => {
    const pki = await givenTestPki();
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger({level: 'info', destination: {write: (s: string) => void lines.push(JSON.parse(s))}});
    const authenticator = new MtlsAuthenticator(
      {trustAnchors: [new X509Certificate(readFileSync(pki.caBundle)).raw], allowedSubjects: null, revocation: [], revocationFail: 'closed'},
      {logger},
    );
    // A real gate that never saw this server's connections (not attached): it admitted nothing.
    const gate = new ConnectionGate(() => ({statusOfCertificate: () => ({status: 'good' as const})}), logger);
    const strategy = new MtlsAuthenticationStrategy(authenticator, gate);
    const server = tls.createServer({
      cert: readFileSync(pki.server.cert),
      key: readFileSync(pki.server.key),
      ca: readFileSync(pki.caBundle),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
    });
    const refused = new Promise<unknown>(resolve => {
      server.once('secureConnection', (socket: tls.TLSSocket) => {
        socket.getPeerX509Certificate = () => assert.fail('getPeerX509Certificate() leaks native memory; the strategy must not call it');
        strategy
          .authenticate({socket} as never)
          .then(
            () => resolve(new Error('accepted')),
            e => resolve(e),
          )
          .finally(() => socket.destroy());
      });
    });
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as {port: number}).port;
    const client = tls.connect({
      port,
      host: '127.0.0.1',
      servername: 'localhost',
      ca: readFileSync(pki.caBundle),
      cert: readFileSync(pki.clients.valid.cert),
      key: readFileSync(pki.clients.valid.key),
    });
    client.on('error', () => undefined);
    try {
      const e = await refused;
      assert.ok(isAppError(e), String(e));
      assert.equal(e.code, 'AUTH_CERT_UNTRUSTED');
      const decision = lines.find(l => l.event === 'auth.decision');
      assert.equal(decision?.code, 'AUTH_CERT_UNTRUSTED');
    } finally {
      client.destroy();
      await new Promise(r => server.close(r));
    }
  });
});

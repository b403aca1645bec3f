/**
 * The connection gate reads the peer certificate without socket.getPeerX509Certificate(), which
 * leaks the peer X509 in native memory on Node 20.20 / OpenSSL 3.0 (found by the soak: RSS grew
 * ~15-20 KB per connection with a forced GC; see peerLeafCertificate()). The soak measures the
 * memory (`npm run soak`); this test pins the mechanism with a real TLS handshake.
 */
import assert from 'node:assert/strict';
import {X509Certificate} from 'node:crypto';
import {readFileSync} from 'node:fs';
import tls from 'node:tls';
import {peerLeafCertificate} from '../../../src/tls/connection-gate';
import {givenTestPki} from '../../fixtures/pki';

describe('reliability: the connection gate reads the peer certificate without the leaking call (integration)', () => {
  it('parses the leaf from getPeerCertificate().raw and never calls getPeerX509Certificate()', async () => {
    const pki = await givenTestPki();
    const server = tls.createServer({
      cert: readFileSync(pki.server.cert), key: readFileSync(pki.server.key), ca: readFileSync(pki.caBundle),
      requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3',
    });
    const seen = new Promise<X509Certificate | undefined>(resolve => {
      server.once('secureConnection', (socket: tls.TLSSocket) => {
        socket.getPeerX509Certificate = () => assert.fail('getPeerX509Certificate() leaks native memory; the gate must not call it');
        resolve(peerLeafCertificate(socket));
        socket.destroy();
      });
    });
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as {port: number}).port;
    const client = tls.connect({port, host: '127.0.0.1', servername: 'localhost', ca: readFileSync(pki.caBundle), cert: readFileSync(pki.clients.valid.cert), key: readFileSync(pki.clients.valid.key)});
    client.on('error', () => undefined);
    try {
      const leaf = await seen;
      assert.ok(leaf instanceof X509Certificate);
      assert.equal(leaf.fingerprint256, pki.clients.valid.fingerprint256);
    } finally {
      client.destroy();
      await new Promise(r => server.close(r));
    }
  });

  it('no certificate, or a socket that cannot say: undefined (the gate then refuses)', () => {
    assert.equal(peerLeafCertificate({getPeerCertificate: () => ({})}), undefined);
    assert.equal(peerLeafCertificate({getPeerCertificate: () => null}), undefined);
    assert.equal(peerLeafCertificate({getPeerCertificate: () => assert.fail('closed')}), undefined);
    assert.equal(peerLeafCertificate({getPeerCertificate: () => ({raw: Buffer.from('not DER')})}), undefined);
  });
});

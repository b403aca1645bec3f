/**
 * The connection gate reads the peer certificate once per connection through
 * socket.getPeerX509Certificate() (OpenSSL's parse of the handshake's certificate, no re-parse),
 * never through getPeerCertificate(), whose legacy object costs about 125 µs per call on Node 24
 * (see PeerLeaf). The fields it keeps are compared with `openssl x509` on the same certificate.
 * (getPeerX509Certificate() leaked on Node 20.20 / OpenSSL 3.0; the soak, `npm run soak`,
 * measures the memory: docs/benchmarks-fixes.md, "Soak on Node 24".)
 */
import assert from 'node:assert/strict';
import {X509Certificate} from 'node:crypto';
import {readFileSync} from 'node:fs';
import tls from 'node:tls';
import {opensslOk} from '../../fixtures/openssl';
import {isAppError} from '../../../src/errors';
import {MtlsAuthenticator} from '../../../src/auth/mtls-authenticator';
import {MtlsAuthenticationStrategy} from '../../../src/auth/mtls.strategy';
import {createLogger} from '../../../src/logging/logger';
import {ConnectionGate, PeerLeaf, peerLeaf} from '../../../src/tls/connection-gate';
import {DevPkiManifest, givenTestPki} from '../../fixtures/pki';

/**
 * One real TLS 1.3 handshake on loopback (the dev PKI's server, the valid client's certificate):
 * `onSecure` runs on the server's socket; the server and client are closed afterwards.
 */
async function givenMtlsHandshake<T>(pki: DevPkiManifest, onSecure: (socket: tls.TLSSocket) => Promise<T> | T): Promise<T> {
  const server = tls.createServer({
    cert: readFileSync(pki.server.cert),
    key: readFileSync(pki.server.key),
    ca: readFileSync(pki.caBundle),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
  });
  const result = new Promise<T>((resolve, reject) => {
    server.once('secureConnection', (socket: tls.TLSSocket) => {
      Promise.resolve()
        .then(() => onSecure(socket))
        .then(resolve, reject)
        .finally(() => socket.destroy());
    });
  });
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
  const client = tls.connect({
    port: (server.address() as {port: number}).port,
    host: '127.0.0.1',
    servername: 'localhost',
    ca: readFileSync(pki.caBundle),
    cert: readFileSync(pki.clients.valid.cert),
    key: readFileSync(pki.clients.valid.key),
  });
  client.on('error', () => undefined);
  try {
    return await result;
  } finally {
    client.destroy();
    await new Promise(r => server.close(r));
  }
}

describe('reliability: the connection gate reads the peer certificate once, without the legacy object (integration)', () => {
  it('keeps the leaf from getPeerX509Certificate(), never calls getPeerCertificate(), and agrees with openssl x509', async () => {
    const pki = await givenTestPki();
    const {leaf, calls} = await givenMtlsHandshake(pki, socket => {
      socket.getPeerCertificate = () => assert.fail('getPeerCertificate() builds the whole legacy object; the gate must not call it');
      let n = 0;
      const read = socket.getPeerX509Certificate.bind(socket);
      socket.getPeerX509Certificate = () => (n++, read());
      return {leaf: peerLeaf(socket), calls: n};
    });
    assert.equal(calls, 1, 'one read per connection');
    assert.ok(leaf instanceof PeerLeaf);
    // The unparsed fields agree with a parse of the same DER (the revocation index keys on them).
    const parsed = new X509Certificate(readFileSync(pki.clients.valid.cert));
    assert.equal(leaf.fingerprint256, pki.clients.valid.fingerprint256);
    assert.equal(leaf.fingerprint256, parsed.fingerprint256);
    assert.equal(leaf.serialNumber, parsed.serialNumber);
    assert.ok(leaf.raw.equals(parsed.raw));
    assert.equal(leaf.x509().subject, parsed.subject);
    assert.equal(leaf.x509(), leaf.x509(), 'parsed once');
    // The independent oracle: openssl's view of the same certificate file.
    const serial = opensslOk(['x509', '-in', pki.clients.valid.cert, '-noout', '-serial'])
      .trim()
      .replace(/^serial=/, '');
    assert.equal(leaf.serialNumber.replace(/^0+/, ''), serial.replace(/^0+/, ''));
    const fp = opensslOk(['x509', '-in', pki.clients.valid.cert, '-noout', '-fingerprint', '-sha256'])
      .trim()
      .replace(/^.*Fingerprint=/, '');
    assert.equal(leaf.fingerprint256, fp);
  });

  it('no certificate, or a socket that cannot say: undefined (the gate then refuses)', () => {
    assert.equal(peerLeaf({getPeerX509Certificate: () => undefined}), undefined);
    assert.equal(peerLeaf({getPeerX509Certificate: () => assert.fail('closed')}), undefined);
    assert.equal(peerLeaf({getPeerX509Certificate: () => ({raw: Buffer.alloc(0)}) as X509Certificate}), undefined);
  });

  it('the mtls strategy refusing a socket the gate did not admit reads the leaf as the gate does, never getPeerCertificate()', async () => {
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
    const e = await givenMtlsHandshake(pki, socket => {
      socket.getPeerCertificate = () => assert.fail('getPeerCertificate(): the strategy reads the leaf as the gate does');
      return strategy.authenticate({socket} as never).then(
        () => new Error('accepted'),
        (err: unknown) => err,
      );
    });
    assert.ok(isAppError(e), String(e));
    assert.equal(e.code, 'AUTH_CERT_UNTRUSTED');
    const decision = lines.find(l => l.event === 'auth.decision');
    assert.equal(decision?.code, 'AUTH_CERT_UNTRUSTED');
  });
});

/**
 * OcspClient against a REAL `openssl ocsp` responder (test/fixtures/ocsp-responder.ts) and against
 * misbehaving loopback servers. Certificates and the responder index come from `openssl ca`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import {parseCertificate, ParsedClientCertificate} from '../../../src/x509/certificate';
import {OcspClient, OcspClientOptions} from '../../../src/auth/ocsp-client';
import {defaultOcspTransport, OcspTransport} from '../../../src/auth/ocsp-transport';
import type {OcspResult} from '../../../src/auth/ocsp-verify';
import {
  givenClosedPort,
  givenMisbehavingResponder,
  givenOcspResponder,
  LoopbackResponder,
  Misbehaviour,
  OcspResponderOptions,
} from '../../fixtures/ocsp-responder';
import {givenTempDir, removeTempDir} from '../../fixtures/temp-dir';
import {IssuedCert, OpensslCa} from './support/openssl-pki';

const MIN = 60 * 1000;
const DAY = 24 * 60 * MIN;

function summary(r: OcspResult): string {
  return r.status === 'unknown' ? `unknown/${r.reason}` : r.status;
}

describe('auth: OCSP client, real openssl ocsp responder (integration)', function () {
  this.timeout(60_000);
  let tmp: string;
  let root: OpensslCa;
  let otherRoot: OpensslCa;
  let issuer: ParsedClientCertificate;
  const certs: Record<string, IssuedCert> = {};
  const leaf = (name: string) => parseCertificate(certs[name].der);
  const stops: Array<() => Promise<void>> = [];

  async function givenResponder(o: Partial<OcspResponderOptions> = {}): Promise<LoopbackResponder> {
    const r = await givenOcspResponder({
      indexFile: root.indexFile,
      caCert: root.cert.certPath,
      rsignerCert: root.cert.certPath,
      rsignerKey: root.cert.keyPath,
      nmin: 60,
      ...o,
    });
    stops.push(() => r.stop());
    return r;
  }

  async function givenBadResponder(b: Misbehaviour): Promise<LoopbackResponder> {
    const r = await givenMisbehavingResponder(b);
    stops.push(() => r.stop());
    return r;
  }

  /** A client whose clock can be moved. */
  function givenClient(url: string, o: Partial<OcspClientOptions> & {offsetMs?: () => number} = {}): OcspClient {
    const {offsetMs, ...rest} = o;
    return new OcspClient({url, timeoutMs: 2000, clock: () => new Date(Date.now() + (offsetMs?.() ?? 0)), ...rest});
  }

  before(async () => {
    tmp = givenTempDir('auth-pki-');
    root = await OpensslCa.createRoot(tmp, 'OCSP Root');
    otherRoot = await OpensslCa.createRoot(tmp, 'Other Root');
    issuer = parseCertificate(root.cert.der);
    certs.good = await root.issue('good');
    certs.good2 = await root.issue('good2');
    certs.revoked = await root.issue('revoked');
    await root.revoke(certs.revoked, 'keyCompromise');
    certs.unknown = await root.issue('unknown');
    // Drop it from the index: the responder then does not know the serial.
    const serial = certs.unknown.x509.serialNumber.toUpperCase();
    const lines = (await fs.readFile(root.indexFile, 'utf8')).split('\n').filter(l => !l.split('\t')[3]?.toUpperCase().endsWith(serial));
    await fs.writeFile(root.indexFile, lines.join('\n'));
    certs.signer = await root.issueOcspSigner('delegated-signer');
    certs.expiredSigner = await root.issueOcspSigner('expired-signer', {
      startDate: new Date(Date.now() - 10 * DAY),
      endDate: new Date(Date.now() - DAY),
    });
    certs.foreignSigner = await otherRoot.issueOcspSigner('foreign-signer');
    certs.noEkuSigner = await root.issue('no-ocsp-eku', {eku: 'clientAuth'});
    certs.later = await root.issue('revoked-later');
    certs.noAia = await root.issue('no-aia');
  });

  afterEach(async () => {
    while (stops.length) await stops.pop()!();
  });

  after(() => removeTempDir(tmp));

  describe('answers from the real responder', () => {
    it('good', async () => {
      const r = await givenResponder();
      const res = await givenClient(r.url).check(leaf('good'), issuer);
      assert.equal(summary(res), 'good');
      assert.equal(res.responder, 'ca');
      assert.ok(res.nextUpdate && res.expiresAt && res.expiresAt.getTime() === res.nextUpdate.getTime());
    });

    it('revoked (with time and reason)', async () => {
      const r = await givenResponder();
      const res = await givenClient(r.url).check(leaf('revoked'), issuer);
      assert.equal(summary(res), 'revoked');
      assert.ok(res.revokedAt instanceof Date);
      assert.equal(res.revocationReason, 1); // keyCompromise
    });

    it('unknown serial -> unknown/responder_unknown', async () => {
      const r = await givenResponder();
      assert.equal(summary(await givenClient(r.url).check(leaf('unknown'), issuer)), 'unknown/responder_unknown');
    });

    it('SHA-1 CertID is matched as well', async () => {
      const r = await givenResponder();
      assert.equal(summary(await givenClient(r.url, {certIdHash: 'SHA-1'}).check(leaf('good'), issuer)), 'good');
    });

    it('delegated responder carrying id-kp-OCSPSigning issued by the CA -> good', async () => {
      const r = await givenResponder({rsignerCert: certs.signer.certPath, rsignerKey: certs.signer.keyPath});
      const res = await givenClient(r.url).check(leaf('good'), issuer);
      assert.equal(summary(res), 'good');
      assert.equal(res.responder, 'delegated');
    });

    it('responderID by key (-resp_key_id) -> good', async () => {
      const r = await givenResponder({extraArgs: ['-resp_key_id']});
      assert.equal(summary(await givenClient(r.url).check(leaf('good'), issuer)), 'good');
    });

    it('CA-signed response without embedded certificates (-resp_no_certs) -> good', async () => {
      const r = await givenResponder({extraArgs: ['-resp_no_certs']});
      assert.equal(summary(await givenClient(r.url).check(leaf('good'), issuer)), 'good');
    });

    it('uses the AIA OCSP URL when no override is configured', async () => {
      const r = await givenResponder();
      const withAia = parseCertificate((await root.issue('with-aia', {ocspUrl: r.url})).der);
      const res = await new OcspClient({}).check(withAia, issuer);
      assert.equal(summary(res), 'good');
      assert.equal(res.url, r.url);
    });

    it('no AIA and no override -> unknown/no_responder_url', async () => {
      assert.equal(summary(await new OcspClient({}).check(leaf('noAia'), issuer)), 'unknown/no_responder_url');
    });
  });

  describe('responses that must not be trusted', () => {
    const signerCases: Array<[string, () => Partial<OcspResponderOptions>, string]> = [
      [
        'signed by a delegated responder of ANOTHER CA',
        () => ({rsignerCert: certs.foreignSigner.certPath, rsignerKey: certs.foreignSigner.keyPath}),
        'unknown/responder_not_authorized',
      ],
      [
        'signed by a certificate of the CA without id-kp-OCSPSigning',
        () => ({rsignerCert: certs.noEkuSigner.certPath, rsignerKey: certs.noEkuSigner.keyPath}),
        'unknown/responder_not_authorized',
      ],
      [
        'signed by an expired delegated responder',
        () => ({rsignerCert: certs.expiredSigner.certPath, rsignerKey: certs.expiredSigner.keyPath}),
        'unknown/responder_not_authorized',
      ],
      [
        'delegated responder certificate not included (-resp_no_certs)',
        () => ({rsignerCert: certs.signer.certPath, rsignerKey: certs.signer.keyPath, extraArgs: ['-resp_no_certs']}),
        'unknown/responder_not_authorized',
      ],
      ['corrupted signature (-badsig)', () => ({extraArgs: ['-badsig']}), 'unknown/signature_invalid'],
      ['signed with SHA-1 (-rmd sha1)', () => ({extraArgs: ['-rmd', 'sha1']}), 'unknown/weak_signature_algorithm'],
    ];
    for (const [name, opts, expected] of signerCases) {
      it(`${name} -> ${expected}`, async () => {
        const r = await givenResponder(opts());
        const res = await givenClient(r.url).check(leaf('good'), issuer);
        assert.equal(summary(res), expected);
        assert.equal(r.requests.length, 1, 'the real responder answered');
      });
    }

    it('stale: past nextUpdate (-nmin 1, clock +2 min) -> unknown/stale', async () => {
      const r = await givenResponder({nmin: 1});
      assert.equal(summary(await givenClient(r.url, {offsetMs: () => 2 * MIN}).check(leaf('good'), issuer)), 'unknown/stale');
    });

    it('nextUpdate within the clock skew is still accepted', async () => {
      const r = await givenResponder({nmin: 1});
      assert.equal(summary(await givenClient(r.url, {offsetMs: () => 2 * MIN, clockSkewSec: 120}).check(leaf('good'), issuer)), 'good');
    });

    it('no nextUpdate: fresh only for the configured maximum age', async () => {
      const r = await givenResponder({nmin: undefined});
      const fresh = await givenClient(r.url, {maxAgeWithoutNextUpdateSec: 600, offsetMs: () => 5 * MIN}).check(leaf('good'), issuer);
      assert.equal(summary(fresh), 'good');
      assert.equal(fresh.nextUpdate, undefined);
      const stale = await givenClient(r.url, {maxAgeWithoutNextUpdateSec: 600, offsetMs: () => 11 * MIN}).check(leaf('good'), issuer);
      assert.equal(summary(stale), 'unknown/stale');
    });

    it('thisUpdate in the future (client clock behind) -> unknown/not_yet_valid', async () => {
      const r = await givenResponder();
      assert.equal(summary(await givenClient(r.url, {offsetMs: () => -10 * MIN}).check(leaf('good'), issuer)), 'unknown/not_yet_valid');
    });

    it('nonce mismatch: a real response captured for another request is replayed -> unknown/nonce_mismatch', async () => {
      const real = await givenResponder();
      assert.equal(summary(await givenClient(real.url).check(leaf('good'), issuer)), 'good');
      const replay = await givenBadResponder({kind: 'body', body: real.responses[0]});
      assert.equal(summary(await givenClient(replay.url).check(leaf('good'), issuer)), 'unknown/nonce_mismatch');
    });

    it('replayed old response without nonce protection is still refused once stale', async () => {
      const real = await givenResponder({nmin: 1});
      assert.equal(summary(await givenClient(real.url, {nonce: false}).check(leaf('good'), issuer)), 'good');
      const replay = await givenBadResponder({kind: 'body', body: real.responses[0]});
      assert.equal(summary(await givenClient(replay.url, {nonce: false, offsetMs: () => 2 * MIN}).check(leaf('good'), issuer)), 'unknown/stale');
    });

    it('a real response for ANOTHER certificate -> unknown/certid_mismatch', async () => {
      const real = await givenResponder();
      assert.equal(summary(await givenClient(real.url, {nonce: false}).check(leaf('revoked'), issuer)), 'revoked');
      const other = await givenBadResponder({kind: 'body', body: real.responses[0]});
      assert.equal(summary(await givenClient(other.url, {nonce: false}).check(leaf('good'), issuer)), 'unknown/certid_mismatch');
    });

    it('a truncated real response -> unknown/malformed_response', async () => {
      const real = await givenResponder();
      await givenClient(real.url).check(leaf('good'), issuer);
      const body = real.responses[0];
      const cut = await givenBadResponder({kind: 'body', body: body.subarray(0, Math.floor(body.length / 2))});
      assert.equal(summary(await givenClient(cut.url).check(leaf('good'), issuer)), 'unknown/malformed_response');
    });

    it('a real response with trailing bytes -> unknown/malformed_response', async () => {
      const real = await givenResponder();
      await givenClient(real.url, {nonce: false}).check(leaf('good'), issuer);
      const padded = await givenBadResponder({kind: 'body', body: Buffer.concat([real.responses[0], Buffer.from([0])])});
      assert.equal(summary(await givenClient(padded.url, {nonce: false}).check(leaf('good'), issuer)), 'unknown/malformed_response');
    });
  });

  describe('responder failures', () => {
    const cases: Array<[string, Misbehaviour, string]> = [
      ['connection reset', {kind: 'refuse'}, 'unknown/transport_error'],
      ['HTTP 500', {kind: 'status', status: 500}, 'unknown/http_status'],
      ['HTTP 302 (redirects are not followed)', {kind: 'status', status: 302}, 'unknown/http_status'],
      ['garbage bytes', {kind: 'body', body: Buffer.from('\x30\x82garbage that is not DER at all', 'latin1')}, 'unknown/malformed_response'],
      ['empty body', {kind: 'body', body: Buffer.alloc(0)}, 'unknown/malformed_response'],
      ['wrong content type', {kind: 'body', body: Buffer.from('<html></html>'), contentType: 'text/html'}, 'unknown/content_type'],
      ['OCSPResponse tryLater', {kind: 'body', body: Buffer.from('30030a0103', 'hex')}, 'unknown/response_status'],
      ['OCSPResponse unauthorized', {kind: 'body', body: Buffer.from('30030a0106', 'hex')}, 'unknown/response_status'],
      ['10 MB body', {kind: 'large', bytes: 10 * 1024 * 1024}, 'unknown/response_too_large'],
    ];
    for (const [name, behaviour, expected] of cases) {
      it(`${name} -> ${expected}`, async () => {
        const r = await givenBadResponder(behaviour);
        assert.equal(summary(await givenClient(r.url).check(leaf('good'), issuer)), expected);
      });
    }

    it('responder down (nothing listening) -> unknown/transport_error', async () => {
      assert.equal(summary(await givenClient(await givenClosedPort()).check(leaf('good'), issuer)), 'unknown/transport_error');
    });

    it('responder never answers -> unknown/timeout after MTLS_OCSP_TIMEOUT_MS', async () => {
      const r = await givenBadResponder({kind: 'hang'});
      assert.equal(summary(await givenClient(r.url, {timeoutMs: 200}).check(leaf('good'), issuer)), 'unknown/timeout');
    });

    it('a transport that ignores the timeout is cut by the client deadline', async () => {
      const never: OcspTransport = () => new Promise(() => undefined);
      assert.equal(
        summary(await givenClient('http://127.0.0.1:9/', {timeoutMs: 100, transport: never}).check(leaf('good'), issuer)),
        'unknown/timeout',
      );
    });

    it('a transport that throws is unknown, never good', async () => {
      const boom: OcspTransport = () => Promise.reject(new Error('boom'));
      assert.equal(summary(await givenClient('http://127.0.0.1:9/', {transport: boom}).check(leaf('good'), issuer)), 'unknown/transport_error');
    });

    it('the default transport refuses non-http URLs', async () => {
      await assert.rejects(defaultOcspTransport('file:///etc/passwd', Buffer.alloc(1), {timeoutMs: 100, maxBytes: 10}), {reason: 'url_not_allowed'});
    });
  });

  describe('cache and coalescing', () => {
    it('N lookups for one certificate -> one query', async () => {
      const r = await givenResponder();
      const client = givenClient(r.url);
      for (let i = 0; i < 10; i++) assert.equal(summary(await client.check(leaf('good'), issuer)), 'good');
      assert.equal(r.requests.length, 1);
      assert.deepEqual(client.stats, {requests: 1, cacheHits: 9, coalesced: 0});
    });

    it('two concurrent lookups for one certificate -> one query', async () => {
      const r = await givenResponder();
      const client = givenClient(r.url);
      const [a, b] = await Promise.all([client.check(leaf('good'), issuer), client.check(leaf('good'), issuer)]);
      assert.deepEqual([summary(a), summary(b)], ['good', 'good']);
      assert.equal(r.requests.length, 1);
      assert.equal(client.stats.coalesced, 1);
    });

    it('failures are not cached', async () => {
      const r = await givenBadResponder({kind: 'status', status: 500});
      const client = givenClient(r.url);
      await client.check(leaf('good'), issuer);
      await client.check(leaf('good'), issuer);
      assert.equal(r.requests.length, 2);
    });

    it('the cache is bounded (LRU)', async () => {
      const r = await givenResponder();
      const client = givenClient(r.url, {cacheSize: 1});
      await client.check(leaf('good'), issuer);
      await client.check(leaf('good2'), issuer);
      await client.check(leaf('good'), issuer);
      assert.equal(r.requests.length, 3);
    });

    it('a cached answer expires at nextUpdate', async () => {
      let offset = 0;
      const r = await givenResponder({nmin: 1});
      const client = givenClient(r.url, {offsetMs: () => offset});
      assert.equal(summary(await client.check(leaf('good'), issuer)), 'good');
      offset = 30 * 1000;
      assert.equal(summary(await client.check(leaf('good'), issuer)), 'good');
      assert.equal(r.requests.length, 1);
      offset = 2 * MIN; // past nextUpdate: asked again (and the fresh answer, made at real time, is stale for this clock)
      assert.equal(summary(await client.check(leaf('good'), issuer)), 'unknown/stale');
      assert.equal(r.requests.length, 2);
    });

    it('a revocation after caching is seen once the cached answer expires, and bumps the epoch', async () => {
      let offset = 0;
      const r = await givenResponder({nmin: 10});
      const client = givenClient(r.url, {offsetMs: () => offset, cacheMaxTtlSec: 60});
      assert.equal(summary(await client.check(leaf('later'), issuer)), 'good');
      const epoch = client.epoch;
      await root.revoke(certs.later, 'superseded');
      assert.equal(summary(await client.check(leaf('later'), issuer)), 'good', 'served from the cache');
      assert.equal(r.requests.length, 1);
      offset = 2 * MIN; // past the cache lifetime (60 s); the responder answers afresh
      const after = await client.check(leaf('later'), issuer);
      assert.equal(summary(after), 'revoked');
      assert.equal(r.requests.length, 2);
      assert.equal(client.epoch, epoch + 1);
    });
  });
});

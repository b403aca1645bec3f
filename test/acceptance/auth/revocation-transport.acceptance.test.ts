/**
 * The revocation transport in the running service (child process, real TLS 1.3 handshakes):
 *  - OCSP leaves only through the SSRF-safe client: a loopback responder (a REAL `openssl ocsp`)
 *    without the operator's OUTBOUND_ALLOWED_CIDRS exception is never contacted and the request
 *    is refused fail-closed, the audit line naming SSRF_ADDRESS_DENIED; with the exception it answers;
 *  - MTLS_CRL_FETCH=true: the client certificate's CRL distribution point (a loopback HTTP server
 *    serving `openssl ca -gencrl` CRLs) is fetched on demand, verified and installed: revoked =>
 *    401 AUTH_CERT_REVOKED (and the connection gate cuts the next connection), good => 200, one
 *    download for many connections, a failing DP => 401 AUTH_REVOCATION_UNKNOWN, a DP at a denied
 *    address => never contacted.
 */
import assert from 'node:assert/strict';
import {CrlDistributionPoint, givenCrlDistributionPoint, givenOpensslCrl} from '../../fixtures/crl-distribution-point';
import {givenClient, givenMtlsEnv} from '../../fixtures/mtls-env';
import {givenOcspResponder, LoopbackResponder} from '../../fixtures/ocsp-responder';
import {DevPkiManifest, givenTestIntermediateCa, givenTestPki, issueCertificate, IssuedCert} from '../../fixtures/pki';
import {givenService, LogLine, ServiceHandle} from '../../fixtures/service';
import {HttpResult, NoResponse, tlsRequest} from '../../fixtures/tls-client';

const whoami = {target: '/whoami'};

function codeOf(r: HttpResult | NoResponse): string {
  if (r.outcome !== 'response') return 'no-response';
  if (r.status === 200) return '200';
  return `${r.status} ${(r.json as {error?: {code?: string}})?.error?.code}`;
}

describe('auth: revocation transport in the running service (acceptance)', function () {
  this.timeout(90_000);
  let pki: DevPkiManifest;
  let ca: Buffer;
  let responder: LoopbackResponder;
  let dp: CrlDistributionPoint;
  const services: ServiceHandle[] = [];
  let n = 0;

  const asClient = (c: IssuedCert) => ({ca, cert: c.certPem, key: c.keyPem});
  const decisionFor = (svc: ServiceHandle, fingerprint: string) =>
    svc.waitForLog(l => l.audit === true && l.event === 'auth.decision' && l.fingerprint === fingerprint);

  before(async () => {
    pki = await givenTestPki();
    ca = givenClient(pki, 'valid').ca;
    responder = await givenOcspResponder({
      indexFile: pki.opensslIndex,
      caCert: pki.intermediateCa.cert,
      rsignerCert: pki.ocspResponder.cert,
      rsignerKey: pki.ocspResponder.key,
      nmin: 60,
    });
    dp = await givenCrlDistributionPoint();
  });

  after(async () => {
    for (const s of services) await s.stop();
    await responder?.stop();
    await dp?.stop();
  });

  async function givenAuthService(extra: Record<string, string | undefined>): Promise<ServiceHandle> {
    const svc = await givenService(givenMtlsEnv(pki, extra));
    services.push(svc);
    return svc;
  }

  describe('OCSP', () => {
    it('without OUTBOUND_ALLOWED_CIDRS the loopback responder is never contacted: 401 AUTH_REVOCATION_UNKNOWN, audited SSRF_ADDRESS_DENIED', async () => {
      const svc = await givenAuthService({MTLS_REVOCATION: 'ocsp', MTLS_OCSP_URL: responder.url});
      const before = responder.requests.length;
      assert.equal(codeOf(await tlsRequest({port: svc.port, ...givenClient(pki, 'valid')}, whoami)), '401 AUTH_REVOCATION_UNKNOWN');
      assert.equal(responder.requests.length - before, 0, 'the responder received no request');
      const line = await decisionFor(svc, pki.clients.valid.fingerprint256);
      assert.equal(line.decision, 'deny');
      assert.equal(line.code, 'AUTH_REVOCATION_UNKNOWN');
      assert.match(String(line.reason), /SSRF_ADDRESS_DENIED/);
      const outbound = await svc.waitForLog(l => l.audit === true && l.event === 'outbound.decision' && l.purpose === 'ocsp');
      assert.equal(outbound.decision, 'deny');
      assert.equal(outbound.code, 'SSRF_ADDRESS_DENIED');
    });

    it('with OUTBOUND_ALLOWED_CIDRS=127.0.0.1/32 the same responder answers: 200, source ocsp', async () => {
      const svc = await givenAuthService({MTLS_REVOCATION: 'ocsp', MTLS_OCSP_URL: responder.url, OUTBOUND_ALLOWED_CIDRS: '127.0.0.1/32'});
      const before = responder.requests.length;
      assert.equal(codeOf(await tlsRequest({port: svc.port, ...givenClient(pki, 'valid')}, whoami)), '200');
      assert.equal(responder.requests.length - before, 1);
      assert.equal((await decisionFor(svc, pki.clients.valid.fingerprint256)).source, 'ocsp');
    });
  });

  describe('CRL fetching (MTLS_CRL_FETCH=true, no CRL files)', () => {
    const leaves: Record<string, IssuedCert> = {};
    const crlEnv = (extra: Record<string, string | undefined> = {}) => ({
      TLS_CRL_FILES: undefined,
      MTLS_CRL_FETCH: 'true',
      OUTBOUND_ALLOWED_CIDRS: '127.0.0.1/32',
      OUTBOUND_ALLOWED_PORTS: String(dp.port),
      ...extra,
    });

    before(async () => {
      const intermediate = await givenTestIntermediateCa();
      const issue = async (key: string, dpPath: string) => {
        const name = `crl-dp-${++n}`;
        leaves[key] = await issueCertificate(intermediate, {
          name,
          cn: name,
          sans: {uri: [`spiffe://hardened-mtls.test/client/${name}`]},
          crlUrl: dp.url(dpPath),
        });
      };
      await issue('failing', 'failing.crl');
      await issue('revoked', 'int.crl');
      for (let i = 0; i < 6; i++) await issue(`good${i}`, 'int.crl');
      for (let i = 0; i < 6; i++) await issue(`burst${i}`, 'burst.crl');
      await issue('denied', 'denied.crl');
      const crl = givenOpensslCrl({cert: pki.intermediateCa.cert, key: pki.intermediateCa.key}, [leaves.revoked]);
      dp.serve('int.crl', {kind: 'body', body: crl});
      dp.serve('burst.crl', {kind: 'body', body: crl});
      dp.serve('denied.crl', {kind: 'body', body: crl});
      dp.serve('failing.crl', {kind: 'status', status: 500});
    });

    it('failing DP, then revoked via the fetched CRL (401 AUTH_CERT_REVOKED), good clients (200, no second download), then the gate cuts the revoked client', async () => {
      const svc = await givenAuthService(crlEnv());

      // 1. The DP answers 500: status unknown, fail closed, the reason in the audit line.
      assert.equal(codeOf(await tlsRequest({port: svc.port, ...asClient(leaves.failing)}, whoami)), '401 AUTH_REVOCATION_UNKNOWN');
      assert.equal(dp.hits('failing.crl'), 1);
      assert.match(String((await decisionFor(svc, leaves.failing.fingerprint256)).reason), /SSRF_UPSTREAM_ERROR http-status:500/);

      // 2. A revoked client whose DP works: the CRL is fetched, verified, installed; refused.
      const r = await tlsRequest({port: svc.port, ...asClient(leaves.revoked)}, whoami);
      assert.equal(codeOf(r), '401 AUTH_CERT_REVOKED');
      assert.deepEqual(Object.keys((r as HttpResult).json as object), ['error']);
      assert.equal(dp.hits('int.crl'), 1);
      const fetched = await svc.waitForLog(l => l.audit === true && l.event === 'crl.fetch' && l.decision === 'allow');
      assert.equal(fetched.url, dp.url('int.crl'));

      // 3. Six good clients of the same CA on new connections: accepted from the installed CRL.
      const results = await Promise.all([0, 1, 2, 3, 4, 5].map(i => tlsRequest({port: svc.port, ...asClient(leaves[`good${i}`])}, whoami)));
      assert.deepEqual(results.map(codeOf), ['200', '200', '200', '200', '200', '200']);
      assert.equal(dp.hits('int.crl'), 1, 'one download for every connection');
      assert.equal((await decisionFor(svc, leaves.good0.fingerprint256)).source, 'crl');

      // 4. The fetched CRL feeds the connection gate too: the revoked client is now cut at connect.
      assert.equal(codeOf(await tlsRequest({port: svc.port, ...asClient(leaves.revoked)}, whoami)), '401 AUTH_CERT_REVOKED');
      const cut: LogLine = await svc.waitForLog(l => l.audit === true && l.event === 'tls.connection' && l.code === 'AUTH_CERT_REVOKED');
      assert.equal(cut.decision, 'deny');
    });

    it('six concurrent first connections: one download', async () => {
      const svc = await givenAuthService(crlEnv());
      const results = await Promise.all([0, 1, 2, 3, 4, 5].map(i => tlsRequest({port: svc.port, ...asClient(leaves[`burst${i}`])}, whoami)));
      assert.deepEqual(results.map(codeOf), ['200', '200', '200', '200', '200', '200']);
      assert.equal(dp.hits('burst.crl'), 1);
    });

    it('a DP at a denied address (no OUTBOUND_ALLOWED_CIDRS exception) is never contacted: 401 AUTH_REVOCATION_UNKNOWN, audited SSRF_ADDRESS_DENIED', async () => {
      const svc = await givenAuthService(crlEnv({OUTBOUND_ALLOWED_CIDRS: undefined}));
      assert.equal(codeOf(await tlsRequest({port: svc.port, ...asClient(leaves.denied)}, whoami)), '401 AUTH_REVOCATION_UNKNOWN');
      assert.equal(dp.hits('denied.crl'), 0);
      assert.match(String((await decisionFor(svc, leaves.denied.fingerprint256)).reason), /SSRF_ADDRESS_DENIED/);
    });
  });
});

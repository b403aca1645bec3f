/**
 * The application-layer authenticator with real peers: the built service (child process), real
 * TLS 1.3 handshakes from Node's TLS client, the test PKI from the project's generator, and a
 * REAL `openssl ocsp` responder on loopback. Covers what the handshake lets through and the
 * authenticator must refuse, OCSP good/revoked, fail-closed/fail-open, and the verdict caches.
 */
import assert from 'node:assert/strict';
import {copyFileSync, appendFileSync} from 'node:fs';
import path from 'node:path';
import {givenClosedPort, givenOcspResponder, LoopbackResponder} from '../../fixtures/ocsp-responder';
import {givenClient, givenMtlsEnv} from '../../fixtures/mtls-env';
import {DevClientName, DevPkiManifest, givenTempDir, givenTestIntermediateCa, givenTestPki, issueCertificate, IssuedCert} from '../../fixtures/pki';
import {givenService, LogLine, ServiceHandle} from '../../fixtures/service';
import {HttpResult, NoResponse, tlsRequest, TlsHttpConnection} from '../../fixtures/tls-client';

const whoami = {target: '/whoami'};
/** OCSP leaves through the SSRF-safe revocation transport: the loopback responder needs the operator's exception. */
const LOOPBACK_RESPONDER = '127.0.0.1/32';

function indexTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
}

/** An `openssl ca` index line for a certificate made by the project's factory. */
function indexLine(c: IssuedCert, revokedAt?: Date): string {
  const serial = c.serialHex.length % 2 === 1 ? `0${c.serialHex}` : c.serialHex;
  return (
    [revokedAt ? 'R' : 'V', indexTime(c.notAfter), revokedAt ? `${indexTime(revokedAt)},keyCompromise` : '', serial, 'unknown', `/CN=${c.name}`].join(
      '\t',
    ) + '\n'
  );
}

function codeOf(r: HttpResult | NoResponse): string {
  if (r.outcome !== 'response') return 'no-response';
  if (r.status === 200) return '200';
  return `${r.status} ${(r.json as {error?: {code?: string}})?.error?.code}`;
}

const asClient = (c: IssuedCert) => ({cert: c.certPem, key: c.keyPem});

describe('auth: MtlsAuthenticator with real peers (acceptance)', function () {
  this.timeout(90_000);
  let pki: DevPkiManifest;
  let responder: LoopbackResponder;
  const fresh: Record<string, IssuedCert> = {};
  let ca: Buffer;
  const services: ServiceHandle[] = [];

  const clientOf = (name: DevClientName) => givenClient(pki, name);
  const auditLines = (svc: ServiceHandle, fingerprint: string): LogLine[] =>
    svc.logs.filter(l => l.audit === true && l.event === 'auth.decision' && l.fingerprint === fingerprint);

  before(async () => {
    pki = await givenTestPki();
    ca = clientOf('valid').ca;
    const intermediate = await givenTestIntermediateCa();
    const issue = async (name: string) =>
      (fresh[name] = await issueCertificate(intermediate, {name, cn: name, sans: {uri: [`spiffe://hardened-mtls.test/client/${name}`]}}));
    for (const name of ['ocsp-revoked', 'keepalive', 'concurrent', 'not-in-index']) await issue(name);
    // The responder's own copy of the intermediate's index, plus the certificates made here.
    const dir = givenTempDir('hmtls-ocsp-');
    const index = path.join(dir, 'index.txt');
    copyFileSync(pki.opensslIndex, index);
    appendFileSync(index, indexLine(fresh['ocsp-revoked'], new Date(Date.now() - 60_000)) + indexLine(fresh.keepalive) + indexLine(fresh.concurrent));
    responder = await givenOcspResponder({
      indexFile: index,
      caCert: pki.intermediateCa.cert,
      rsignerCert: pki.ocspResponder.cert,
      rsignerKey: pki.ocspResponder.key,
      nmin: 60,
    });
  });

  after(async () => {
    for (const s of services) await s.stop();
    await responder?.stop();
  });

  async function givenAuthService(extra: Record<string, string>): Promise<ServiceHandle> {
    const svc = await givenService(givenMtlsEnv(pki, extra));
    services.push(svc);
    return svc;
  }

  describe('CRL + OCSP, fail closed (MTLS_REVOCATION=crl,ocsp)', () => {
    let svc: ServiceHandle;
    before(async () => {
      svc = await givenAuthService({MTLS_REVOCATION: 'crl,ocsp', MTLS_OCSP_URL: responder.url, OUTBOUND_ALLOWED_CIDRS: LOOPBACK_RESPONDER});
    });

    it('a good client: 200, audited allow with source crl,ocsp', async () => {
      const r = await tlsRequest({port: svc.port, ...clientOf('valid')}, whoami);
      assert.equal(codeOf(r), '200');
      const line = await svc.waitForLog(l => l.audit === true && l.event === 'auth.decision' && l.fingerprint === pki.clients.valid.fingerprint256);
      assert.equal(line.decision, 'allow');
      assert.equal(line.source, 'crl,ocsp');
      assert.equal(line.serial, pki.clients.valid.serialHex);
    });

    it('revoked by OCSP only (CRL still good, so the connection gate lets it in): 401 AUTH_CERT_REVOKED', async () => {
      const r = await tlsRequest({port: svc.port, ca, ...asClient(fresh['ocsp-revoked'])}, whoami);
      assert.equal(codeOf(r), '401 AUTH_CERT_REVOKED');
      assert.deepEqual(Object.keys((r as HttpResult).json as object), ['error']);
      assert.ok(!(r as HttpResult).body.includes('ocsp-revoked'), 'no certificate detail in the answer');
    });

    it('unknown to the responder but good on the CRL: 200 with source crl (one definitive good answer suffices)', async () => {
      const r = await tlsRequest({port: svc.port, ca, ...asClient(fresh['not-in-index'])}, whoami);
      assert.equal(codeOf(r), '200');
      const line = await svc.waitForLog(
        l => l.audit === true && l.event === 'auth.decision' && l.fingerprint === fresh['not-in-index'].fingerprint256,
      );
      assert.equal(line.source, 'crl');
    });

    // Certificates the TLS handshake accepts (or not) and the authenticator judges.
    const cases: Array<[DevClientName, string]> = [
      ['no-eku', '403 AUTH_EKU_NOT_CLIENT_AUTH'], // Node/OpenSSL accept a client certificate without EKU
      ['ca-true', '403 AUTH_CERT_IS_CA'],
      ['rsa-1024', '403 AUTH_KEY_WEAK'], // the connection gate answers it (OpenSSL's EE_KEY_TOO_SMALL verdict); the authenticator re-checks
      ['wrong-san', '403 AUTH_IDENTITY_NOT_ALLOWED'],
      ['rsa-2048', '200'],
      ['server-eku-only', '403 AUTH_EKU_NOT_CLIENT_AUTH'], // OpenSSL's ssl_client purpose verdict, answered by the connection gate
    ];
    for (const [name, expected] of cases) {
      it(`${name}: ${expected}`, async () => {
        const weakKey = name === 'rsa-1024' ? {ciphers: 'DEFAULT@SECLEVEL=0'} : {};
        assert.equal(codeOf(await tlsRequest({port: svc.port, ...clientOf(name), ...weakKey}, whoami)), expected);
      });
    }

    it('N requests on one kept-alive connection: one OCSP query, one audit line per request', async () => {
      const before = responder.requests.length;
      const conn = await TlsHttpConnection.open({port: svc.port, ca, ...asClient(fresh.keepalive)});
      try {
        for (let i = 0; i < 5; i++) assert.equal(codeOf(await conn.request(whoami)), '200');
      } finally {
        conn.close();
      }
      assert.equal(responder.requests.length - before, 1);
      await svc.waitForLog(() => auditLines(svc, fresh.keepalive.fingerprint256).length >= 5);
      assert.deepEqual(
        auditLines(svc, fresh.keepalive.fingerprint256).map(l => l.cached),
        [false, 'connection', 'connection', 'connection', 'connection'],
      );
    });

    it('two concurrent new connections for the same certificate: one OCSP query', async () => {
      const before = responder.requests.length;
      const results = await Promise.all([0, 1].map(() => tlsRequest({port: svc.port, ca, ...asClient(fresh.concurrent)}, whoami)));
      assert.deepEqual(results.map(codeOf), ['200', '200']);
      assert.equal(responder.requests.length - before, 1);
    });
  });

  describe('OCSP only (MTLS_REVOCATION=ocsp)', () => {
    it('responder does not know the certificate (MTLS_REVOCATION=ocsp): 401 AUTH_REVOCATION_UNKNOWN', async () => {
      const svc = await givenAuthService({MTLS_REVOCATION: 'ocsp', MTLS_OCSP_URL: responder.url, OUTBOUND_ALLOWED_CIDRS: LOOPBACK_RESPONDER});
      assert.equal(codeOf(await tlsRequest({port: svc.port, ca, ...asClient(fresh['not-in-index'])}, whoami)), '401 AUTH_REVOCATION_UNKNOWN');
      assert.equal(codeOf(await tlsRequest({port: svc.port, ...clientOf('valid')}, whoami)), '200');
    });

    it('fail closed (default): 401 AUTH_REVOCATION_UNKNOWN', async () => {
      const svc = await givenAuthService({
        MTLS_REVOCATION: 'ocsp',
        MTLS_OCSP_URL: await givenClosedPort(),
        OUTBOUND_ALLOWED_CIDRS: LOOPBACK_RESPONDER,
      });
      assert.equal(codeOf(await tlsRequest({port: svc.port, ...clientOf('valid')}, whoami)), '401 AUTH_REVOCATION_UNKNOWN');
      const line = await svc.waitForLog(l => l.audit === true && l.event === 'auth.decision' && l.code === 'AUTH_REVOCATION_UNKNOWN');
      assert.equal(line.decision, 'deny');
    });

    it('MTLS_REVOCATION_FAIL=open: 200, audited as a warning with AUTH_REVOCATION_SOFT_FAIL', async () => {
      const svc = await givenAuthService({
        MTLS_REVOCATION: 'ocsp',
        MTLS_OCSP_URL: await givenClosedPort(),
        OUTBOUND_ALLOWED_CIDRS: LOOPBACK_RESPONDER,
        MTLS_REVOCATION_FAIL: 'open',
      });
      assert.equal(codeOf(await tlsRequest({port: svc.port, ...clientOf('valid')}, whoami)), '200');
      const line = await svc.waitForLog(l => l.audit === true && l.event === 'auth.decision' && l.code === 'AUTH_REVOCATION_SOFT_FAIL');
      assert.equal(line.decision, 'warn');
      assert.equal(line.level, 'warn');
    });
  });

  it('MTLS_MAX_CHAIN_DEPTH=0 refuses a client behind one intermediate: 401 AUTH_CHAIN_TOO_DEEP', async () => {
    const svc = await givenAuthService({MTLS_MAX_CHAIN_DEPTH: '0'});
    assert.equal(codeOf(await tlsRequest({port: svc.port, ...clientOf('valid')}, whoami)), '401 AUTH_CHAIN_TOO_DEEP');
  });
});

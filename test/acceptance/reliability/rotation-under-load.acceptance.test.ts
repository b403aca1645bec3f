/**
 * Certificate rotation under load: 50 client connections send requests in a loop (39 kept-alive
 * and 6 new-connection workers for the valid client, 4 kept-alive workers for the client that
 * is revoked by the CRL rotation, 1 worker for the already revoked client) while the server
 * certificate, the CA bundle and the CRL are rotated one after the other (file rewrite + SIGHUP).
 *
 * Zero requests of the clients that stay valid may fail; after the CRL rotation the newly revoked
 * client is refused everywhere (its kept-alive connections are swept, new ones are cut), and the
 * already revoked client is never served.
 */
import assert from 'node:assert/strict';
import tls from 'node:tls';
import {Load, LoadWorkerSpec, tally} from '../../fixtures/load';
import {givenClient, givenMtlsEnv} from '../../fixtures/mtls-env';
import {opensslGenCrl} from '../../fixtures/openssl-ca';
import {
  DevPkiManifest,
  givenTestIntermediateCa,
  givenTestPki,
  givenTestRootCa,
  issueCertificate,
  KeyUsage,
  OID,
  randomSerialHex,
  x509,
} from '../../fixtures/pki';
import {recordSection} from '../../fixtures/reliability-report';
import {givenService, ServiceHandle} from '../../fixtures/service';
import {fatalLines, givenWritablePki, isServed, logMark, logsAfter, stderrLines, waitForLogAfter, WritablePki, writeAtomically} from './helpers';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** The intermediate CA re-issued by the root: same name and key, new serial and validity. */
async function renewedIntermediatePem(): Promise<string> {
  const root = await givenTestRootCa();
  const inter = await givenTestIntermediateCa();
  const rootSki = root.cert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: inter.cert.subjectName,
    issuer: root.cert.subjectName,
    notBefore: new Date(Date.now() - HOUR),
    notAfter: new Date(Date.now() + 3 * 365 * DAY),
    publicKey: inter.keys.publicKey,
    signingKey: root.keys.privateKey,
    signingAlgorithm: {name: 'ECDSA', hash: 'SHA-256'},
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(KeyUsage.keyCertSign | KeyUsage.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(inter.keys.publicKey, false),
      new x509.AuthorityKeyIdentifierExtension(rootSki, false),
    ],
  });
  return cert.toString('pem') + '\n';
}

/** The certificate a fresh TLS connection to the service is shown. */
function servedCertificateFingerprint(port: number, pki: DevPkiManifest): Promise<string> {
  const c = givenClient(pki, 'valid');
  return new Promise((resolve, reject) => {
    const s = tls.connect({host: '127.0.0.1', port, servername: 'localhost', ca: c.ca, cert: c.cert, key: c.key}, () => {
      const fp = s.getPeerX509Certificate()?.fingerprint256 ?? '';
      s.destroy();
      resolve(fp);
    });
    s.once('error', reject);
  });
}

describe('reliability: certificate rotation under load, 50 connections (acceptance)', function () {
  this.timeout(300_000);
  let pki: DevPkiManifest;
  let files: WritablePki;
  let svc: ServiceHandle;
  let load: Load;
  const steps: {step: string; reload: string; requestsBefore: number; closedConnections: number; reloadMs: number}[] = [];
  let crlRotationStart = Infinity;
  let revokedAt = Infinity;
  let sweptValid2 = 0;

  before(async () => {
    pki = await givenTestPki();
    files = givenWritablePki(pki);
    svc = await givenService(givenMtlsEnv(pki, {...files.env, TLS_WATCH: 'false'}));
    const as = (name: 'valid' | 'valid2' | 'revoked') => ({port: svc.port, ...givenClient(pki, name)});
    const mixed = (n: number) =>
      n % 3 === 0
        ? {
            method: 'POST',
            target: '/echo',
            headers: [['Content-Type', 'application/json']] as [string, string][],
            body: JSON.stringify({n, pad: 'x'.repeat(n % 512)}),
          }
        : {target: n % 3 === 1 ? '/whoami' : '/ping'};
    // Each connection pauses a little between requests: 50 connections still keep the service
    // busy on 2 cores, without turning every event-loop turn (and so the reload) into seconds.
    const workers: LoadWorkerSpec[] = [
      ...Array.from({length: 39}, (): LoadWorkerSpec => ({group: 'valid', tls: as('valid'), mode: 'keep-alive', request: mixed, pauseMs: 100})),
      ...Array.from({length: 6}, (): LoadWorkerSpec => ({group: 'valid', tls: as('valid'), mode: 'new-connection', request: mixed, pauseMs: 100})),
      ...Array.from({length: 4}, (): LoadWorkerSpec => ({group: 'valid2', tls: as('valid2'), mode: 'keep-alive', request: mixed, pauseMs: 100})),
      {group: 'revoked', tls: as('revoked'), mode: 'new-connection', request: () => ({target: '/whoami'}), pauseMs: 50},
    ];
    assert.equal(workers.length, 50);
    load = Load.start(workers);
    await load.progress(['valid', 'valid2', 'revoked'], 5, 120_000);
  });

  after(async () => {
    await load?.stop();
    await svc?.stop();
    if (!load) return;
    const valid = load.of('valid');
    const valid2Before = load.of('valid2').filter(r => r.endedAt < crlRotationStart);
    recordSection({
      id: 'rotation',
      title: 'Certificate rotation under load',
      claim:
        '50 client connections send requests while the server certificate, the CA bundle (the intermediate CA re-issued) and the CRL are rotated one after the other (file rewrite + SIGHUP). Clients that stay valid see no failure; the client the new CRL revokes is cut at once.',
      source: 'test/acceptance/reliability/rotation-under-load.acceptance.test.ts',
      figures: {
        cases: steps.length,
        requests: load.total.requests,
        failures:
          valid.filter(r => r.kind !== 'response' || r.status !== 200).length +
          valid2Before.filter(r => r.kind !== 'response' || r.status !== 200).length +
          load.of('revoked').filter(isServed).length +
          load.of('valid2', revokedAt).filter(isServed).length,
        'client connections': 50,
        'TLS connections opened': load.total.connections,
        'valid-client requests (all 200)': valid.length,
        'newly revoked client: kept-alive connections swept by the CRL reload': sweptValid2,
        'newly revoked client: requests after the reload served': load.of('valid2', revokedAt).filter(isServed).length,
      },
      tables: [
        {
          columns: [
            'rotation',
            'reload',
            'requests completed before it',
            'connections closed by the reload',
            'SIGHUP to reload logged (ms, informative)',
          ],
          rows: steps.map(s => [s.step, s.reload, s.requestsBefore, s.closedConnections, s.reloadMs]),
        },
      ],
    });
  });

  async function rotate(step: string, write: () => Promise<void> | void): Promise<number> {
    const mark = logMark(svc);
    const requestsBefore = load.total.requests;
    await write();
    svc.signal('SIGHUP');
    const t0 = Date.now();
    const line = await waitForLogAfter(
      svc,
      mark,
      l => l.event === 'tls.reload' || l.code === 'CRL_RELOAD_FAILED' || l.code === 'TLS_RELOAD_FAILED',
      120_000,
    );
    const reloadMs = Date.now() - t0;
    assert.equal(line.event, 'tls.reload', `the rotation was refused: ${JSON.stringify(line)}`);
    steps.push({step, reload: 'SIGHUP, accepted', requestsBefore, closedConnections: Number(line.closedConnections), reloadMs});
    await load.progress(['valid'], 20, 120_000);
    return Number(line.closedConnections);
  }

  it('rotates the server certificate: new handshakes get the new certificate, no request fails', async () => {
    const inter = await givenTestIntermediateCa();
    const server = await issueCertificate(inter, {
      name: 'server-rotated',
      cn: 'localhost',
      sans: {dns: ['localhost'], ip: ['127.0.0.1', '::1']},
      eku: [OID.serverAuth],
    });
    assert.notEqual(await servedCertificateFingerprint(svc.port, pki), server.fingerprint256);
    const closed = await rotate('server certificate and key', () => {
      writeAtomically(files.key, server.keyPem);
      writeAtomically(files.cert, server.certPem + inter.certPem);
    });
    assert.equal(closed, 0);
    assert.equal(await servedCertificateFingerprint(svc.port, pki), server.fingerprint256);
  });

  it('rotates the CA bundle (intermediate re-issued): no connection closed, no request fails', async () => {
    const root = await givenTestRootCa();
    const closed = await rotate('CA bundle (intermediate CA re-issued, same key)', async () => {
      writeAtomically(files.ca, root.certPem + (await renewedIntermediatePem()));
    });
    assert.equal(closed, 0);
    // The revocation index was rebuilt against the new bundle: the revoked client stays refused.
    await load.progress(['revoked'], 3, 120_000);
  });

  it('rotates the CRL: the newly revoked client is cut everywhere, the valid one is not touched', async () => {
    const mark = logMark(svc);
    crlRotationStart = load.now();
    const closed = await rotate('CRL (now also revokes valid2)', () => {
      writeAtomically(
        files.intermediateCrl,
        opensslGenCrl({
          caCertFile: pki.intermediateCa.cert,
          caKeyFile: pki.intermediateCa.key,
          revokedCertFiles: [pki.clients.revoked.cert, pki.clients.valid2.cert],
        }),
      );
    });
    revokedAt = load.now();
    sweptValid2 = logsAfter(
      svc,
      mark,
      l => l.event === 'tls.connection' && l.reason === 'reload' && l.serial === pki.clients.valid2.serialHex,
    ).length;
    assert.equal(closed, sweptValid2, 'only the newly revoked client lost connections');
    assert.ok(sweptValid2 >= 1, 'the kept-alive connections of the newly revoked client were swept');
    await load.progress(['valid', 'valid2'], 8, 120_000);
    // A fresh connection of the newly revoked client is never served (the gate's coded 401 at most).
    assert.deepEqual(
      load
        .of('valid2', revokedAt)
        .filter(isServed)
        .map(r => r.status),
      [],
    );
  });

  it('over the whole run: zero failed requests from clients that stayed valid, no 5xx, nothing cut', async () => {
    await load.stop();
    const valid = load.of('valid');
    assert.ok(valid.length > 0);
    assert.deepEqual(tally(valid), {200: valid.length});
    // Every request of valid2 that completed before its CRL was rotated in succeeded (those in
    // flight during the reload may be refused: it is being revoked).
    const valid2Before = load.of('valid2').filter(r => r.endedAt < crlRotationStart);
    assert.ok(valid2Before.length > 0);
    assert.deepEqual(tally(valid2Before), {200: valid2Before.length});
    assert.equal(load.of('revoked').filter(isServed).length, 0);
    assert.equal(load.total.serverErrors, 0);
    assert.equal((load.total.byKind['cut-mid-body'] ?? 0) + (load.total.byKind['cut-mid-headers'] ?? 0), 0);
    assert.equal(load.unsolicitedBytes.total, 0);
    assert.equal(svc.child.exitCode, null);
    assert.deepEqual(fatalLines(svc), []);
    assert.deepEqual(stderrLines(svc), []);
  });
});

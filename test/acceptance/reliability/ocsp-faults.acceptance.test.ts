/**
 * OCSP responder faults against the running service (MTLS_REVOCATION=ocsp), once with the default
 * fail-closed policy and once with MTLS_REVOCATION_FAIL=open, while a client whose good answer is
 * cached keeps sending requests.
 *
 * The service's MTLS_OCSP_URL points at a switchable loopback proxy in front of a REAL
 * `openssl ocsp` responder. Per fault, the proxy is switched and a client with a certificate the
 * service has never seen (so no cached answer) connects: responder down, connection reset,
 * hanging past MTLS_OCSP_TIMEOUT_MS, HTTP 500, a redirect, garbage, a truncated real response, a
 * 10 MB body, a real response for another certificate (same nonce), a real response with the
 * wrong content type, responseStatus tryLater, a response signed by an unauthorised key.
 *
 * Fail closed: 401 AUTH_REVOCATION_UNKNOWN and one deny line. Fail open: 200 and one warn line
 * with AUTH_REVOCATION_SOFT_FAIL. Both: the process stays up, no 5xx, the cached client keeps
 * getting 200, a certificate the responder says is revoked is refused (AUTH_CERT_REVOKED) even
 * when failing open.
 */
import assert from 'node:assert/strict';
import {X509Certificate} from 'node:crypto';
import {appendFileSync, copyFileSync, readFileSync} from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import {parseCertificate} from '../../../src/x509/certificate';
import {buildOcspRequest, OCSP_NONCE_OID} from '../../../src/auth/ocsp-request';
import {Load, tally} from '../../fixtures/load';
import {givenClient, givenMtlsEnv} from '../../fixtures/mtls-env';
import {givenOcspResponder, LoopbackResponder} from '../../fixtures/ocsp-responder';
import {DevPkiManifest, givenTempDir, givenTestIntermediateCa, givenTestPki, issueCertificate, IssuedCert} from '../../fixtures/pki';
import {Cell, recordSection} from '../../fixtures/reliability-report';
import {givenService, LogLine, ServiceHandle} from '../../fixtures/service';
import {HttpResult, tlsRequest} from '../../fixtures/tls-client';
import {fatalLines, logMark, seededBytes, stderrLines, waitForLogAfter} from './helpers';

const OCSP_TIMEOUT_MS = 800;

type Mode =
  | 'good'
  | 'down'
  | 'reset'
  | 'hang'
  | 'http500'
  | 'redirect'
  | 'garbage'
  | 'truncated'
  | 'huge'
  | 'other-certificate'
  | 'wrong-content-type'
  | 'try-later'
  | 'unauthorised-signer';

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

function post(url: string, body: Buffer): Promise<{status: number; body: Buffer}> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {method: 'POST', headers: {'content-type': 'application/ocsp-request', 'content-length': body.length}}, res => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({status: res.statusCode ?? 0, body: Buffer.concat(parts)}));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The raw nonce of an OCSP request (the OCTET STRING inside the extension), if any. */
function nonceOf(requestDer: Buffer): Buffer | undefined {
  const req = pkijs.OCSPRequest.fromBER(requestDer);
  const ext = req.tbsRequest.requestExtensions?.find(e => e.extnID === OCSP_NONCE_OID);
  if (!ext) return undefined;
  const inner = asn1js.fromBER(ext.extnValue.valueBlock.valueHexView);
  return Buffer.from((inner.result as asn1js.OctetString).valueBlock.valueHexView);
}

/**
 * A loopback HTTP front for the real responder whose behaviour the test switches. 'down' closes
 * the listener (connection refused) and 'good' reopens it on the same port.
 */
class SwitchableResponder {
  mode: Mode = 'good';
  requests = 0;
  private server: http.Server;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(
    private readonly real: LoopbackResponder,
    private readonly unauthorised: LoopbackResponder,
    private readonly otherCertificate: (nonce: Buffer | undefined) => Promise<Buffer>,
  ) {
    this.server = this.create();
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  private create(): http.Server {
    const server = http.createServer((req, res) => void this.handle(req, res).catch(() => res.destroy()));
    server.on('connection', s => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
      if (this.mode === 'reset') s.resetAndDestroy();
    });
    return server;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async switchTo(mode: Mode): Promise<void> {
    if (mode === 'down' && this.mode !== 'down') await this.close();
    if (mode !== 'down' && this.mode === 'down') {
      this.server = this.create();
      await this.listen();
    }
    this.mode = mode;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>(r => this.server.close(() => r()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    const body = Buffer.concat(parts);
    this.requests++;
    const ocsp = (bytes: Buffer, contentType = 'application/ocsp-response') => {
      res.writeHead(200, {'content-type': contentType, 'content-length': bytes.length});
      res.end(bytes);
    };
    switch (this.mode) {
      case 'good':
        return ocsp((await post(this.real.url, body)).body);
      case 'hang':
        return; // never answers; the service's timeout must end the lookup
      case 'http500':
        res.writeHead(500, {'content-length': 0}).end();
        return;
      case 'redirect':
        res.writeHead(302, {location: this.real.url, 'content-length': 0}).end();
        return;
      case 'garbage':
        return ocsp(seededBytes(1500, 0x0c5f));
      case 'truncated': {
        const real = (await post(this.real.url, body)).body;
        return ocsp(real.subarray(0, real.length >> 1));
      }
      case 'huge': {
        res.writeHead(200, {'content-type': 'application/ocsp-response'});
        const chunk = Buffer.alloc(64 * 1024, 0x30);
        let left = 10 * 1024 * 1024;
        res.on('error', () => undefined);
        const pump = () => {
          while (left > 0) {
            left -= chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        return pump();
      }
      case 'other-certificate':
        return ocsp(await this.otherCertificate(nonceOf(body)));
      case 'wrong-content-type':
        return ocsp((await post(this.real.url, body)).body, 'text/html');
      case 'try-later':
        return ocsp(Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x03]));
      case 'unauthorised-signer':
        return ocsp((await post(this.unauthorised.url, body)).body);
      default:
        res.destroy();
    }
  }
}

interface Fault {
  name: string;
  mode: Mode;
  /** The OCSP client's reason for 'unknown', as logged in the deny line (fail closed). */
  reason: string;
}

const FAULTS: Fault[] = [
  {name: 'responder down (connection refused)', mode: 'down', reason: 'transport_error'},
  {name: 'connection reset on accept', mode: 'reset', reason: 'transport_error'},
  {name: `hangs past MTLS_OCSP_TIMEOUT_MS (${OCSP_TIMEOUT_MS} ms)`, mode: 'hang', reason: 'timeout'},
  {name: 'HTTP 500', mode: 'http500', reason: 'http_status'},
  {name: 'HTTP 302 to the real responder (not followed)', mode: 'redirect', reason: 'url_not_allowed'},
  {name: 'HTTP 200, 1.5 KB of garbage', mode: 'garbage', reason: 'malformed_response'},
  {name: 'HTTP 200, a real response truncated to half', mode: 'truncated', reason: 'malformed_response'},
  {name: 'HTTP 200, a 10 MB body', mode: 'huge', reason: 'response_too_large'},
  {name: 'HTTP 200, a real response for another certificate (same nonce)', mode: 'other-certificate', reason: 'certid_mismatch'},
  {name: 'HTTP 200, a real response sent as text/html', mode: 'wrong-content-type', reason: 'content_type'},
  {name: 'responseStatus tryLater', mode: 'try-later', reason: 'response_status'},
  {name: 'a real response signed by an unauthorised key', mode: 'unauthorised-signer', reason: 'responder_not_authorized'},
];

function codeOf(r: Awaited<ReturnType<typeof tlsRequest>>): string {
  if (r.outcome !== 'response') return 'no-response';
  if (r.status === 200) return '200';
  return `${r.status} ${((r as HttpResult).json as {error?: {code?: string}})?.error?.code}`;
}

/** The OCSP failure reason of a deny line ("ocsp: unknown (timeout: ...)"). */
function ocspReason(l: LogLine | undefined): string {
  const m = /ocsp: unknown \(([a-z_]+)/.exec(String(l?.reason ?? ''));
  return m ? m[1] : '';
}

describe('reliability: OCSP responder faults, fail closed and fail open (acceptance)', function () {
  this.timeout(240_000);
  let pki: DevPkiManifest;
  let real: LoopbackResponder;
  let unauthorised: LoopbackResponder;
  let proxy: SwitchableResponder;
  const certs = new Map<string, IssuedCert>();
  const services: Record<'closed' | 'open', ServiceHandle | undefined> = {closed: undefined, open: undefined};
  const loads: Record<'closed' | 'open', Load | undefined> = {closed: undefined, open: undefined};
  const rows = new Map<string, Cell[]>();
  let faultsTried = 0;
  let probes = 0;

  before(async () => {
    pki = await givenTestPki();
    const inter = await givenTestIntermediateCa();
    const issue = async (name: string) => {
      const c = await issueCertificate(inter, {name, cn: name, sans: {uri: [`spiffe://hardened-mtls.test/client/${name}`]}});
      certs.set(name, c);
      return c;
    };
    const dir = givenTempDir('hmtls-ocsp-faults-');
    const index = path.join(dir, 'index.txt');
    copyFileSync(pki.opensslIndex, index);
    for (const name of ['good-baseline', 'cached', ...FAULTS.map(f => `fault-${f.mode}`)]) appendFileSync(index, indexLine(await issue(name)));
    appendFileSync(index, indexLine(await issue('ocsp-revoked'), new Date(Date.now() - 60_000)));
    real = await givenOcspResponder({
      indexFile: index,
      caCert: pki.intermediateCa.cert,
      rsignerCert: pki.ocspResponder.cert,
      rsignerKey: pki.ocspResponder.key,
      nmin: 60,
    });
    // The server certificate's key is no OCSP signer of the intermediate's.
    unauthorised = await givenOcspResponder({
      indexFile: index,
      caCert: pki.intermediateCa.cert,
      rsignerCert: pki.server.cert,
      rsignerKey: pki.server.key,
      nmin: 60,
    });
    const issuer = parseCertificate(new X509Certificate(readFileSync(pki.intermediateCa.cert)).raw);
    const other = parseCertificate(certs.get('good-baseline')!.certDer);
    proxy = new SwitchableResponder(real, unauthorised, async nonce => {
      const built = buildOcspRequest(other, issuer, {nonce: nonce ?? false});
      return (await post(real.url, built.der)).body;
    });
    await proxy.listen();
  });

  after(async () => {
    for (const mode of ['closed', 'open'] as const) {
      await loads[mode]?.stop();
      await services[mode]?.stop();
    }
    await proxy?.close();
    await real?.stop();
    await unauthorised?.stop();
    if (faultsTried === 0) return;
    const cached = (['closed', 'open'] as const).flatMap(m => loads[m]?.of('cached') ?? []);
    recordSection({
      id: 'ocsp-faults',
      title: 'OCSP responder faults',
      claim: `MTLS_REVOCATION=ocsp, MTLS_OCSP_TIMEOUT_MS=${OCSP_TIMEOUT_MS}; the service's responder URL is a switchable loopback proxy in front of a real \`openssl ocsp\` responder. For each fault a certificate the service has never seen connects (no cached answer), once against a fail-closed service and once against MTLS_REVOCATION_FAIL=open, while a client with a cached good answer keeps sending requests.`,
      source: 'test/acceptance/reliability/ocsp-faults.acceptance.test.ts',
      figures: {
        cases: faultsTried,
        requests: probes + cached.length,
        failures:
          cached.filter(r => r.kind !== 'response' || r.status !== 200).length + [...rows.values()].filter(r => r[r.length - 1] !== 'yes').length,
        'requests of the client with a cached good answer (all 200)': cached.length,
        'OCSP requests the proxy received': proxy?.requests ?? 0,
      },
      tables: [
        {
          columns: ['fault', 'fail closed: answer', 'audit (closed)', 'OCSP reason logged', 'fail open: answer', 'audit (open)', 'as expected'],
          rows: [...rows.values()],
        },
      ],
    });
  });

  for (const mode of ['closed', 'open'] as const) {
    describe(`MTLS_REVOCATION_FAIL=${mode}`, () => {
      let svc: ServiceHandle;
      let load: Load;

      before(async () => {
        await proxy.switchTo('good');
        svc = await givenService(
          givenMtlsEnv(pki, {
            MTLS_REVOCATION: 'ocsp',
            MTLS_OCSP_URL: proxy.url,
            OUTBOUND_ALLOWED_CIDRS: '127.0.0.1/32',
            MTLS_OCSP_TIMEOUT_MS: String(OCSP_TIMEOUT_MS),
            MTLS_REVOCATION_FAIL: mode,
          }),
        );
        services[mode] = svc;
        const cached = certs.get('cached')!;
        const ca = givenClient(pki, 'valid').ca;
        // Its good answer is fetched once, then served from the cache through every fault.
        assert.equal(codeOf(await tlsRequest({port: svc.port, ca, cert: cached.certPem, key: cached.keyPem}, {target: '/whoami'})), '200');
        load = Load.start([
          {
            group: 'cached',
            tls: {port: svc.port, ca, cert: cached.certPem, key: cached.keyPem},
            mode: 'keep-alive',
            request: () => ({target: '/whoami'}),
            pauseMs: 20,
          },
          {
            group: 'cached',
            tls: {port: svc.port, ca, cert: cached.certPem, key: cached.keyPem},
            mode: 'new-connection',
            request: () => ({target: '/ping'}),
            pauseMs: 20,
          },
        ]);
        loads[mode] = load;
        await load.progress(['cached'], 3);
      });

      it('baseline: a good certificate is accepted, an OCSP-revoked one is refused (AUTH_CERT_REVOKED) even when failing open', async () => {
        const ca = givenClient(pki, 'valid').ca;
        const good = certs.get('good-baseline')!;
        const revoked = certs.get('ocsp-revoked')!;
        assert.equal(codeOf(await tlsRequest({port: svc.port, ca, cert: good.certPem, key: good.keyPem}, {target: '/whoami'})), '200');
        assert.equal(
          codeOf(await tlsRequest({port: svc.port, ca, cert: revoked.certPem, key: revoked.keyPem}, {target: '/whoami'})),
          '401 AUTH_CERT_REVOKED',
        );
        probes += 2;
      });

      for (const fault of FAULTS) {
        const expected = mode === 'closed' ? '401 AUTH_REVOCATION_UNKNOWN' : '200';
        it(`${fault.name}: ${expected}, one ${mode === 'closed' ? 'deny' : 'soft-fail warn'} line, process up`, async () => {
          if (mode === 'closed') faultsTried++;
          probes++;
          const cert = certs.get(`fault-${fault.mode}`)!;
          await proxy.switchTo(fault.mode);
          const mark = logMark(svc);
          const r = await tlsRequest(
            {port: svc.port, ca: givenClient(pki, 'valid').ca, cert: cert.certPem, key: cert.keyPem},
            {target: '/whoami'},
            30_000,
          );
          const line = await waitForLogAfter(
            svc,
            mark,
            l => l.audit === true && l.event === 'auth.decision' && l.fingerprint === cert.fingerprint256,
          );
          await proxy.switchTo('good');
          const lines = svc.logs.slice(mark).filter(l => l.audit === true && l.event === 'auth.decision' && l.fingerprint === cert.fingerprint256);
          const expectedLine =
            mode === 'closed' ? {decision: 'deny', code: 'AUTH_REVOCATION_UNKNOWN'} : {decision: 'warn', code: 'AUTH_REVOCATION_SOFT_FAIL'};
          const ok =
            codeOf(r) === expected &&
            line.decision === expectedLine.decision &&
            line.code === expectedLine.code &&
            lines.length === 1 &&
            (mode === 'open' || ocspReason(line) === fault.reason);
          const row = rows.get(fault.name) ?? [fault.name, '', '', '', '', '', ''];
          if (mode === 'closed') {
            row[1] = codeOf(r);
            row[2] = `${line.decision} ${line.code}`;
            row[3] = ocspReason(line);
            row[6] = ok ? 'yes' : 'NO';
          } else {
            row[4] = codeOf(r);
            row[5] = `${line.decision} ${line.code}`;
            row[6] = ok && row[6] === 'yes' ? 'yes' : 'NO';
          }
          rows.set(fault.name, row);
          assert.equal(codeOf(r), expected);
          assert.deepEqual({decision: line.decision, code: line.code}, expectedLine);
          assert.equal(lines.length, 1, 'exactly one decision line');
          // The lookup failed for this fault's reason, not by accident of another.
          if (mode === 'closed') assert.equal(ocspReason(line), fault.reason, String(line.reason));
          assert.equal(svc.child.exitCode, null, 'the process stays up');
          await load.progress(['cached'], 2);
        });
      }

      it('the client with a cached good answer was served throughout; no crash, no uncaught error', async () => {
        await load.stop();
        const all = load.of('cached');
        assert.ok(all.length > 0);
        assert.deepEqual(tally(all), {200: all.length});
        assert.deepEqual(fatalLines(svc), []);
        assert.deepEqual(stderrLines(svc), []);
      });
    });
  }
});

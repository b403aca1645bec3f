/**
 * The revocation transport (one dedicated SSRF-safe OutboundClient for OCSP and CRL downloads):
 * its policy derived from the configuration, OCSP through it against a REAL `openssl ocsp`
 * responder and misbehaving loopback servers (the responder is never contacted without the
 * operator's OUTBOUND_ALLOWED_CIDRS exception), and its wiring in the auth component (CrlFetcher
 * only with MTLS_CRL_FETCH=true; closed when the application stops).
 */
import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import {Application} from '@loopback/core';
import {parseCertificate, ParsedClientCertificate} from '../../../src/x509/certificate';
import {CrlFetcher} from '../../../src/auth/crl-fetcher';
import {MtlsAuthBindings} from '../../../src/auth/keys';
import {MtlsAuthenticationComponent} from '../../../src/auth/mtls-authentication.component';
import {OcspClient} from '../../../src/auth/ocsp-client';
import type {OcspResult} from '../../../src/auth/ocsp-verify';
import {CRL_FETCH_MAX_BYTES, createRevocationTransport, revocationOutboundPolicy, RevocationTransport} from '../../../src/auth/revocation-transport';
import {parseConfig} from '../../../src/config/config';
import {isAppError} from '../../../src/errors';
import {AppBindings, TlsBindings} from '../../../src/keys';
import {createLogger} from '../../../src/logging/logger';
import {ConnectionGate} from '../../../src/tls/connection-gate';
import {RevocationStore} from '../../../src/tls/revocation/revocation-store';
import {loadTlsMaterial} from '../../../src/tls/tls-material';
import {TlsState} from '../../../src/tls/tls-reloader';
import {givenMtlsEnv} from '../../fixtures/mtls-env';
import {givenMisbehavingResponder, givenOcspResponder, LoopbackResponder, Misbehaviour} from '../../fixtures/ocsp-responder';
import {DevPkiManifest, givenTestPki} from '../../fixtures/pki';
import {givenCrlDistributionPoint, CrlDistributionPoint} from '../../fixtures/crl-distribution-point';

interface LogLine {
  audit?: boolean;
  event?: string;
  decision?: string;
  code?: string;
  purpose?: string;
  [k: string]: unknown;
}

function summary(r: OcspResult): string {
  return r.status === 'unknown' ? `unknown/${r.reason}` : r.status;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return isAppError(e) ? e.code : `non-AppError ${(e as Error)?.name}`;
  }
}

describe('auth: revocation transport, SSRF-safe client, real openssl ocsp, LoopBack wiring (integration)', function () {
  this.timeout(60_000);
  let pki: DevPkiManifest;
  let responder: LoopbackResponder;
  let leaf: ParsedClientCertificate;
  let issuer: ParsedClientCertificate;
  const stops: Array<() => Promise<void>> = [];

  before(async () => {
    pki = await givenTestPki();
    leaf = parseCertificate(new Uint8Array(pemToDer(readFileSync(pki.clients.valid.cert, 'utf8'))));
    issuer = parseCertificate(new Uint8Array(pemToDer(readFileSync(pki.intermediateCa.cert, 'utf8'))));
    responder = await givenOcspResponder({
      indexFile: pki.opensslIndex,
      caCert: pki.intermediateCa.cert,
      rsignerCert: pki.ocspResponder.cert,
      rsignerKey: pki.ocspResponder.key,
      nmin: 60,
    });
    stops.push(() => responder.stop());
  });

  after(async () => {
    for (const s of stops.reverse()) await s();
  });

  function pemToDer(pem: string): Buffer {
    const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
    return Buffer.from(m![1].replace(/\s+/g, ''), 'base64');
  }

  function givenTransport(env: Record<string, string | undefined>): {transport: RevocationTransport; lines: LogLine[]} {
    const config = parseConfig(givenMtlsEnv(pki, env) as Record<string, string>);
    const lines: LogLine[] = [];
    const logger = createLogger({level: 'debug', destination: {write: (s: string) => void lines.push(JSON.parse(s) as LogLine)}});
    const transport = createRevocationTransport(config, logger);
    stops.push(() => transport.close());
    return {transport, lines};
  }

  const ocspVia = (transport: RevocationTransport, url: string, timeoutMs = 2000) => new OcspClient({url, timeoutMs, transport: transport.ocsp});

  async function givenBad(b: Misbehaviour): Promise<LoopbackResponder> {
    const r = await givenMisbehavingResponder(b);
    stops.push(() => r.stop());
    return r;
  }

  describe('policy (from the configuration only)', () => {
    const cases: Array<[string, Record<string, string>, {ports: number[]; cidrs: string[]; timeoutMs: number}]> = [
      ['defaults', {}, {ports: [80, 443], cidrs: [], timeoutMs: 2000}],
      ['MTLS_OCSP_URL port is added', {MTLS_OCSP_URL: 'http://ocsp.example.com:8888/'}, {ports: [80, 443, 8888], cidrs: [], timeoutMs: 2000}],
      ['MTLS_OCSP_URL default https port', {MTLS_OCSP_URL: 'https://ocsp.example.com/'}, {ports: [80, 443], cidrs: [], timeoutMs: 2000}],
      [
        'OUTBOUND_ALLOWED_PORTS and _CIDRS are the operator exceptions',
        {OUTBOUND_ALLOWED_PORTS: '8443,9000', OUTBOUND_ALLOWED_CIDRS: '10.1.0.0/16'},
        {ports: [80, 443, 8443, 9000], cidrs: ['10.1.0.0/16'], timeoutMs: 2000},
      ],
      ['MTLS_OCSP_TIMEOUT_MS is the time bound', {MTLS_OCSP_TIMEOUT_MS: '750'}, {ports: [80, 443], cidrs: [], timeoutMs: 750}],
    ];
    for (const [name, env, want] of cases) {
      it(name, () => {
        const p = revocationOutboundPolicy(parseConfig(givenMtlsEnv(pki, env) as Record<string, string>));
        assert.deepEqual([...p.allowedPorts], want.ports);
        assert.deepEqual([...p.allowedCidrs], want.cidrs);
        assert.equal(p.timeoutMs, want.timeoutMs);
        assert.equal(p.allowHttp, true);
        assert.equal(p.allowedHosts, null);
        assert.equal(p.maxResponseBytes, CRL_FETCH_MAX_BYTES);
      });
    }
  });

  describe('OCSP through the transport', () => {
    it('with OUTBOUND_ALLOWED_CIDRS=127.0.0.1/32: the loopback responder answers good', async () => {
      const {transport, lines} = givenTransport({MTLS_OCSP_URL: responder.url, OUTBOUND_ALLOWED_CIDRS: '127.0.0.1/32'});
      const before = responder.requests.length;
      assert.equal(summary(await ocspVia(transport, responder.url).check(leaf, issuer)), 'good');
      assert.equal(responder.requests.length - before, 1);
      assert.ok(lines.some(l => l.audit === true && l.event === 'outbound.decision' && l.decision === 'allow' && l.purpose === 'ocsp'));
    });

    it('without the exception: never contacted, unknown/url_not_allowed with SSRF_ADDRESS_DENIED, audited', async () => {
      const {transport, lines} = givenTransport({MTLS_OCSP_URL: responder.url});
      const before = responder.requests.length;
      const r = await ocspVia(transport, responder.url).check(leaf, issuer);
      assert.equal(summary(r), 'unknown/url_not_allowed');
      assert.match(String(r.detail), /^SSRF_ADDRESS_DENIED/);
      assert.equal(responder.requests.length - before, 0);
      const denied = lines.find(l => l.audit === true && l.event === 'outbound.decision' && l.decision === 'deny');
      assert.equal(denied?.code, 'SSRF_ADDRESS_DENIED');
      assert.equal(denied?.purpose, 'ocsp');
    });

    it('a redirect is not followed: unknown/url_not_allowed (SSRF_REDIRECT_DENIED), the target is never contacted', async () => {
      const dp: CrlDistributionPoint = await givenCrlDistributionPoint();
      stops.push(() => dp.stop());
      dp.serve('ocsp', {kind: 'redirect', location: responder.url});
      const {transport} = givenTransport({OUTBOUND_ALLOWED_CIDRS: '127.0.0.1/32', OUTBOUND_ALLOWED_PORTS: `${dp.port},${responder.port}`});
      const before = responder.requests.length;
      const r = await ocspVia(transport, dp.url('ocsp')).check(leaf, issuer);
      assert.equal(summary(r), 'unknown/url_not_allowed');
      assert.match(String(r.detail), /^SSRF_REDIRECT_DENIED/);
      assert.equal(dp.hits('ocsp'), 1);
      assert.equal(responder.requests.length - before, 0);
    });

    it('an oversized answer is an error, not a truncation: unknown/response_too_large', async () => {
      const bad = await givenBad({kind: 'large', bytes: 1024 * 1024});
      const {transport} = givenTransport({OUTBOUND_ALLOWED_CIDRS: '127.0.0.1/32', OUTBOUND_ALLOWED_PORTS: String(bad.port)});
      assert.equal(summary(await ocspVia(transport, bad.url).check(leaf, issuer)), 'unknown/response_too_large');
      assert.equal(bad.requests.length, 1);
    });

    it('a responder that never answers: unknown/timeout', async () => {
      const bad = await givenBad({kind: 'hang'});
      const {transport} = givenTransport({
        OUTBOUND_ALLOWED_CIDRS: '127.0.0.1/32',
        OUTBOUND_ALLOWED_PORTS: String(bad.port),
        MTLS_OCSP_TIMEOUT_MS: '300',
      });
      assert.equal(summary(await ocspVia(transport, bad.url, 300).check(leaf, issuer)), 'unknown/timeout');
    });

    it('after close(): every request fails closed (unknown/transport_error), nothing is sent', async () => {
      const {transport} = givenTransport({MTLS_OCSP_URL: responder.url, OUTBOUND_ALLOWED_CIDRS: '127.0.0.1/32'});
      await transport.close();
      const before = responder.requests.length;
      assert.equal(summary(await ocspVia(transport, responder.url).check(leaf, issuer)), 'unknown/transport_error');
      assert.equal(responder.requests.length - before, 0);
    });
  });

  describe('fetchCrl', () => {
    it('refuses a non-http distribution point without contacting it (SSRF_SCHEME_DENIED)', async () => {
      const dp = await givenCrlDistributionPoint();
      stops.push(() => dp.stop());
      const {transport} = givenTransport({OUTBOUND_ALLOWED_CIDRS: '127.0.0.1/32', OUTBOUND_ALLOWED_PORTS: String(dp.port)});
      assert.equal(await codeOf(transport.fetchCrl(dp.url('x.crl').replace('http:', 'https:'))), 'SSRF_SCHEME_DENIED');
      assert.equal(await codeOf(transport.fetchCrl('ldap://127.0.0.1/cn=x')), 'SSRF_SCHEME_DENIED');
      assert.equal(await codeOf(transport.fetchCrl(dp.url('missing.crl'))), 'SSRF_UPSTREAM_ERROR');
      assert.equal(dp.total, 1, 'only the http request reached the server');
    });
  });

  describe('LoopBack wiring (MtlsAuthenticationComponent)', () => {
    async function givenApp(env: Record<string, string | undefined>) {
      const config = parseConfig(givenMtlsEnv(pki, env) as Record<string, string>);
      const logger = createLogger({level: 'silent'});
      const material = await loadTlsMaterial(config.tls);
      const store = await RevocationStore.load(config.tls.crlFiles, material.caCerts);
      const transport = createRevocationTransport(config, logger);
      stops.push(() => transport.close());
      const app = new Application();
      app.bind(AppBindings.CONFIG).to(config);
      app.bind(AppBindings.LOGGER).to(logger);
      app.bind(TlsBindings.STATE).to(new TlsState(material));
      app.bind(TlsBindings.REVOCATION_STORE).to(store);
      app.bind(TlsBindings.GATE).to(new ConnectionGate(() => store.index, logger));
      app.bind(MtlsAuthBindings.REVOCATION_TRANSPORT).to(transport);
      app.bind(MtlsAuthBindings.OCSP_TRANSPORT).to(transport.ocsp);
      app.component(MtlsAuthenticationComponent);
      return {app, transport};
    }

    it('MTLS_CRL_FETCH=true: the authenticator gets a CrlFetcher', async () => {
      const {app} = await givenApp({MTLS_CRL_FETCH: 'true'});
      assert.ok((await app.get(MtlsAuthBindings.AUTHENTICATOR)).crlFetcher instanceof CrlFetcher);
    });

    it('MTLS_CRL_FETCH unset: no CrlFetcher', async () => {
      const {app} = await givenApp({});
      assert.equal((await app.get(MtlsAuthBindings.AUTHENTICATOR)).crlFetcher, undefined);
    });

    it('stopping the application closes the revocation transport', async () => {
      const {app, transport} = await givenApp({MTLS_CRL_FETCH: 'true'});
      await app.start();
      await app.stop();
      assert.equal(await codeOf(transport.fetchCrl('http://crl.example.com/ca.crl')), 'SSRF_UPSTREAM_ERROR');
    });
  });
});

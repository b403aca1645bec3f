/**
 * MTLS_CRL_FETCH=true end to end without a TLS socket: the MtlsAuthenticator with the service's
 * RevocationStore (no CRL files), a CrlFetcher on the REAL revocation transport (the SSRF-safe
 * OutboundClient), a loopback HTTP distribution point serving CRLs made by `openssl ca -gencrl`,
 * and client certificates from the project's factory carrying that DP in cRLDistributionPoints.
 * Asserts codes, the audit reason, and how many requests the DP received.
 */
import assert from 'node:assert/strict';
import {CrlFetcher} from '../../../src/auth/crl-fetcher';
import {AuthResult, MtlsAuthenticator, mtlsAuthenticatorOptions, revocationLookupFromStore} from '../../../src/auth/mtls-authenticator';
import {createRevocationTransport, RevocationTransport} from '../../../src/auth/revocation-transport';
import {parseConfig} from '../../../src/config/config';
import {createLogger} from '../../../src/logging/logger';
import {RevocationIndex} from '../../../src/tls/revocation/revocation-index';
import {RevocationStore} from '../../../src/tls/revocation/revocation-store';
import {loadTlsMaterial, TlsMaterial} from '../../../src/tls/tls-material';
import {givenMtlsEnv} from '../../fixtures/mtls-env';
import {givenClosedPort} from '../../fixtures/ocsp-responder';
import {CaHandle, DevPkiManifest, givenTestIntermediateCa, givenTestPki, issueCertificate, IssuedCert} from '../../fixtures/pki';
import {CrlDistributionPoint, givenCrlDistributionPoint, givenOpensslCrl} from '../../fixtures/crl-distribution-point';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

interface LogLine {
  audit?: boolean;
  event?: string;
  decision?: string;
  code?: string;
  reason?: string;
  fingerprint?: string;
  url?: string;
  [k: string]: unknown;
}

function verdict(r: AuthResult): string {
  return r.ok ? (r.revocationSoftFail ? 'ok/soft-fail' : `ok/${r.revocationSource}`) : r.code;
}

describe('auth: CRL fetching from distribution points, openssl CRLs, loopback DP (integration)', function () {
  this.timeout(60_000);
  let pki: DevPkiManifest;
  let material: TlsMaterial;
  let intermediate: CaHandle;
  let dp: CrlDistributionPoint;
  let closedPortUrl: string;
  const transports: RevocationTransport[] = [];
  let n = 0;

  before(async () => {
    pki = await givenTestPki();
    intermediate = await givenTestIntermediateCa();
    const config = parseConfig(givenMtlsEnv(pki) as Record<string, string>);
    material = await loadTlsMaterial(config.tls);
    dp = await givenCrlDistributionPoint();
    closedPortUrl = await givenClosedPort();
  });

  after(async () => {
    for (const t of transports) await t.close();
    await dp?.stop();
  });

  /** A client certificate of the intermediate with `crlUrl` as its distribution point. */
  async function givenLeaf(crlUrl: string | undefined): Promise<IssuedCert> {
    const name = `crl-fetch-${++n}`;
    return issueCertificate(intermediate, {name, cn: name, sans: {uri: [`spiffe://hardened-mtls.test/client/${name}`]}, ...(crlUrl ? {crlUrl} : {})});
  }

  /** A CRL for the intermediate made by openssl, listing `revoked`. */
  const intermediateCrl = (revoked: IssuedCert[] = [], opts: Parameters<typeof givenOpensslCrl>[2] = {}) =>
    givenOpensslCrl({cert: pki.intermediateCa.cert, key: pki.intermediateCa.key}, revoked, opts);

  interface Harness {
    auth: MtlsAuthenticator;
    store: RevocationStore;
    fetcher: CrlFetcher;
    lines: LogLine[];
    /** Move the authenticator's and the fetcher's clock. */
    advance(ms: number): void;
    check(leaf: IssuedCert): Promise<AuthResult>;
    /** The audit line of the last decision on `leaf`. */
    lastDecision(leaf: IssuedCert): LogLine;
  }

  async function givenHarness(
    o: {cidrs?: string | null; ports?: number[]; fail?: 'open'; timeoutMs?: number; crlFiles?: string[]} = {},
  ): Promise<Harness> {
    const closedPort = Number(new URL(closedPortUrl).port);
    const config = parseConfig(
      givenMtlsEnv(pki, {
        TLS_CRL_FILES: undefined,
        MTLS_CRL_FETCH: 'true',
        MTLS_REVOCATION: 'crl',
        OUTBOUND_ALLOWED_CIDRS: o.cidrs === null ? undefined : (o.cidrs ?? '127.0.0.1/32'),
        OUTBOUND_ALLOWED_PORTS: (o.ports ?? [dp.port, closedPort]).join(','),
        MTLS_OCSP_TIMEOUT_MS: String(o.timeoutMs ?? 2000),
        MTLS_REVOCATION_FAIL: o.fail,
      }) as Record<string, string>,
    );
    const lines: LogLine[] = [];
    const logger = createLogger({level: 'debug', destination: {write: (s: string) => void lines.push(JSON.parse(s) as LogLine)}});
    let offset = 0;
    const clock = () => new Date(Date.now() + offset);
    const store = new RevocationStore(await RevocationIndex.load(o.crlFiles ?? [], material.caCerts), logger);
    const transport = createRevocationTransport(config, logger);
    transports.push(transport);
    const fetcher = new CrlFetcher({fetchCrl: url => transport.fetchCrl(url), store, logger, clock});
    const auth = new MtlsAuthenticator(
      mtlsAuthenticatorOptions(
        config.mtls,
        material.caCerts.map(c => c.raw),
      ),
      {logger, revocation: revocationLookupFromStore(store), crlFetcher: fetcher, clock},
    );
    return {
      auth,
      store,
      fetcher,
      lines,
      advance: ms => void (offset += ms),
      check: leaf => auth.authenticate({leafDer: leaf.certDer, tlsAuthorized: true, remoteAddress: '127.0.0.1'}),
      lastDecision: leaf => {
        const l = lines.filter(x => x.audit === true && x.event === 'auth.decision' && x.fingerprint === leaf.fingerprint256).pop();
        assert.ok(l, 'an audit line for the decision');
        return l;
      },
    };
  }

  describe('a good distribution point', () => {
    it('revoked via the fetched CRL: AUTH_CERT_REVOKED; a good certificate of the same CA: accepted without a second fetch', async () => {
      const revoked = await givenLeaf(dp.url('revoked-case.crl'));
      const good = await givenLeaf(dp.url('revoked-case.crl'));
      dp.serve('revoked-case.crl', {kind: 'body', body: intermediateCrl([revoked])});
      const h = await givenHarness();
      assert.equal(verdict(await h.check(revoked)), 'AUTH_CERT_REVOKED');
      assert.equal(dp.hits('revoked-case.crl'), 1);
      assert.equal(verdict(await h.check(good)), 'ok/crl');
      assert.equal(dp.hits('revoked-case.crl'), 1, 'the installed CRL answers for every certificate of the issuer');
      const fetched = h.lines.filter(l => l.audit === true && l.event === 'crl.fetch');
      assert.deepEqual(
        fetched.map(l => [l.decision, l.url]),
        [['allow', dp.url('revoked-case.crl')]],
      );
      assert.equal(h.store.index.crls.length, 1);
      assert.equal(h.store.index.crls[0].file, `fetched:${dp.url('revoked-case.crl')}`);
    });

    it('a PEM CRL is accepted too (verified the same way)', async () => {
      const good = await givenLeaf(dp.url('pem.crl'));
      dp.serve('pem.crl', {kind: 'body', body: intermediateCrl([], {format: 'PEM'})});
      const h = await givenHarness();
      assert.equal(verdict(await h.check(good)), 'ok/crl');
    });

    it('N concurrent decisions for certificates of one CA: one download; later decisions: none', async () => {
      const leaves = await Promise.all(Array.from({length: 8}, () => givenLeaf(dp.url('coalesce.crl'))));
      dp.serve('coalesce.crl', {kind: 'body', body: intermediateCrl()});
      const h = await givenHarness();
      const results = await Promise.all(leaves.map(l => h.check(l)));
      assert.deepEqual(
        results.map(verdict),
        leaves.map(() => 'ok/crl'),
      );
      assert.equal(dp.hits('coalesce.crl'), 1);
      assert.equal(h.fetcher.stats.fetches, 1);
      for (const l of leaves) assert.equal(verdict(await h.check(l)), 'ok/crl');
      assert.equal(dp.hits('coalesce.crl'), 1);
    });

    it('a CRL for the issuer from TLS_CRL_FILES is used as is: the distribution point is not contacted', async () => {
      const leaf = await givenLeaf(dp.url('never.crl'));
      dp.serve('never.crl', {kind: 'body', body: intermediateCrl()});
      const h = await givenHarness({crlFiles: [pki.crls.intermediate]});
      assert.equal(verdict(await h.check(leaf)), 'ok/crl');
      assert.equal(dp.hits('never.crl'), 0);
    });

    it('a fetched CRL past nextUpdate is fetched again on demand (a newer CRL revoking the certificate is seen)', async () => {
      const leaf = await givenLeaf(dp.url('rolling.crl'));
      const t0 = Date.now();
      dp.serve('rolling.crl', {kind: 'body', body: intermediateCrl([], {lastUpdate: new Date(t0 - HOUR), nextUpdate: new Date(t0 + HOUR)})});
      const h = await givenHarness();
      assert.equal(verdict(await h.check(leaf)), 'ok/crl');
      assert.equal(dp.hits('rolling.crl'), 1);
      // The CA publishes the next CRL; two hours later the first one is stale.
      dp.serve('rolling.crl', {
        kind: 'body',
        body: intermediateCrl([leaf], {lastUpdate: new Date(t0 + 90 * 60_000), nextUpdate: new Date(t0 + DAY), crlNumber: 0x2000}),
      });
      h.advance(2 * HOUR);
      assert.equal(verdict(await h.check(leaf)), 'AUTH_CERT_REVOKED');
      assert.equal(dp.hits('rolling.crl'), 2);
    });

    it('reload() rebuilds from the files and drops fetched CRLs: the next decision fetches again', async () => {
      const leaf = await givenLeaf(dp.url('reload.crl'));
      dp.serve('reload.crl', {kind: 'body', body: intermediateCrl()});
      const h = await givenHarness();
      assert.equal(verdict(await h.check(leaf)), 'ok/crl');
      const epoch = h.store.epoch;
      assert.equal((await h.store.reload([], material.caCerts)).ok, true);
      assert.ok(h.store.epoch > epoch);
      assert.equal(h.store.index.crls.length, 0);
      assert.equal(verdict(await h.check(leaf)), 'ok/crl');
      assert.equal(dp.hits('reload.crl'), 2);
    });
  });

  describe('every failure leaves the status unknown: AUTH_REVOCATION_UNKNOWN with the reason in the audit line', () => {
    const cases: Array<{
      name: string;
      setup: (path: string) => void | Promise<void>;
      reason: RegExp;
      url?: () => string;
      opts?: Parameters<typeof givenHarness>[0];
    }> = [
      {name: 'DP down (nothing listens)', setup: () => undefined, url: () => `${closedPortUrl}down.crl`, reason: /SSRF_UPSTREAM_ERROR/},
      {name: 'HTTP 500', setup: p => dp.serve(p, {kind: 'status', status: 500}), reason: /SSRF_UPSTREAM_ERROR http-status:500/},
      {name: 'HTTP 404', setup: () => undefined, reason: /SSRF_UPSTREAM_ERROR http-status:404/},
      {name: 'garbage bytes', setup: p => dp.serve(p, {kind: 'body', body: Buffer.from('this is not a CRL \x00\x01\x02')}), reason: /CRL_INVALID/},
      {name: 'truncated CRL', setup: p => dp.serve(p, {kind: 'body', body: intermediateCrl().subarray(0, 100)}), reason: /CRL_INVALID/},
      {
        name: 'CRL signed by the wrong key (same issuer name, untrusted key)',
        setup: p => dp.serve(p, {kind: 'body', body: givenOpensslCrl({cert: pki.untrustedCa.cert, key: pki.untrustedCa.key})}),
        reason: /CRL_SIGNATURE_INVALID/,
      },
      {
        name: "CRL of another configured CA (the root's own CRL)",
        setup: p => dp.serve(p, {kind: 'body', body: givenOpensslCrl({cert: pki.rootCa.cert, key: pki.rootCa.key})}),
        reason: /CRL_SIGNATURE_INVALID/,
      },
      {
        name: 'stale CRL (past nextUpdate)',
        setup: p =>
          dp.serve(p, {
            kind: 'body',
            body: intermediateCrl([], {lastUpdate: new Date(Date.now() - 2 * DAY), nextUpdate: new Date(Date.now() - DAY)}),
          }),
        reason: /CRL_EXPIRED/,
      },
      {
        name: 'redirect (never followed)',
        setup: p => dp.serve(p, {kind: 'redirect', location: dp.url('redirect-target.crl')}),
        reason: /SSRF_REDIRECT_DENIED/,
      },
      {
        name: 'declared larger than 64 MiB',
        setup: p => dp.serve(p, {kind: 'declared-large', bytes: 64 * 1024 * 1024 + 1}),
        reason: /SSRF_RESPONSE_TOO_LARGE/,
      },
      {
        name: 'never answers (time bound MTLS_OCSP_TIMEOUT_MS)',
        setup: p => dp.serve(p, {kind: 'hang'}),
        reason: /SSRF_UPSTREAM_TIMEOUT/,
        opts: {timeoutMs: 300},
      },
    ];
    for (const c of cases) {
      it(`${c.name}: AUTH_REVOCATION_UNKNOWN`, async () => {
        const path = `fail-${c.name.replace(/[^a-z0-9]+/gi, '-')}.crl`;
        await c.setup(path);
        const leaf = await givenLeaf(c.url ? c.url() : dp.url(path));
        const h = await givenHarness(c.opts);
        assert.equal(verdict(await h.check(leaf)), 'AUTH_REVOCATION_UNKNOWN');
        const line = h.lastDecision(leaf);
        assert.equal(line.decision, 'deny');
        assert.equal(line.code, 'AUTH_REVOCATION_UNKNOWN');
        assert.match(String(line.reason), c.reason);
        const fetchLine = h.lines.find(l => l.audit === true && l.event === 'crl.fetch');
        assert.equal(fetchLine?.decision, 'deny');
        assert.equal(h.store.index.crls.length, 0, 'nothing installed');
      });
    }

    it('a redirect target is never contacted', () => {
      assert.equal(dp.hits('redirect-target.crl'), 0);
    });

    it('MTLS_REVOCATION_FAIL=open: accepted, audited as AUTH_REVOCATION_SOFT_FAIL', async () => {
      dp.serve('open.crl', {kind: 'status', status: 500});
      const leaf = await givenLeaf(dp.url('open.crl'));
      const h = await givenHarness({fail: 'open'});
      assert.equal(verdict(await h.check(leaf)), 'ok/soft-fail');
      const line = h.lastDecision(leaf);
      assert.equal(line.decision, 'warn');
      assert.equal(line.code, 'AUTH_REVOCATION_SOFT_FAIL');
    });

    it('a failed DP is remembered for 30 s (not hammered), then tried again', async () => {
      dp.serve('flaky.crl', {kind: 'status', status: 500});
      const leaf = await givenLeaf(dp.url('flaky.crl'));
      const h = await givenHarness();
      assert.equal(verdict(await h.check(leaf)), 'AUTH_REVOCATION_UNKNOWN');
      assert.equal(verdict(await h.check(leaf)), 'AUTH_REVOCATION_UNKNOWN');
      assert.equal(verdict(await h.check(leaf)), 'AUTH_REVOCATION_UNKNOWN');
      assert.equal(dp.hits('flaky.crl'), 1);
      assert.match(String(h.lastDecision(leaf).reason), /http-status:500 \(cached failure\)/);
      dp.serve('flaky.crl', {kind: 'body', body: intermediateCrl()});
      h.advance(29_000);
      assert.equal(verdict(await h.check(leaf)), 'AUTH_REVOCATION_UNKNOWN');
      assert.equal(dp.hits('flaky.crl'), 1);
      h.advance(2_000);
      assert.equal(verdict(await h.check(leaf)), 'ok/crl');
      assert.equal(dp.hits('flaky.crl'), 2);
    });

    it('no http distribution point (none, https, ldap): nothing is fetched', async () => {
      const h = await givenHarness();
      for (const url of [undefined, `https://127.0.0.1:${dp.port}/https.crl`, 'ldap://ldap.example.com/cn=CA?certificateRevocationList']) {
        const leaf = await givenLeaf(url);
        assert.equal(verdict(await h.check(leaf)), 'AUTH_REVOCATION_UNKNOWN');
        assert.match(String(h.lastDecision(leaf).reason), /no http CRL distribution point/);
      }
      assert.equal(dp.hits('https.crl'), 0);
      assert.equal(h.fetcher.stats.fetches, 0);
    });
  });

  describe('the SSRF policy of the revocation transport applies to distribution points', () => {
    it('a loopback DP without the OUTBOUND_ALLOWED_CIDRS exception is never contacted: SSRF_ADDRESS_DENIED', async () => {
      dp.serve('no-exception.crl', {kind: 'body', body: intermediateCrl()});
      const leaf = await givenLeaf(dp.url('no-exception.crl'));
      const h = await givenHarness({cidrs: null});
      assert.equal(verdict(await h.check(leaf)), 'AUTH_REVOCATION_UNKNOWN');
      assert.match(String(h.lastDecision(leaf).reason), /SSRF_ADDRESS_DENIED/);
      assert.equal(dp.hits('no-exception.crl'), 0);
      const denied = h.lines.find(l => l.audit === true && l.event === 'outbound.decision' && l.decision === 'deny');
      assert.equal(denied?.code, 'SSRF_ADDRESS_DENIED');
      assert.equal(denied?.purpose, 'crl');
    });

    it('an exception for another range does not open loopback', async () => {
      dp.serve('other-range.crl', {kind: 'body', body: intermediateCrl()});
      const leaf = await givenLeaf(dp.url('other-range.crl'));
      const h = await givenHarness({cidrs: '10.0.0.0/8'});
      assert.equal(verdict(await h.check(leaf)), 'AUTH_REVOCATION_UNKNOWN');
      assert.equal(dp.hits('other-range.crl'), 0);
    });

    it('a DP named localhost is refused before any resolution: SSRF_HOST_DENIED', async () => {
      dp.serve('localhost.crl', {kind: 'body', body: intermediateCrl()});
      const leaf = await givenLeaf(`http://localhost:${dp.port}/localhost.crl`);
      const h = await givenHarness();
      assert.equal(verdict(await h.check(leaf)), 'AUTH_REVOCATION_UNKNOWN');
      assert.match(String(h.lastDecision(leaf).reason), /SSRF_HOST_DENIED/);
      assert.equal(dp.hits('localhost.crl'), 0);
    });

    it('a DP on a port outside 80, 443 and OUTBOUND_ALLOWED_PORTS is refused: SSRF_PORT_DENIED', async () => {
      dp.serve('port.crl', {kind: 'body', body: intermediateCrl()});
      const leaf = await givenLeaf(dp.url('port.crl'));
      const h = await givenHarness({ports: [8080]});
      assert.equal(verdict(await h.check(leaf)), 'AUTH_REVOCATION_UNKNOWN');
      assert.match(String(h.lastDecision(leaf).reason), /SSRF_PORT_DENIED/);
      assert.equal(dp.hits('port.crl'), 0);
    });

    it('the cloud metadata address stays denied even inside an allowed CIDR', async () => {
      const leaf = await givenLeaf('http://169.254.169.254/latest/meta-data.crl');
      const h = await givenHarness({cidrs: '169.254.0.0/16'});
      assert.equal(verdict(await h.check(leaf)), 'AUTH_REVOCATION_UNKNOWN');
      assert.match(String(h.lastDecision(leaf).reason), /SSRF_ADDRESS_DENIED/);
    });
  });
});

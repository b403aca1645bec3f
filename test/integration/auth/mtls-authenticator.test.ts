/**
 * MtlsAuthenticator end to end (without a TLS socket): openssl-made certificates, the service's
 * real CRL index (RevocationIndex/RevocationStore over `openssl ca -gencrl` CRLs) and a real
 * `openssl ocsp` responder. Asserts codes, fail-closed/fail-open, caches, epochs and audit lines.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  MtlsAuthenticator,
  MtlsAuthenticatorOptions,
  revocationLookupFromStore,
  RevocationLookup,
  AuthResult,
  TrustSource,
} from '../../../src/auth/mtls-authenticator';
import {OcspClient, OcspClientOptions} from '../../../src/auth/ocsp-client';
import {parseIdentityRules} from '../../../src/identity/identity-rules';
import {createLogger} from '../../../src/logging/logger';
import {RevocationIndex} from '../../../src/tls/revocation/revocation-index';
import {RevocationStore} from '../../../src/tls/revocation/revocation-store';
import {givenClosedPort, givenMisbehavingResponder, givenOcspResponder, LoopbackResponder} from '../../fixtures/ocsp-responder';
import {givenTempDir, removeTempDir} from '../../fixtures/temp-dir';
import {IssuedCert, OpensslCa} from './support/openssl-pki';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const ALLOW = 'uri:spiffe://test.example/client/*';

interface AuditLine {
  audit?: boolean;
  event?: string;
  decision?: string;
  code?: string;
  subject?: string;
  serial?: string;
  fingerprint?: string;
  source?: string;
  cached?: string | boolean;
  [k: string]: unknown;
}

function givenLogCapture() {
  const lines: AuditLine[] = [];
  const logger = createLogger({level: 'debug', destination: {write: (s: string) => void lines.push(JSON.parse(s))}});
  return {logger, lines, decisions: () => lines.filter(l => l.audit && l.event === 'auth.decision')};
}

function verdict(r: AuthResult): string {
  return r.ok ? (r.revocationSoftFail ? 'ok/soft-fail' : `ok/${r.revocationSource}`) : r.code;
}

describe('auth: MtlsAuthenticator, openssl PKI, real CRL index, real openssl ocsp (integration)', function () {
  this.timeout(60_000);
  let tmp: string;
  let root: OpensslCa, int: OpensslCa, i2: OpensslCa, i3: OpensslCa, otherRoot: OpensslCa;
  const c: Record<string, IssuedCert> = {};
  const stops: Array<() => Promise<void>> = [];
  let crlPath: string;
  let shortCrlPath: string;

  before(async () => {
    tmp = givenTempDir('auth-pki-');
    root = await OpensslCa.createRoot(tmp, 'Auth Root');
    otherRoot = await OpensslCa.createRoot(tmp, 'Auth Other Root');
    int = await root.createIntermediate('Auth Int', {pathlen: 2});
    i2 = await int.createIntermediate('Auth Int 2');
    i3 = await i2.createIntermediate('Auth Int 3');
    const DAYS_AGO = (n: number) => new Date(Date.now() - n * DAY);
    const issue = async (name: string, o: Parameters<OpensslCa['issue']>[1] = {}) => (c[name] = await int.issue(name, o));
    await issue('good');
    await issue('good2');
    await issue('revoked');
    await issue('ocspRevoked');
    await issue('expired', {startDate: DAYS_AGO(10), endDate: DAYS_AGO(1)});
    await issue('notYetValid', {startDate: new Date(Date.now() + DAY), endDate: new Date(Date.now() + 10 * DAY)});
    await issue('noEku', {eku: null});
    await issue('serverOnly', {eku: 'serverAuth'});
    await issue('isCa', {basicConstraints: 'critical,CA:TRUE', keyUsage: 'critical,digitalSignature,keyCertSign'});
    await issue('kuEnc', {keyUsage: 'critical,keyEncipherment'});
    await issue('rsa1024', {key: 'rsa-1024'});
    await issue('rsa2048', {key: 'rsa-2048'});
    await issue('p384', {key: 'ec-p384'});
    await issue('p521', {key: 'ec-p521'});
    await issue('ed25519', {key: 'ed25519'});
    await issue('ed448', {key: 'ed448'});
    await issue('wrongSan', {san: 'URI:spiffe://evil.example/client/x'});
    await issue('smuggle', {san: '@alt', extraExtensions: ['[alt]', 'DNS.1 = evil.example, DNS:good.example']});
    await issue('cnAlice', {subject: '/CN=alice', san: null});
    await issue('cnCtrl', {subject: '/CN=ali\u0001ce', san: null});
    c.deep = await i3.issue('deep');
    c.foreign = await otherRoot.issue('foreign');
    await int.revoke(c.revoked);
    crlPath = await int.gencrl({hours: 24});
    shortCrlPath = await int.gencrl({hours: 1});
    await int.revoke(c.ocspRevoked);
  });

  afterEach(async () => {
    while (stops.length) await stops.pop()!();
  });
  after(() => removeTempDir(tmp));

  const x509 = (der: Buffer) => new crypto.X509Certificate(der);
  const trustCas = () => [x509(root.cert.der), x509(int.cert.der)];

  function givenAuthenticator(
    o: Partial<MtlsAuthenticatorOptions> = {},
    deps: {revocation?: RevocationLookup; ocsp?: OcspClient; clock?: () => Date; trust?: TrustSource} = {},
  ) {
    const log = givenLogCapture();
    const auth = new MtlsAuthenticator(
      {trustAnchors: [root.cert.der], allowedSubjects: parseIdentityRules(ALLOW), revocation: [], revocationFail: 'closed', ...o},
      {logger: log.logger, ...deps},
    );
    return {auth, log};
  }

  async function givenResponder(): Promise<LoopbackResponder> {
    const r = await givenOcspResponder({
      indexFile: int.indexFile,
      caCert: int.cert.certPath,
      rsignerCert: int.cert.certPath,
      rsignerKey: int.cert.keyPath,
      nmin: 60,
    });
    stops.push(() => r.stop());
    return r;
  }

  function givenOcsp(url: string, o: Partial<OcspClientOptions> = {}): OcspClient {
    return new OcspClient({url, timeoutMs: 2000, ...o});
  }

  const input = (name: string, chain: (OpensslCa | IssuedCert)[] = [int]) => ({
    leafDer: c[name].der,
    chainDer: chain.map(x => (x instanceof OpensslCa ? x.cert.der : x.der)),
    tlsAuthorized: true,
  });

  describe('every check with its code (no revocation source)', () => {
    const cases: Array<[string, () => Parameters<MtlsAuthenticator['authenticate']>[0], string, Partial<MtlsAuthenticatorOptions>?]> = [
      ['a good client', () => input('good'), 'ok/none'],
      ['no client certificate', () => ({leafDer: undefined, tlsAuthorized: true}), 'AUTH_NO_CLIENT_CERT'],
      ['TLS layer did not authorise the peer', () => ({...input('good'), tlsAuthorized: false}), 'AUTH_CERT_UNTRUSTED'],
      ['unparseable certificate', () => ({leafDer: Buffer.from('garbage'), tlsAuthorized: true}), 'AUTH_CERT_MALFORMED'],
      ['unparseable chain certificate', () => ({...input('good'), chainDer: [Buffer.from('garbage')]}), 'AUTH_CERT_MALFORMED'],
      ['missing intermediate', () => input('good', []), 'AUTH_CHAIN_INVALID'],
      ['certificate of another CA', () => input('foreign', [otherRoot]), 'AUTH_CHAIN_INVALID'],
      ['3 intermediates with the default limit of 2', () => input('deep', [i3, i2, int]), 'AUTH_CHAIN_TOO_DEEP'],
      ['3 intermediates with a limit of 3', () => input('deep', [i3, i2, int]), 'ok/none', {maxChainDepth: 3}],
      ['expired', () => input('expired'), 'AUTH_CERT_EXPIRED'],
      ['not yet valid', () => input('notYetValid'), 'AUTH_CERT_NOT_YET_VALID'],
      ['no EKU (Node accepts it)', () => input('noEku'), 'AUTH_EKU_NOT_CLIENT_AUTH'],
      ['EKU serverAuth only', () => input('serverOnly'), 'AUTH_EKU_NOT_CLIENT_AUTH'],
      ['CA:TRUE leaf', () => input('isCa'), 'AUTH_CERT_IS_CA'],
      ['keyUsage without digitalSignature', () => input('kuEnc'), 'AUTH_KEY_USAGE_INVALID'],
      ['RSA-1024', () => input('rsa1024'), 'AUTH_KEY_WEAK'],
      ['EC P-521', () => input('p521'), 'AUTH_KEY_WEAK'],
      ['Ed448', () => input('ed448'), 'AUTH_KEY_WEAK'],
      ['RSA-2048', () => input('rsa2048'), 'ok/none'],
      ['EC P-384', () => input('p384'), 'ok/none'],
      ['Ed25519', () => input('ed25519'), 'ok/none'],
      ['identity outside the allow-list', () => input('wrongSan'), 'AUTH_IDENTITY_NOT_ALLOWED'],
      [
        'a SAN smuggling a second name',
        () => input('smuggle'),
        'AUTH_IDENTITY_NOT_ALLOWED',
        {allowedSubjects: parseIdentityRules('dns:good.example')},
      ],
      ['CN ignored without a cn: rule', () => input('cnAlice'), 'AUTH_IDENTITY_NOT_ALLOWED', {allowedSubjects: parseIdentityRules('dns:alice')}],
      ['CN matched by a cn: rule', () => input('cnAlice'), 'ok/none', {allowedSubjects: parseIdentityRules('cn:alice')}],
      [
        'CN with a control character never matches',
        () => input('cnCtrl'),
        'AUTH_IDENTITY_NOT_ALLOWED',
        {allowedSubjects: parseIdentityRules('cn:alice')},
      ],
      ['no allow-list configured (development)', () => input('wrongSan'), 'ok/none', {allowedSubjects: null}],
    ];
    for (const [name, inp, expected, opts] of cases) {
      it(`${name} -> ${expected}`, async () => {
        const {auth, log} = givenAuthenticator(opts);
        const r = await auth.authenticate(inp());
        assert.equal(verdict(r), expected);
        const lines = log.decisions();
        assert.equal(lines.length, 1, 'exactly one audit line per decision');
        assert.equal(lines[0].decision, r.ok ? 'allow' : 'deny');
        assert.equal(lines[0].code, r.ok ? undefined : r.code);
      });
    }

    it('the first failing check decides (expired AND no EKU -> expired)', async () => {
      const {auth} = givenAuthenticator({clockSkewSec: 0}, {clock: () => new Date(Date.now() + 20 * DAY)});
      assert.equal(verdict(await auth.authenticate(input('noEku'))), 'AUTH_CERT_EXPIRED');
    });

    it('the profile carries subject, SANs, serial, issuer and fingerprint from the DER', async () => {
      const {auth} = givenAuthenticator();
      const r = await auth.authenticate(input('good'));
      assert.ok(r.ok);
      assert.equal(r.profile.subject, 'CN=good');
      assert.equal(r.profile.issuer, 'CN=Auth Int');
      assert.equal(r.profile.serial, c.good.x509.serialNumber.toUpperCase().replace(/^0+/, ''));
      assert.equal(r.profile.fingerprint256, c.good.x509.fingerprint256);
      assert.deepEqual(r.profile.sans, {dns: [], uri: ['spiffe://test.example/client/good'], email: [], ip: []});
      assert.equal(r.matchedRule, ALLOW);
    });

    it('the audit line names subject, serial, fingerprint and source', async () => {
      const {auth, log} = givenAuthenticator();
      await auth.authenticate({...input('good'), remoteAddress: '127.0.0.1'});
      const [line] = log.decisions();
      assert.equal(line.subject, 'CN=good');
      assert.equal(line.fingerprint, c.good.x509.fingerprint256);
      assert.equal(line.serial, c.good.x509.serialNumber.toUpperCase().replace(/^0+/, ''));
      assert.equal(line.source, 'none');
      assert.equal(line.remoteAddress, '127.0.0.1');
    });

    it('explain lists every check in order, and the verdict is still the first failure', async () => {
      const {auth} = givenAuthenticator();
      const r = await auth.authenticate(input('noEku'), {explain: true});
      assert.equal(verdict(r), 'AUTH_EKU_NOT_CLIENT_AUTH');
      assert.deepEqual(
        r.checks?.map(x => x.check),
        ['tls', 'parse', 'chain', 'validity', 'extendedKeyUsage', 'basicConstraints', 'keyUsage', 'keyStrength', 'identity', 'revocation'],
      );
    });
  });

  describe('CRL (the service RevocationIndex over openssl ca -gencrl)', () => {
    const crlDeps = async (file = crlPath) => ({revocation: await RevocationIndex.load([file], trustCas())});

    describe("issuing CAs on the path, by their issuer's CRL", () => {
      let revokedInt: OpensslCa;
      let rootCrl: string;
      let revokedIntCrl: string;
      before(async () => {
        revokedInt = await root.createIntermediate('Auth Int Revoked');
        c.underRevokedInt = await revokedInt.issue('underRevokedInt');
        revokedIntCrl = await revokedInt.gencrl({hours: 24}); // lists nothing: the leaf itself is good
        await root.revoke(revokedInt.cert);
        rootCrl = await root.gencrl({hours: 24});
      });
      const trustWith = () => [...trustCas(), x509(revokedInt.cert.der)];

      it('an intermediate its issuer revoked -> AUTH_CERT_REVOKED, even failing open', async () => {
        for (const revocationFail of ['closed', 'open'] as const) {
          const index = await RevocationIndex.load([revokedIntCrl, rootCrl], trustWith());
          const {auth, log} = givenAuthenticator({revocation: ['crl'], revocationFail}, {revocation: index});
          const r = await auth.authenticate(input('underRevokedInt', [revokedInt]));
          assert.equal(verdict(r), 'AUTH_CERT_REVOKED', revocationFail);
          assert.match(String(log.decisions()[0].reason), /issuing CA .*Auth Int Revoked.* revoked/);
        }
      });

      it('the explain mode names the check', async () => {
        const index = await RevocationIndex.load([revokedIntCrl, rootCrl], trustWith());
        const {auth} = givenAuthenticator({revocation: ['crl']}, {revocation: index});
        const r = await auth.authenticate(input('underRevokedInt', [revokedInt]), {explain: true});
        assert.equal(verdict(r), 'AUTH_CERT_REVOKED');
        assert.ok(r.checks?.some(x => x.check === 'revocation' && x.code === 'AUTH_CERT_REVOKED' && /issuing CA/.test(x.detail ?? '')));
      });

      it('an intermediate its issuer did not revoke passes (root CRL loaded)', async () => {
        const index = await RevocationIndex.load([crlPath, rootCrl], trustWith());
        const {auth} = givenAuthenticator({revocation: ['crl']}, {revocation: index});
        assert.equal(verdict(await auth.authenticate(input('good'))), 'ok/crl');
      });

      it('an issuer CRL past its nextUpdate: the intermediate is unknown (closed: AUTH_REVOCATION_UNKNOWN, open: soft-fail)', async () => {
        const shortRootCrl = await root.gencrl({hours: 1});
        const later = () => new Date(Date.now() + 2 * HOUR);
        const index = await RevocationIndex.load([crlPath, shortRootCrl], trustWith());
        const closed = givenAuthenticator({revocation: ['crl']}, {revocation: index, clock: later});
        const r = await closed.auth.authenticate(input('good'));
        assert.equal(verdict(r), 'AUTH_REVOCATION_UNKNOWN');
        assert.match(String(closed.log.decisions()[0].reason), /issuing CA .*Auth Int.*status unknown/);
        const open = givenAuthenticator({revocation: ['crl'], revocationFail: 'open'}, {revocation: index, clock: later});
        assert.equal(verdict(await open.auth.authenticate(input('good'))), 'ok/soft-fail');
        assert.equal(open.log.decisions()[0].code, 'AUTH_REVOCATION_SOFT_FAIL');
      });

      it('a CRL index that fails for the intermediate refuses (closed), never passes it unjudged', async () => {
        const index = await RevocationIndex.load([crlPath, rootCrl], trustWith());
        const intFingerprint = x509(int.cert.der).fingerprint256;
        const failing: RevocationLookup = {
          statusOfCertificate: (cert, now) => {
            if (cert.fingerprint256 === intFingerprint) throw new Error('index failure');
            return index.statusOfCertificate(cert, now);
          },
        };
        const {auth} = givenAuthenticator({revocation: ['crl']}, {revocation: failing});
        assert.equal(verdict(await auth.authenticate(input('good'))), 'AUTH_REVOCATION_UNKNOWN');
      });

      it("without the issuer's CRL the intermediate is not judged (documented limit)", async () => {
        const index = await RevocationIndex.load([revokedIntCrl], trustWith());
        const {auth} = givenAuthenticator({revocation: ['crl']}, {revocation: index});
        assert.equal(verdict(await auth.authenticate(input('underRevokedInt', [revokedInt]))), 'ok/crl');
      });
    });

    it('not revoked -> ok/crl', async () => {
      const {auth} = givenAuthenticator({revocation: ['crl']}, await crlDeps());
      assert.equal(verdict(await auth.authenticate(input('good'))), 'ok/crl');
    });

    it('revoked -> AUTH_CERT_REVOKED', async () => {
      const {auth, log} = givenAuthenticator({revocation: ['crl']}, await crlDeps());
      assert.equal(verdict(await auth.authenticate(input('revoked'))), 'AUTH_CERT_REVOKED');
      assert.equal(log.decisions()[0].code, 'AUTH_CERT_REVOKED');
    });

    it('revoked stays refused in fail-open mode', async () => {
      const {auth} = givenAuthenticator({revocation: ['crl'], revocationFail: 'open'}, await crlDeps());
      assert.equal(verdict(await auth.authenticate(input('revoked'))), 'AUTH_CERT_REVOKED');
    });

    it('CRL past nextUpdate: unknown -> AUTH_REVOCATION_UNKNOWN (fail closed)', async () => {
      const deps = await crlDeps(shortCrlPath);
      const {auth} = givenAuthenticator({revocation: ['crl']}, {...deps, clock: () => new Date(Date.now() + 2 * HOUR)});
      assert.equal(verdict(await auth.authenticate(input('good'))), 'AUTH_REVOCATION_UNKNOWN');
    });

    it('CRL past nextUpdate in fail-open mode: accepted with an AUTH_REVOCATION_SOFT_FAIL warning', async () => {
      const deps = await crlDeps(shortCrlPath);
      const {auth, log} = givenAuthenticator({revocation: ['crl'], revocationFail: 'open'}, {...deps, clock: () => new Date(Date.now() + 2 * HOUR)});
      const r = await auth.authenticate(input('good'));
      assert.equal(verdict(r), 'ok/soft-fail');
      const [line] = log.decisions();
      assert.equal(line.decision, 'warn');
      assert.equal(line.code, 'AUTH_REVOCATION_SOFT_FAIL');
      assert.equal(log.lines.find(l => l.audit)?.level, 'warn');
    });

    it('crl configured but no index available -> AUTH_REVOCATION_UNKNOWN', async () => {
      const {auth} = givenAuthenticator({revocation: ['crl']});
      assert.equal(verdict(await auth.authenticate(input('good'))), 'AUTH_REVOCATION_UNKNOWN');
    });

    it('a failing CRL lookup is unknown, never good', async () => {
      const throwing: RevocationLookup = {
        statusOfCertificate: () => {
          throw new Error('index broken');
        },
      };
      const {auth} = givenAuthenticator({revocation: ['crl']}, {revocation: throwing});
      assert.equal(verdict(await auth.authenticate(input('good'))), 'AUTH_REVOCATION_UNKNOWN');
    });

    it('a cached accept is re-checked once the store epoch bumps (revocation after caching)', async () => {
      const store = new RevocationStore(await RevocationIndex.load([crlPath], trustCas()));
      const {auth} = givenAuthenticator({revocation: ['crl']}, {revocation: revocationLookupFromStore(store)});
      const conn = {};
      assert.equal(verdict(await auth.authenticate({...input('ocspRevoked'), connection: conn})), 'ok/crl');
      const again = await auth.authenticate({...input('ocspRevoked'), connection: conn});
      assert.equal(again.cached, 'connection');
      // The CA revokes it; the new CRL is installed (epoch bump).
      store.swap(await RevocationIndex.load([await int.gencrl()], trustCas()));
      const after = await auth.authenticate({...input('ocspRevoked'), connection: conn});
      assert.equal(verdict(after), 'AUTH_CERT_REVOKED');
      assert.equal(after.cached, false);
    });
  });

  describe('OCSP (real openssl ocsp responder)', () => {
    it('good -> ok/ocsp', async () => {
      const r = await givenResponder();
      const {auth} = givenAuthenticator({revocation: ['ocsp']}, {ocsp: givenOcsp(r.url)});
      assert.equal(verdict(await auth.authenticate(input('good'))), 'ok/ocsp');
    });

    it('revoked -> AUTH_CERT_REVOKED', async () => {
      const r = await givenResponder();
      const {auth} = givenAuthenticator({revocation: ['ocsp']}, {ocsp: givenOcsp(r.url)});
      assert.equal(verdict(await auth.authenticate(input('ocspRevoked'))), 'AUTH_CERT_REVOKED');
    });

    it('the default OcspClient follows MTLS_OCSP_URL (ocspUrl option)', async () => {
      const r = await givenResponder();
      const {auth} = givenAuthenticator({revocation: ['ocsp'], ocspUrl: r.url});
      assert.equal(verdict(await auth.authenticate(input('good'))), 'ok/ocsp');
      assert.equal(r.requests.length, 1);
    });

    const failures: Array<[string, () => Promise<string>]> = [
      ['responder down', () => givenClosedPort()],
      ['responder hangs (timeout)', async () => (await track(givenMisbehavingResponder({kind: 'hang'}))).url],
      ['responder returns garbage', async () => (await track(givenMisbehavingResponder({kind: 'body', body: crypto.randomBytes(200)}))).url],
      ['responder answers HTTP 500', async () => (await track(givenMisbehavingResponder({kind: 'status', status: 500}))).url],
    ];
    async function track(p: Promise<LoopbackResponder>): Promise<LoopbackResponder> {
      const r = await p;
      stops.push(() => r.stop());
      return r;
    }
    for (const [name, url] of failures) {
      it(`${name}: fail-closed -> AUTH_REVOCATION_UNKNOWN`, async () => {
        const {auth} = givenAuthenticator({revocation: ['ocsp']}, {ocsp: givenOcsp(await url(), {timeoutMs: 200})});
        assert.equal(verdict(await auth.authenticate(input('good'))), 'AUTH_REVOCATION_UNKNOWN');
      });
      it(`${name}: fail-open -> accepted, audited as AUTH_REVOCATION_SOFT_FAIL`, async () => {
        const {auth, log} = givenAuthenticator({revocation: ['ocsp'], revocationFail: 'open'}, {ocsp: givenOcsp(await url(), {timeoutMs: 200})});
        assert.equal(verdict(await auth.authenticate(input('good'))), 'ok/soft-fail');
        assert.equal(log.decisions()[0].code, 'AUTH_REVOCATION_SOFT_FAIL');
      });
    }

    it('responder does not know the certificate -> AUTH_REVOCATION_UNKNOWN', async () => {
      const r = await givenResponder();
      const stranger = await int.issue('not-in-index');
      const lines = (await import('node:fs/promises')).readFile;
      const text = await lines(int.indexFile, 'utf8');
      const serial = stranger.x509.serialNumber.toUpperCase();
      await (
        await import('node:fs/promises')
      ).writeFile(
        int.indexFile,
        text
          .split('\n')
          .filter(l => !l.toUpperCase().includes(`\t${serial}\t`))
          .join('\n'),
      );
      c.stranger = stranger;
      const {auth} = givenAuthenticator({revocation: ['ocsp']}, {ocsp: givenOcsp(r.url)});
      assert.equal(verdict(await auth.authenticate(input('stranger'))), 'AUTH_REVOCATION_UNKNOWN');
    });

    it('response signed by an unauthorised key -> AUTH_REVOCATION_UNKNOWN', async () => {
      const rogue = await otherRoot.issueOcspSigner('rogue-signer');
      const r = await givenOcspResponder({
        indexFile: int.indexFile,
        caCert: int.cert.certPath,
        rsignerCert: rogue.certPath,
        rsignerKey: rogue.keyPath,
        nmin: 60,
      });
      stops.push(() => r.stop());
      const {auth} = givenAuthenticator({revocation: ['ocsp']}, {ocsp: givenOcsp(r.url)});
      assert.equal(verdict(await auth.authenticate(input('good'))), 'AUTH_REVOCATION_UNKNOWN');
    });

    it('crl,ocsp: OCSP revoked wins over a good CRL', async () => {
      const r = await givenResponder();
      const {auth} = givenAuthenticator(
        {revocation: ['crl', 'ocsp']},
        {revocation: await RevocationIndex.load([crlPath], trustCas()), ocsp: givenOcsp(r.url)},
      );
      assert.equal(verdict(await auth.authenticate(input('ocspRevoked'))), 'AUTH_CERT_REVOKED');
      assert.equal(verdict(await auth.authenticate(input('good'))), 'ok/crl,ocsp');
    });

    it('crl,ocsp: one good source is enough when the other is unknown', async () => {
      const {auth} = givenAuthenticator(
        {revocation: ['crl', 'ocsp']},
        {revocation: await RevocationIndex.load([crlPath], trustCas()), ocsp: givenOcsp(await givenClosedPort())},
      );
      assert.equal(verdict(await auth.authenticate(input('good'))), 'ok/crl');
    });
  });

  describe('verdict caches', () => {
    it('N requests on one connection -> one OCSP query, one audit line per request', async () => {
      const r = await givenResponder();
      const {auth, log} = givenAuthenticator({revocation: ['ocsp']}, {ocsp: givenOcsp(r.url)});
      const conn = {};
      const results = [];
      for (let i = 0; i < 5; i++) results.push(await auth.authenticate({...input('good'), connection: conn}));
      assert.deepEqual(results.map(verdict), Array(5).fill('ok/ocsp'));
      assert.deepEqual(
        results.map(x => x.cached),
        [false, 'connection', 'connection', 'connection', 'connection'],
      );
      assert.equal(r.requests.length, 1);
      assert.equal(log.decisions().length, 5);
    });

    it('two concurrent new connections for the same certificate -> one OCSP query', async () => {
      const r = await givenResponder();
      const {auth} = givenAuthenticator({revocation: ['ocsp']}, {ocsp: givenOcsp(r.url)});
      const [a, b] = await Promise.all([
        auth.authenticate({...input('good'), connection: {}}),
        auth.authenticate({...input('good'), connection: {}}),
      ]);
      assert.deepEqual([verdict(a), verdict(b)], ['ok/ocsp', 'ok/ocsp']);
      assert.equal(r.requests.length, 1);
    });

    it('a new connection with a known certificate is answered from the certificate cache', async () => {
      const r = await givenResponder();
      const {auth} = givenAuthenticator({revocation: ['ocsp']}, {ocsp: givenOcsp(r.url)});
      await auth.authenticate({...input('good'), connection: {}});
      const second = await auth.authenticate({...input('good'), connection: {}});
      assert.equal(second.cached, 'certificate');
      assert.equal(r.requests.length, 1);
    });

    /** chainDer functions that count how often the authenticator reads the presented chain. */
    function givenChainReadCounter() {
      const counter = {
        reads: 0,
        chainOf: (chain: (OpensslCa | IssuedCert)[]) => () => {
          counter.reads++;
          return input('good', chain).chainDer;
        },
      };
      return counter;
    }

    it('a certificate accepted through configured CAs only: a new connection does not read the presented chain', async () => {
      const {auth} = givenAuthenticator({trustAnchors: [root.cert.der, int.cert.der]});
      const counter = givenChainReadCounter();
      const chainOf = counter.chainOf;
      const first = await auth.authenticate({...input('good'), chainDer: chainOf([int]), connection: {}});
      assert.deepEqual([verdict(first), first.cached, counter.reads], ['ok/none', false, 1]);
      // Whatever the next client presents with the same leaf (here: another CA's certificate),
      // the leaf was accepted through the configured CAs alone.
      const second = await auth.authenticate({...input('good'), chainDer: chainOf([otherRoot]), connection: {}});
      assert.deepEqual([verdict(second), second.cached, counter.reads], ['ok/none', 'certificate', 1]);
    });

    it('a certificate accepted through a presented intermediate: every new connection is keyed by its chain', async () => {
      const {auth} = givenAuthenticator(); // trust: the root only, so the path needs the presented intermediate
      const counter = givenChainReadCounter();
      const chainOf = counter.chainOf;
      const first = await auth.authenticate({...input('good'), chainDer: chainOf([int]), connection: {}});
      assert.deepEqual([verdict(first), first.cached, counter.reads], ['ok/none', false, 1]);
      const same = await auth.authenticate({...input('good'), chainDer: chainOf([int]), connection: {}});
      assert.deepEqual([verdict(same), same.cached, counter.reads], ['ok/none', 'certificate', 2]);
      // Without the intermediate there is no path: not answered from the accept above.
      const without = await auth.authenticate({...input('good'), chainDer: chainOf([]), connection: {}});
      assert.deepEqual([verdict(without), without.cached, counter.reads], ['AUTH_CHAIN_INVALID', false, 3]);
    });

    it('a leaf accepted with a presented intermediate, then presented alone, is judged afresh (chain-cache hit, cache by fingerprint)', async () => {
      // Trust: the root only, so every path needs the presented intermediate. A revocation epoch
      // bump drops the verdicts but not the chain verifier's cached path (made of the first
      // call's objects): the second accept must still be keyed by the presented chain.
      const store = new RevocationStore(await RevocationIndex.load([crlPath], trustCas()));
      const {auth} = givenAuthenticator({revocation: ['crl']}, {revocation: revocationLookupFromStore(store)});
      assert.equal(verdict(await auth.authenticate(input('good2'))), 'ok/crl');
      store.swap(await RevocationIndex.load([crlPath], trustCas()));
      const again = await auth.authenticate(input('good2'));
      assert.deepEqual([verdict(again), again.cached], ['ok/crl', false]);
      const alone = await auth.authenticate(input('good2', []));
      assert.deepEqual([verdict(alone), alone.cached], ['AUTH_CHAIN_INVALID', false]);
    });

    it('an unknown revocation status is never cached (the responder is asked again)', async () => {
      const bad = await givenMisbehavingResponder({kind: 'status', status: 500});
      stops.push(() => bad.stop());
      const {auth} = givenAuthenticator({revocation: ['ocsp'], revocationFail: 'open'}, {ocsp: givenOcsp(bad.url)});
      const conn = {};
      await auth.authenticate({...input('good'), connection: conn});
      await auth.authenticate({...input('good'), connection: conn});
      assert.equal(bad.requests.length, 2);
    });

    it('a verdict is not reused past the certificate notAfter', async () => {
      let now = Date.now();
      const {auth} = givenAuthenticator({}, {clock: () => new Date(now)});
      const conn = {};
      assert.equal(verdict(await auth.authenticate({...input('good'), connection: conn})), 'ok/none');
      now += 20 * DAY; // past notAfter (10 days)
      const later = await auth.authenticate({...input('good'), connection: conn});
      assert.equal(verdict(later), 'AUTH_CERT_EXPIRED');
    });

    it('a trust reload (trust source epoch) drops cached verdicts and applies the new anchors', async () => {
      let epoch = 1;
      let anchors: Buffer[] = [root.cert.der];
      const trust: TrustSource = {
        get epoch() {
          return epoch;
        },
        anchors: () => anchors,
      };
      const {auth} = givenAuthenticator({}, {trust});
      const conn = {};
      assert.equal(verdict(await auth.authenticate({...input('good'), connection: conn})), 'ok/none');
      anchors = [otherRoot.cert.der];
      epoch++;
      assert.equal(verdict(await auth.authenticate({...input('good'), connection: conn})), 'AUTH_CHAIN_INVALID');
      assert.equal(verdict(await auth.authenticate(input('foreign', [otherRoot]))), 'ok/none');
    });

    it('explain bypasses the caches', async () => {
      const r = await givenResponder();
      const {auth} = givenAuthenticator({revocation: ['ocsp']}, {ocsp: givenOcsp(r.url, {cacheSize: 1})});
      const conn = {};
      await auth.authenticate({...input('good'), connection: conn});
      const explained = await auth.authenticate({...input('good'), connection: conn}, {explain: true});
      assert.equal(explained.cached, false);
      assert.ok(explained.checks && explained.checks.length > 0);
    });
  });
});

/**
 * The offline verifier, run as the built CLI (`node dist/src/auth/verify-cert-cli.js`, what
 * `npm run verify-cert --` runs), on openssl-made certificates, real CRLs and a real responder.
 */
import assert from 'node:assert/strict';
import {execFile} from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import {givenOcspResponder, LoopbackResponder} from '../../fixtures/ocsp-responder';
import {givenTempDir, removeTempDir} from '../../fixtures/temp-dir';
import {IssuedCert, OpensslCa} from './support/openssl-pki';

const CLI = path.resolve(__dirname, '..', '..', '..', 'src', 'auth', 'verify-cert-cli.js');
const DAY = 24 * 60 * 60 * 1000;
const ALLOW = 'uri:spiffe://test.example/client/*';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function verifyCert(args: string[]): Promise<Run> {
  return new Promise(resolve => {
    execFile(process.execPath, [CLI, ...args], {env: {PATH: process.env.PATH}}, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({code, stdout, stderr});
    });
  });
}

describe('auth: verify-cert CLI (integration)', function () {
  this.timeout(60_000);
  let tmp: string;
  let root: OpensslCa, int: OpensslCa;
  const c: Record<string, IssuedCert> = {};
  let crl: string;
  let intPem: string;
  let responder: LoopbackResponder | undefined;

  before(async () => {
    tmp = givenTempDir('auth-pki-');
    root = await OpensslCa.createRoot(tmp, 'CLI Root');
    int = await root.createIntermediate('CLI Int');
    intPem = path.join(tmp, 'int.pem');
    await fs.writeFile(intPem, int.cert.pem);
    for (const [name, o] of Object.entries({
      good: {},
      revoked: {},
      noEku: {eku: null},
      isCa: {basicConstraints: 'critical,CA:TRUE', keyUsage: 'critical,digitalSignature,keyCertSign'},
      weak: {key: 'rsa-1024' as const},
      wrongSan: {san: 'URI:spiffe://evil.example/x'},
      future: {startDate: new Date(Date.now() + DAY), endDate: new Date(Date.now() + 10 * DAY)},
    })) {
      c[name] = await int.issue(name, o);
    }
    await int.revoke(c.revoked);
    crl = await int.gencrl();
  });

  afterEach(async () => {
    await responder?.stop();
    responder = undefined;
  });
  after(() => removeTempDir(tmp));

  const base = () => ['--ca', root.cert.certPath, '--allow', ALLOW];

  it('accepts a good certificate: exit 0 and the verdict', async () => {
    const r = await verifyCert([...base(), c.good.certPath, intPem]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ACCEPTED CN=good/);
  });

  it('reads the chain from the certificate file too', async () => {
    const bundle = path.join(tmp, 'good-bundle.pem');
    await fs.writeFile(bundle, c.good.pem + int.cert.pem);
    assert.equal((await verifyCert([...base(), bundle])).code, 0);
  });

  describe('table: certificate -> code (json)', () => {
    const cases: Array<[string, () => string[], number, string]> = [
      ['good', () => [c.good.certPath, intPem], 0, 'accepted'],
      ['no EKU', () => [c.noEku.certPath, intPem], 1, 'AUTH_EKU_NOT_CLIENT_AUTH'],
      ['CA:TRUE', () => [c.isCa.certPath, intPem], 1, 'AUTH_CERT_IS_CA'],
      ['RSA-1024', () => [c.weak.certPath, intPem], 1, 'AUTH_KEY_WEAK'],
      ['outside the allow-list', () => [c.wrongSan.certPath, intPem], 1, 'AUTH_IDENTITY_NOT_ALLOWED'],
      ['missing intermediate', () => [c.good.certPath], 1, 'AUTH_CHAIN_INVALID'],
      ['--max-depth 0', () => ['--max-depth', '0', c.good.certPath, intPem], 1, 'AUTH_CHAIN_TOO_DEEP'],
      ['--at after notAfter', () => ['--at', new Date(Date.now() + 30 * DAY).toISOString(), c.good.certPath, intPem], 1, 'AUTH_CERT_EXPIRED'],
      ['not yet valid', () => [c.future.certPath, intPem], 1, 'AUTH_CERT_NOT_YET_VALID'],
      [
        'not yet valid, --at inside its window',
        () => ['--at', new Date(Date.now() + 2 * DAY).toISOString(), c.future.certPath, intPem],
        0,
        'accepted',
      ],
      // As in the service, a CRL counts only when its issuer is a configured CA (TLS_CA_FILE = root + intermediate).
      ['--crl, not revoked', () => ['--ca', intPem, '--crl', crl, c.good.certPath, intPem], 0, 'accepted'],
      ['--crl, revoked', () => ['--ca', intPem, '--crl', crl, c.revoked.certPath, intPem], 1, 'AUTH_CERT_REVOKED'],
      ['--crl, issuer not configured', () => ['--crl', crl, c.good.certPath, intPem], 78, 'CRL_SIGNATURE_INVALID'],
    ];
    for (const [name, args, exit, expected] of cases) {
      it(`${name} -> exit ${exit}, ${expected}`, async () => {
        const r = await verifyCert([...base(), '--format', 'json', ...args()]);
        assert.equal(r.code, exit, r.stderr);
        if (exit === 78) {
          assert.match(r.stderr, new RegExp(expected));
          return;
        }
        const out = JSON.parse(r.stdout) as {accepted: boolean; code?: string};
        assert.equal(out.accepted ? 'accepted' : out.code, expected);
      });
    }
  });

  it('--ocsp-url asks a real responder (good, revoked), through the SSRF-safe transport (--allow-cidr for loopback)', async () => {
    responder = await givenOcspResponder({
      indexFile: int.indexFile,
      caCert: int.cert.certPath,
      rsignerCert: int.cert.certPath,
      rsignerKey: int.cert.keyPath,
      nmin: 60,
    });
    const allow = ['--allow-cidr', '127.0.0.1/32'];
    const good = await verifyCert([...base(), '--ocsp-url', responder.url, ...allow, '--format', 'json', c.good.certPath, intPem]);
    assert.equal(good.code, 0, good.stderr);
    assert.equal(JSON.parse(good.stdout).revocationSource, 'ocsp');
    const revoked = await verifyCert([...base(), '--ocsp-url', responder.url, ...allow, '--format', 'json', c.revoked.certPath, intPem]);
    assert.equal(revoked.code, 1);
    assert.equal(JSON.parse(revoked.stdout).code, 'AUTH_CERT_REVOKED');
    assert.equal(responder.requests.length, 2);
  });

  it('a responder on a loopback address is not asked without --allow-cidr (fail closed: AUTH_REVOCATION_UNKNOWN)', async () => {
    responder = await givenOcspResponder({
      indexFile: int.indexFile,
      caCert: int.cert.certPath,
      rsignerCert: int.cert.certPath,
      rsignerKey: int.cert.keyPath,
      nmin: 60,
    });
    const r = await verifyCert([...base(), '--ocsp-url', responder.url, '--format', 'json', c.good.certPath, intPem]);
    assert.equal(r.code, 1);
    assert.equal(JSON.parse(r.stdout).code, 'AUTH_REVOCATION_UNKNOWN');
    assert.equal(responder.requests.length, 0);
  });

  it('--allow-cidr must be a CIDR (usage error)', async () => {
    const r = await verifyCert([...base(), '--ocsp-url', 'http://127.0.0.1:9/', '--allow-cidr', '127.0.0.1', c.good.certPath, intPem]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--allow-cidr/);
  });

  it('--explain prints every check', async () => {
    const r = await verifyCert([...base(), '--explain', c.noEku.certPath, intPem]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^REFUSED AUTH_EKU_NOT_CLIENT_AUTH/);
    for (const check of [
      'tls',
      'parse',
      'chain',
      'validity',
      'extendedKeyUsage',
      'basicConstraints',
      'keyUsage',
      'keyStrength',
      'identity',
      'revocation',
    ]) {
      assert.match(r.stdout, new RegExp(`\\] ${check}\\b`), check);
    }
    const json = await verifyCert([...base(), '--explain', '--format', 'json', c.noEku.certPath, intPem]);
    assert.equal((JSON.parse(json.stdout) as {checks: unknown[]}).checks.length, 10);
  });

  it('--explain reports the RFC 5280 path apart from local policy: path valid, refused by local policy (no clientAuth EKU)', async () => {
    const r = await verifyCert([...base(), '--explain', c.noEku.certPath, intPem]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /\n {2}RFC 5280 path: valid\n/);
    assert.match(r.stdout, /\n {2}local policy: refused \(AUTH_EKU_NOT_CLIENT_AUTH/);
    const json = JSON.parse((await verifyCert([...base(), '--explain', '--format', 'json', c.isCa.certPath, intPem])).stdout) as {
      path: {valid: boolean};
      policy: {accepted: boolean; failed: {code: string}};
    };
    assert.deepEqual([json.path.valid, json.policy.accepted, json.policy.failed.code], [true, false, 'AUTH_CERT_IS_CA']);
  });

  it('--explain: a chain that does not verify is a path failure, whatever the policy says', async () => {
    const r = await verifyCert([...base(), '--explain', c.good.certPath]); // intermediate missing
    assert.equal(r.code, 1);
    assert.match(r.stdout, /\n {2}RFC 5280 path: invalid \(AUTH_CHAIN_INVALID/);
  });

  const purposeAny: Array<[string, () => string[], number, RegExp]> = [
    ['no clientAuth EKU: path valid', () => [c.noEku.certPath, intPem], 0, /^PATH VALID/],
    ['CA:TRUE leaf and an identity outside the allow-list: path valid', () => [c.isCa.certPath, intPem], 0, /^PATH VALID/],
    ['RSA-1024 key: path valid (key strength is local policy)', () => [c.weak.certPath, intPem], 0, /^PATH VALID/],
    ['not yet valid: path invalid', () => [c.future.certPath, intPem], 1, /^PATH INVALID AUTH_CERT_NOT_YET_VALID/],
    ['revoked (CRL): path invalid', () => ['--ca', intPem, '--crl', crl, c.revoked.certPath, intPem], 1, /^PATH INVALID AUTH_CERT_REVOKED/],
    ['no chain to the anchor: path invalid', () => [c.good.certPath], 1, /^PATH INVALID AUTH_CHAIN_INVALID/],
  ];
  for (const [name, args, exit, out] of purposeAny) {
    it(`--purpose any judges the path alone: ${name} -> exit ${exit}`, async () => {
      const r = await verifyCert([...base(), '--purpose', 'any', ...args()]);
      assert.equal(r.code, exit, r.stdout + r.stderr);
      assert.match(r.stdout, out);
    });
  }

  describe('usage and configuration errors', () => {
    const cases: Array<[string, () => string[], number]> = [
      ['no --ca', () => [c.good.certPath], 2],
      ['no certificate', () => ['--ca', root.cert.certPath], 2],
      ['unknown option', () => [...base(), '--bogus', c.good.certPath], 2],
      ['invalid --allow rule', () => ['--ca', root.cert.certPath, '--allow', 'nope', c.good.certPath], 2],
      ['invalid --at', () => [...base(), '--at', 'yesterday', c.good.certPath], 2],
      ['unknown --purpose', () => [...base(), '--purpose', 'server', c.good.certPath], 2],
      ['--ocsp-url with userinfo', () => [...base(), '--ocsp-url', 'http://u:p@127.0.0.1/', c.good.certPath], 2],
      ['unreadable CA file', () => ['--ca', path.join(tmp, 'missing.pem'), c.good.certPath], 78],
      ['CRL that does not parse', () => [...base(), '--crl', c.good.certPath, c.good.certPath, intPem], 78],
    ];
    for (const [name, args, exit] of cases) {
      it(`${name} -> exit ${exit}`, async () => {
        const r = await verifyCert(args());
        assert.equal(r.code, exit, r.stdout + r.stderr);
        assert.equal(r.stdout, '');
      });
    }
  });
});

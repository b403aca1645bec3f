/**
 * The TLS policy against real clients: Node's TLS stack, the curl binary and the openssl
 * s_client binary. Protocol-level refusals (TLS 1.2, no shared suite) end in the handshake with
 * NO HTTP response; refused client certificates get the connection gate's coded answer
 * (every cause with every client: refused-clients.acceptance.test.ts).
 */
import assert from 'node:assert/strict';
import {execFile, spawnSync} from 'node:child_process';
import {promisify} from 'node:util';
import {givenClient, givenMtlsEnv} from '../fixtures/mtls-env';
import {DevClientName, DevPkiManifest, givenTestPki} from '../fixtures/pki';
import {givenService, ServiceHandle} from '../fixtures/service';
import {HttpResult, tlsRequest} from '../fixtures/tls-client';

const execFileP = promisify(execFile);

describe('tls: mTLS policy with real clients (acceptance)', function () {
  this.timeout(60000);
  let pki: DevPkiManifest;
  let svc: ServiceHandle;

  before(async () => {
    pki = await givenTestPki();
    svc = await givenService(givenMtlsEnv(pki));
  });
  after(async () => {
    await svc?.stop();
  });

  const whoami = {target: '/whoami'};

  describe('Node TLS client', () => {
    it('valid client: 200 on /whoami with its identity, security headers, no X-Powered-By', async () => {
      const r = await tlsRequest({port: svc.port, ...givenClient(pki, 'valid')}, whoami);
      assert.equal(r.outcome, 'response');
      const res = r as HttpResult;
      assert.equal(res.status, 200);
      const body = res.json as {serial: string; fingerprint256: string; sans: {uri: string[]; dns: string[]}; subject: string; issuer: string};
      assert.equal(body.serial, pki.clients.valid.serialHex);
      assert.equal(body.fingerprint256, pki.clients.valid.fingerprint256);
      assert.deepEqual(body.sans.uri, ['spiffe://hardened-mtls.test/client/valid']);
      assert.match(body.issuer, /Hardened mTLS Dev Intermediate CA/);
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.match(res.headers['strict-transport-security'], /max-age=\d+/);
      assert.equal(res.headers['x-powered-by'], undefined);
    });

    it('an RSA-2048 client is accepted too', async () => {
      const r = await tlsRequest({port: svc.port, ...givenClient(pki, 'rsa-2048')}, whoami);
      assert.equal((r as HttpResult).status, 200);
    });

    const refusedByTheGate: [string, DevClientName | 'anonymous', string][] = [
      ['no client certificate', 'anonymous', 'AUTH_NO_CLIENT_CERT'],
      ['a client certificate from an untrusted CA with the same subject name', 'untrusted', 'AUTH_CERT_UNTRUSTED'],
      ['an expired client certificate', 'expired', 'AUTH_CERT_EXPIRED'],
      ['a not-yet-valid client certificate', 'not-yet-valid', 'AUTH_CERT_NOT_YET_VALID'],
      ['a revoked client certificate (connection gate)', 'revoked', 'AUTH_CERT_REVOKED'],
    ];
    for (const [what, name, code] of refusedByTheGate) {
      it(`${what}: the gate's coded answer ${code}, Connection: close`, async () => {
        const r = await tlsRequest({port: svc.port, ...givenClient(pki, name)}, whoami);
        assert.equal(r.outcome, 'response', JSON.stringify(r).slice(0, 200));
        assert.equal(((r as HttpResult).json as {error: {code: string}}).error.code, code);
        assert.equal((r as HttpResult).headers.connection, 'close');
      });
    }

    it("an RSA-1024 client certificate (client at SECLEVEL=0, server at OpenSSL security level 2): the gate's coded answer AUTH_KEY_WEAK", async () => {
      // The client lowers its own security level so that it can load and present the weak key
      // (Node 24's OpenSSL refuses to load it at the default level 2): the SERVER must refuse it.
      const r = await tlsRequest({port: svc.port, ...givenClient(pki, 'rsa-1024'), ciphers: 'DEFAULT@SECLEVEL=0'}, whoami);
      assert.equal(r.outcome, 'response', JSON.stringify(r).slice(0, 200));
      assert.equal((r as HttpResult).status, 403);
      assert.equal(((r as HttpResult).json as {error: {code: string}}).error.code, 'AUTH_KEY_WEAK');
      assert.equal((r as HttpResult).headers.connection, 'close');
    });

    const refusedInHandshake: [string, DevClientName | 'anonymous', Partial<{maxVersion: 'TLSv1.2'; ciphers: string}>][] = [
      ['a TLS 1.2 client', 'valid', {maxVersion: 'TLSv1.2'}],
      ['a TLS 1.3 client offering only TLS_AES_128_GCM_SHA256', 'valid', {ciphers: 'TLS_AES_128_GCM_SHA256'}],
    ];
    for (const [what, name, tlsOpts] of refusedInHandshake) {
      it(`${what}: no HTTP response`, async () => {
        const r = await tlsRequest({port: svc.port, ...givenClient(pki, name), ...tlsOpts}, whoami);
        assert.equal(r.outcome, 'no-response', `expected no HTTP response, got ${JSON.stringify(r).slice(0, 200)}`);
      });
    }

    it("the RSA-1024 client reached the server: the connection gate logs AUTH_KEY_WEAK with OpenSSL's reason", async () => {
      const before = svc.logs.length;
      const r = await tlsRequest({port: svc.port, ...givenClient(pki, 'rsa-1024'), ciphers: 'DEFAULT@SECLEVEL=0'}, whoami);
      assert.equal(r.outcome, 'response');
      const line = await svc.waitForLog(l => svc.logs.indexOf(l) >= before && l.event === 'tls.connection' && l.code === 'AUTH_KEY_WEAK');
      assert.equal(line.decision, 'deny');
      assert.match(JSON.stringify(line), /EE_KEY_TOO_SMALL/);
    });

    it('the revoked client is logged by the connection gate with AUTH_CERT_REVOKED', async () => {
      await tlsRequest({port: svc.port, ...givenClient(pki, 'revoked')}, whoami);
      const line = await svc.waitForLog(
        l => l.event === 'tls.connection' && l.code === 'AUTH_CERT_REVOKED' && l.serial === pki.clients.revoked.serialHex,
      );
      assert.equal(line.decision, 'deny');
    });

    it('a client outside the allow-list gets 403 AUTH_IDENTITY_NOT_ALLOWED with no certificate detail', async () => {
      const r = (await tlsRequest({port: svc.port, ...givenClient(pki, 'wrong-san')}, whoami)) as HttpResult;
      assert.equal(r.status, 403);
      assert.deepEqual(Object.keys(r.json as object), ['error']);
      assert.equal((r.json as {error: {code: string}}).error.code, 'AUTH_IDENTITY_NOT_ALLOWED');
      assert.ok(!r.body.includes('evil.test'));
    });

    it('an unknown route answers a coded 404 with the security headers', async () => {
      const r = (await tlsRequest({port: svc.port, ...givenClient(pki, 'valid')}, {target: '/no/such/route'})) as HttpResult;
      assert.equal(r.status, 404);
      assert.equal((r.json as {error: {code: string}}).error.code, 'NOT_FOUND');
      assert.equal(r.headers['cache-control'], 'no-store');
    });
  });

  describe('curl binary', () => {
    async function curl(args: string[]): Promise<{code: number; status: string; body: string}> {
      try {
        const {stdout} = await execFileP('curl', ['-sS', '--max-time', '10', '-o', '-', '-w', '\n%{http_code}', ...args]);
        const i = stdout.lastIndexOf('\n');
        return {code: 0, status: stdout.slice(i + 1), body: stdout.slice(0, i)};
      } catch (e) {
        const err = e as {code: number; stdout: string};
        const out = err.stdout ?? '';
        const i = out.lastIndexOf('\n');
        return {code: err.code, status: out.slice(i + 1), body: out.slice(0, i)};
      }
    }
    const base = () => ['--cacert', pki.caBundle];
    const as = (name: DevClientName) => ['--cert', pki.clients[name].cert, '--key', pki.clients[name].key];
    const url = () => `https://localhost:${svc.port}/whoami`;

    it('valid client: 200 with its identity', async () => {
      const r = await curl([...base(), ...as('valid'), '--resolve', `localhost:${svc.port}:127.0.0.1`, url()]);
      assert.equal(r.status, '200');
      assert.equal(JSON.parse(r.body).serial, pki.clients.valid.serialHex);
    });

    const refused: [string, DevClientName | undefined, string[]][] = [
      ['TLS 1.2 maximum', 'valid', ['--tls-max', '1.2']],
      ['only TLS_AES_128_GCM_SHA256', 'valid', ['--tls13-ciphers', 'TLS_AES_128_GCM_SHA256']],
    ];
    for (const [what, who, extra] of refused) {
      it(`${what}: no HTTP response (http_code 000, curl error)`, async () => {
        const r = await curl([...base(), ...(who ? as(who) : []), ...extra, '--resolve', `localhost:${svc.port}:127.0.0.1`, url()]);
        assert.equal(r.status, '000', `curl got HTTP ${r.status}`);
        assert.notEqual(r.code, 0);
      });
    }
  });

  describe('openssl s_client binary', () => {
    function sClient(args: string[]): string {
      return sClientRun(args).stdout;
    }
    function sClientRun(args: string[]): {stdout: string; stderr: string} {
      const r = spawnSync(
        'openssl',
        ['s_client', '-connect', `127.0.0.1:${svc.port}`, '-servername', 'localhost', '-CAfile', pki.caBundle, '-quiet', ...args],
        {
          input: 'GET /whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
          timeout: 10000,
          encoding: 'utf8',
        },
      );
      if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('openssl binary not found');
      return {stdout: r.stdout ?? '', stderr: r.stderr ?? ''};
    }
    const as = (name: DevClientName) => ['-cert', pki.clients[name].cert, '-key', pki.clients[name].key];

    it('valid client over TLS 1.3: HTTP/1.1 200', () => {
      const out = sClient([...as('valid'), '-tls1_3']);
      assert.match(out, /^HTTP\/1\.1 200/m);
      assert.ok(out.includes(pki.clients.valid.serialHex));
    });
    const refused: [string, DevClientName | undefined, string[]][] = [
      ['TLS 1.2', 'valid', ['-tls1_2']],
      ['only TLS_AES_128_GCM_SHA256', 'valid', ['-tls1_3', '-ciphersuites', 'TLS_AES_128_GCM_SHA256']],
    ];
    it("an RSA-1024 client certificate the client presents at SECLEVEL=0: the server refuses it with the gate's 403 AUTH_KEY_WEAK", () => {
      const r = sClientRun([...as('rsa-1024'), '-tls1_3', '-cipher', 'DEFAULT@SECLEVEL=0']);
      assert.doesNotMatch(r.stderr, /unable to load|key too small/i, 'the client itself loaded and sent the key');
      // The handshake got past the server's certificate; then the gate answered with its reason.
      assert.match(r.stderr, /depth=0 [^\n]*CN = localhost\s+verify return:1/, r.stderr);
      assert.match(r.stdout, /^HTTP\/1\.1 403 /m);
      assert.match(r.stdout, /"code":"AUTH_KEY_WEAK"/);
      assert.match(r.stdout, /^Connection: close\r?$/m);
    });
    for (const [what, who, args] of refused) {
      it(`${what}: no HTTP response`, () => {
        const out = sClient([...(who ? as(who) : []), ...args]);
        assert.doesNotMatch(out, /HTTP\/1\.1/);
      });
    }
  });
});

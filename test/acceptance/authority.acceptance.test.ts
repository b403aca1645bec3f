/**
 * Host, authority and forwarding headers with real clients (curl, Python ssl): SERVER_NAMES
 * defaults to the server certificate's SANs (localhost, 127.0.0.1, ::1 in the test PKI); a
 * request naming anything else gets 421 GUARD_HOST_NOT_ALLOWED; forwarding headers are refused
 * unless the TCP peer is in TRUSTED_PROXIES, and a trusted proxy's values are checked strictly.
 * Each refusal has a benign control.
 */
import assert from 'node:assert/strict';
import {execFile} from 'node:child_process';
import {promisify} from 'node:util';
import {givenMtlsEnv} from '../fixtures/mtls-env';
import {DevPkiManifest, givenTestPki} from '../fixtures/pki';
import {givenPythonClient} from '../fixtures/python-client';
import {givenService, ServiceHandle} from '../fixtures/service';

const execFileP = promisify(execFile);

async function curl(
  pki: DevPkiManifest,
  port: number,
  extra: string[],
  url = `https://localhost:${port}/whoami`,
): Promise<{status: number; code?: string}> {
  const {stdout} = await execFileP('curl', [
    '-sS',
    '--max-time',
    '15',
    '-o',
    '-',
    '-w',
    '\n%{http_code}',
    '--cacert',
    pki.caBundle,
    '--cert',
    pki.clients.valid.cert,
    '--key',
    pki.clients.valid.key,
    '--resolve',
    `localhost:${port}:127.0.0.1`,
    ...extra,
    url,
  ]);
  const i = stdout.lastIndexOf('\n');
  const body = stdout.slice(0, i);
  let code: string | undefined;
  try {
    code = (JSON.parse(body) as {error?: {code?: string}}).error?.code;
  } catch {
    code = undefined;
  }
  return {status: Number(stdout.slice(i + 1)), code};
}

describe('guards: Host / authority and forwarding headers (acceptance)', function () {
  this.timeout(120_000);
  let pki: DevPkiManifest;

  describe('default: SERVER_NAMES from the certificate, no trusted proxy', () => {
    let svc: ServiceHandle;
    before(async () => {
      pki = await givenTestPki();
      svc = await givenService(givenMtlsEnv(pki));
    });
    after(async () => {
      await svc?.stop();
    });

    const cases: [string, string[], number, string | undefined][] = [
      ['control: right Host with port', [], 200, undefined],
      ['control: Host without port', ['-H', 'Host: localhost'], 200, undefined],
      ['control: IPv4 literal Host the certificate names', ['-H', 'Host: 127.0.0.1'], 200, undefined],
      ['control: IPv6 literal Host the certificate names (::1)', ['-H', 'Host: [::1]:8443'], 200, undefined],
      ['Host: 169.254.169.254', ['-H', 'Host: 169.254.169.254'], 421, 'GUARD_HOST_NOT_ALLOWED'],
      ['Host: evil.test', ['-H', 'Host: evil.test'], 421, 'GUARD_HOST_NOT_ALLOWED'],
      ['Host: 2852039166 (decimal metadata)', ['-H', 'Host: 2852039166'], 421, 'GUARD_HOST_NOT_ALLOWED'],
      ['absolute-form target naming metadata', ['--request-target', 'https://169.254.169.254/latest/meta-data/'], 421, 'GUARD_HOST_NOT_ALLOWED'],
      ['X-Forwarded-Host: 169.254.169.254', ['-H', 'X-Forwarded-Host: 169.254.169.254'], 400, 'GUARD_FORWARDED_UNTRUSTED'],
      ['Forwarded: host=169.254.169.254', ['-H', 'Forwarded: host=169.254.169.254'], 400, 'GUARD_FORWARDED_UNTRUSTED'],
      ['Forwarded: for=8.8.8.8 (well-formed, untrusted peer)', ['-H', 'Forwarded: for=8.8.8.8'], 400, 'GUARD_FORWARDED_UNTRUSTED'],
      ['X-Real-IP', ['-H', 'X-Real-IP: 8.8.8.8'], 400, 'GUARD_FORWARDED_UNTRUSTED'],
      ['X-Original-URL', ['-H', 'X-Original-URL: /admin'], 400, 'GUARD_FORWARDED_UNTRUSTED'],
      ['X-Rewrite-URL', ['-H', 'X-Rewrite-URL: /admin'], 400, 'GUARD_FORWARDED_UNTRUSTED'],
    ];
    for (const [what, args, status, code] of cases) {
      it(`curl, ${what}: ${status}${code ? ' ' + code : ''}`, async () => {
        const r = await curl(pki, svc.port, args);
        assert.equal(r.status, status);
        assert.equal(r.code, code);
      });
    }

    it('curl: a TLS SNI that disagrees with Host is refused (421); the matching SNI is the control', async () => {
      // SNI evil.test (curl sends the URL's host), Host localhost; the server certificate does not
      // name evil.test, so verification of the server is off for this one request only.
      const fronted = await curl(
        pki,
        svc.port,
        ['-k', '--resolve', `evil.test:${svc.port}:127.0.0.1`, '-H', `Host: localhost:${svc.port}`],
        `https://evil.test:${svc.port}/whoami`,
      );
      assert.deepEqual(fronted, {status: 421, code: 'GUARD_HOST_NOT_ALLOWED'});
      assert.equal((await curl(pki, svc.port, ['-H', `Host: localhost:${svc.port}`])).status, 200);
    });

    it('Python ssl: Host 169.254.169.254 is 421, Host localhost is 200', async () => {
      for (const [host, status] of [
        ['169.254.169.254', 421],
        ['localhost', 200],
      ] as const) {
        const py = givenPythonClient({port: svc.port, ca: pki.caBundle, cert: pki.clients.valid.cert, key: pki.clients.valid.key, host});
        try {
          const r = await py.request('new');
          assert.equal(r.status, status, JSON.stringify(r));
        } finally {
          py.close();
        }
      }
    });

    it('every refusal is one guard.decision audit line with rule authority, the value never logged', async () => {
      const lines = svc.logs.filter(l => l.event === 'guard.decision' && l.rule === 'authority');
      assert.ok(lines.length >= 10, `got ${lines.length}`);
      assert.ok(!lines.some(l => JSON.stringify(l).includes('169.254.169.254')));
    });
  });

  describe('TRUSTED_PROXIES=127.0.0.1 (the test client is the proxy)', () => {
    let svc: ServiceHandle;
    before(async () => {
      pki = await givenTestPki();
      svc = await givenService(givenMtlsEnv(pki, {TRUSTED_PROXIES: '127.0.0.1'}));
    });
    after(async () => {
      await svc?.stop();
    });

    const cases: [string, string[], number, string | undefined][] = [
      ['control: well-formed Forwarded', ['-H', `Forwarded: for=8.8.8.8;proto=https;host="localhost:${8443}"`], 200, undefined],
      ['control: quoted IPv6 for= with port', ['-H', 'Forwarded: for="[2606:4700::1111]:4711"'], 200, undefined],
      ['control: X-Forwarded-For public list', ['-H', 'X-Forwarded-For: 8.8.8.8, 1.1.1.1'], 200, undefined],
      ['Forwarded: host=169.254.169.254', ['-H', 'Forwarded: host=169.254.169.254'], 403, 'GUARD_FORWARDED_ADDRESS_DENIED'],
      ['Forwarded: for=127.0.0.1', ['-H', 'Forwarded: for=127.0.0.1'], 403, 'GUARD_FORWARDED_ADDRESS_DENIED'],
      ['Forwarded: for="[::1]"', ['-H', 'Forwarded: for="[::1]"'], 403, 'GUARD_FORWARDED_ADDRESS_DENIED'],
      ['Forwarded: by=10.0.0.1', ['-H', 'Forwarded: by=10.0.0.1'], 403, 'GUARD_FORWARDED_ADDRESS_DENIED'],
      ['Forwarded: for=0xa9fea9fe (obfuscated)', ['-H', 'Forwarded: for=0xa9fea9fe'], 400, 'GUARD_FORWARDED_INVALID'],
      ['Forwarded: host=evil.test', ['-H', 'Forwarded: host=evil.test'], 421, 'GUARD_HOST_NOT_ALLOWED'],
      ['X-Forwarded-Host: 169.254.169.254', ['-H', 'X-Forwarded-Host: 169.254.169.254'], 403, 'GUARD_FORWARDED_ADDRESS_DENIED'],
      ['X-Real-IP: 169.254.169.254', ['-H', 'X-Real-IP: 169.254.169.254'], 403, 'GUARD_FORWARDED_ADDRESS_DENIED'],
      ['X-Forwarded-For: 127.1', ['-H', 'X-Forwarded-For: 127.1'], 400, 'GUARD_FORWARDED_INVALID'],
      ['Host: 169.254.169.254 (trust does not widen SERVER_NAMES)', ['-H', 'Host: 169.254.169.254'], 421, 'GUARD_HOST_NOT_ALLOWED'],
    ];
    for (const [what, args, status, code] of cases) {
      it(`curl, ${what}: ${status}${code ? ' ' + code : ''}`, async () => {
        const r = await curl(pki, svc.port, args);
        assert.equal(r.status, status);
        assert.equal(r.code, code);
      });
    }
  });

  describe('SERVER_NAMES set explicitly', () => {
    let svc: ServiceHandle;
    before(async () => {
      pki = await givenTestPki();
      svc = await givenService(givenMtlsEnv(pki, {SERVER_NAMES: 'localhost'}));
    });
    after(async () => {
      await svc?.stop();
    });

    it('only the configured names are served: localhost 200, 127.0.0.1 (a SAN, not configured) 421', async () => {
      assert.equal((await curl(pki, svc.port, [])).status, 200);
      assert.deepEqual(await curl(pki, svc.port, ['-H', 'Host: 127.0.0.1']), {status: 421, code: 'GUARD_HOST_NOT_ALLOWED'});
    });
  });
});

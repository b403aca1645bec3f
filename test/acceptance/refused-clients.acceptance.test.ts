/**
 * Refused client certificates learn why (the connection gate answers them, the nginx way): for
 * every cause, curl, openssl s_client and Python `ssl` each receive the coded answer that
 * docs/errors.md promises, the audit line keeps the exact reason, and no request of a refused
 * client reaches routing or a handler. Plus the TLS edge around it: session-ticket key rotation
 * (Python session reuse), the client's cipher choice and the `modern` profile (openssl s_client).
 */
import assert from 'node:assert/strict';
import {execFile, spawnSync} from 'node:child_process';
import * as fs from 'node:fs';
import path from 'node:path';
import {promisify} from 'node:util';
import {ERROR_CODES, ErrorCode} from '../../src/errors';
import {givenMtlsEnv} from '../fixtures/mtls-env';
import {DevClientName, DevPkiManifest, givenTempDir, givenTestPki} from '../fixtures/pki';
import {givenPythonClient, PythonResult} from '../fixtures/python-client';
import {givenService, LogLine, ServiceHandle} from '../fixtures/service';

const execFileP = promisify(execFile);

interface Cause {
  what: string;
  client: DevClientName | undefined;
  code: ErrorCode;
  /** The audit line's exact reason. */
  reason: string;
  /** The client must lower its own OpenSSL security level to even load the key. */
  weakKey?: boolean;
}

const CAUSES: Cause[] = [
  {what: 'no client certificate', client: undefined, code: 'AUTH_NO_CLIENT_CERT', reason: 'NO_CLIENT_CERT'},
  {what: 'a CA the service does not trust', client: 'untrusted', code: 'AUTH_CERT_UNTRUSTED', reason: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'},
  {what: 'an expired certificate', client: 'expired', code: 'AUTH_CERT_EXPIRED', reason: 'CERT_HAS_EXPIRED'},
  {what: 'a not-yet-valid certificate', client: 'not-yet-valid', code: 'AUTH_CERT_NOT_YET_VALID', reason: 'CERT_NOT_YET_VALID'},
  {what: 'a revoked certificate', client: 'revoked', code: 'AUTH_CERT_REVOKED', reason: 'CERT_REVOKED'},
  {what: 'an RSA-1024 key', client: 'rsa-1024', code: 'AUTH_KEY_WEAK', reason: 'EE_KEY_TOO_SMALL', weakKey: true},
  {what: 'EKU serverAuth only', client: 'server-eku-only', code: 'AUTH_EKU_NOT_CLIENT_AUTH', reason: 'INVALID_PURPOSE'},
  {what: 'no extendedKeyUsage', client: 'no-eku', code: 'AUTH_EKU_NOT_CLIENT_AUTH', reason: 'NO_EXTENDED_KEY_USAGE'},
];

/** openssl s_client -brief: the handshake summary (stderr) and the HTTP answer (stdout). */
function sClientBrief(
  port: number,
  ca: string,
  args: string[],
  input = 'GET /whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
): {summary: string; out: string} {
  const r = spawnSync(
    'openssl',
    ['s_client', '-brief', '-ign_eof', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-CAfile', ca, '-tls1_3', ...args],
    {input, timeout: 15000, encoding: 'utf8'},
  );
  if (r.error) throw r.error;
  return {summary: r.stderr ?? '', out: r.stdout ?? ''};
}

/** Parse an HTTP/1.1 answer as received by a client. */
function parseAnswer(raw: string): {status: number; headers: string; json: {error?: {code?: string; message?: string}}} {
  const i = raw.search(/^HTTP\/1\.1 /m);
  assert.ok(i >= 0, `no HTTP answer in: ${raw.slice(0, 300)}`);
  const text = raw.slice(i);
  const [head, rest] = [text.slice(0, text.indexOf('\r\n\r\n')), text.slice(text.indexOf('\r\n\r\n') + 4)];
  const length = Number(/^Content-Length: (\d+)$/im.exec(head)?.[1]);
  assert.ok(Number.isInteger(length), `no Content-Length in: ${head}`);
  const body = Buffer.from(rest, 'utf8').subarray(0, length).toString('utf8');
  return {status: Number(head.split(' ')[1]), headers: head, json: JSON.parse(body) as {error?: {code?: string}}};
}

function assertCoded(a: {status: number; headers: string; json: {error?: {code?: string}}}, code: ErrorCode): void {
  assert.equal(a.status, ERROR_CODES[code].status);
  assert.equal(a.json.error?.code, code);
  assert.match(a.headers, /^Connection: close$/im);
  assert.match(a.headers, /^Content-Type: application\/json$/im);
  assert.match(a.headers, /^Cache-Control: no-store$/im);
}

describe('refused clients learn why: the connection gate with real clients (acceptance)', function () {
  this.timeout(120_000);
  let pki: DevPkiManifest;
  let svc: ServiceHandle;

  before(async () => {
    pki = await givenTestPki();
    svc = await givenService(givenMtlsEnv(pki));
  });
  after(async () => {
    await svc?.stop();
  });

  let weakConf: string | undefined;
  const weakOpensslConf = (): string => {
    if (!weakConf) {
      weakConf = path.join(givenTempDir('hmtls-ossl-'), 'openssl.cnf');
      fs.writeFileSync(
        weakConf,
        [
          'openssl_conf = default_conf',
          '[default_conf]',
          'ssl_conf = ssl_sect',
          '[ssl_sect]',
          'system_default = system_default_sect',
          '[system_default_sect]',
          'CipherString = DEFAULT@SECLEVEL=0',
          '',
        ].join('\n'),
      );
    }
    return weakConf;
  };

  const curlArgs = (c: Cause) => [
    '-sS',
    '--max-time',
    '15',
    '-i',
    '--cacert',
    pki.caBundle,
    '--resolve',
    `localhost:${svc.port}:127.0.0.1`,
    ...(c.client ? ['--cert', pki.clients[c.client].cert, '--key', pki.clients[c.client].key] : []),
    `https://localhost:${svc.port}/whoami`,
  ];

  function sClient(c: Cause | undefined, args: string[], input = 'GET /whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'): string {
    const r = spawnSync(
      'openssl',
      [
        's_client',
        '-connect',
        `127.0.0.1:${svc.port}`,
        '-servername',
        'localhost',
        '-CAfile',
        pki.caBundle,
        '-quiet',
        '-ign_eof',
        ...(c?.client ? ['-cert', pki.clients[c.client].cert, '-key', pki.clients[c.client].key] : []),
        ...(c?.weakKey ? ['-cipher', 'DEFAULT@SECLEVEL=0'] : []),
        ...args,
      ],
      {input, timeout: 15000, encoding: 'utf8'},
    );
    if (r.error) throw r.error;
    return r.stdout ?? '';
  }

  const denials = (c: Cause): LogLine[] =>
    svc.logs.filter(
      l =>
        l.event === 'tls.connection' &&
        l.code === c.code &&
        l.reason === c.reason &&
        (c.client ? l.serial === pki.clients[c.client].serialHex : l.serial === undefined),
    );

  for (const c of CAUSES) {
    describe(c.what, () => {
      it(`curl receives ${ERROR_CODES[c.code].status} ${c.code}`, async () => {
        // curl loads the key before it applies --ciphers: lower its OpenSSL level by configuration.
        const env = c.weakKey ? {...process.env, OPENSSL_CONF: weakOpensslConf()} : process.env;
        const {stdout} = await execFileP('curl', curlArgs(c), {env});
        assertCoded(parseAnswer(stdout), c.code);
      });

      it(`openssl s_client receives ${ERROR_CODES[c.code].status} ${c.code}, then close_notify`, () => {
        const out = sClient(c, ['-tls1_3']);
        assertCoded(parseAnswer(out), c.code);
        // -msg: the server ends the TLS stream cleanly (close_notify), no reset.
        const traced = sClient(c, ['-tls1_3', '-msg']);
        assertCoded(parseAnswer(traced), c.code);
        assert.match(traced, /<<< TLS 1\.3, Alert \[length 0002\], warning close_notify/);
      });

      it(`Python ssl receives ${ERROR_CODES[c.code].status} ${c.code}`, async () => {
        const py = givenPythonClient({
          port: svc.port,
          ca: pki.caBundle,
          servername: 'localhost',
          ...(c.client ? {cert: pki.clients[c.client].cert, key: pki.clients[c.client].key} : {}),
          ...(c.weakKey ? {ciphers: 'DEFAULT@SECLEVEL=0'} : {}),
        });
        try {
          const r: PythonResult = await py.request('new');
          assert.equal(r.error, undefined, r.error);
          assert.equal(r.status, ERROR_CODES[c.code].status, JSON.stringify(r));
          assert.equal((JSON.parse(r.body!) as {error: {code: string}}).error.code, c.code);
          // A resumed session of the refused client is judged again and refused the same way.
          const again = await py.request('reuse');
          assert.equal(again.status, ERROR_CODES[c.code].status, JSON.stringify(again));
          assert.equal((JSON.parse(again.body!) as {error: {code: string}}).error.code, c.code);
        } finally {
          py.close();
        }
      });

      it('one audit line per refusal keeps the exact reason, the RFC 4514 subject, and nothing reached routing', async () => {
        await svc.waitForLog(() => denials(c).length >= 4, 20000).catch(() => undefined);
        const lines = denials(c);
        assert.ok(lines.length >= 4, `expected 4 audit lines (curl, s_client, python x2), got ${lines.length}`);
        for (const l of lines) {
          assert.equal(l.decision, 'deny');
          assert.equal(l.remote, '127.0.0.1');
          if (c.client) assert.equal(l.subject, `CN=${c.client},O=Hardened mTLS Dev`);
        }
        // Never routed: no authentication decision, guard decision or request log for this client.
        if (c.client) {
          const serial = pki.clients[c.client].serialHex;
          const routed = svc.logs.filter(l => l.event !== 'tls.connection' && JSON.stringify(l).includes(serial));
          assert.deepEqual(routed, []);
        }
      });
    });
  }

  it('a client that sends nothing is still answered, after the read bound', () => {
    const out = sClient(CAUSES[2], ['-tls1_3'], '');
    assertCoded(parseAnswer(out), 'AUTH_CERT_EXPIRED');
  });

  it('a bare TCP connect is logged with a coded reason, not ECONNRESET', async () => {
    const net = await import('node:net');
    const s = net.connect(svc.port, '127.0.0.1');
    await new Promise(r => s.once('connect', r));
    s.destroy();
    const line = await svc.waitForLog(l => l.event === 'tls.connection' && l.code === 'TLS_HANDSHAKE_FAILED');
    assert.equal(line.reason, 'HANDSHAKE_ABANDONED');
    assert.equal(line.tlsError, 'ECONNRESET');
  });

  it('control: a valid client through the same gate gets 200 (curl, s_client, Python)', async () => {
    const valid: Cause = {what: 'valid', client: 'valid', code: 'AUTH_NO_CLIENT_CERT', reason: ''};
    const {stdout} = await execFileP('curl', curlArgs(valid));
    assert.match(stdout, /^HTTP\/1\.1 200/);
    assert.match(sClient(valid, ['-tls1_3']), /^HTTP\/1\.1 200/m);
    const py = givenPythonClient({port: svc.port, ca: pki.caBundle, cert: pki.clients.valid.cert, key: pki.clients.valid.key});
    try {
      assert.equal((await py.request('new')).status, 200);
    } finally {
      py.close();
    }
  });

  describe('cipher choice', () => {
    it('honorCipherOrder is off: a client preferring ChaCha20 gets it (default profile)', () => {
      const valid = ['-cert', pki.clients.valid.cert, '-key', pki.clients.valid.key];
      const chacha = sClientBrief(svc.port, pki.caBundle, ['-ciphersuites', 'TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384', ...valid]);
      assert.match(chacha.summary, /Ciphersuite: TLS_CHACHA20_POLY1305_SHA256/);
      assert.match(chacha.out, /^HTTP\/1\.1 200/);
      // And the other order: the client's first choice again.
      const aes = sClientBrief(svc.port, pki.caBundle, ['-ciphersuites', 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256', ...valid]);
      assert.match(aes.summary, /Ciphersuite: TLS_AES_256_GCM_SHA384/);
    });

    it('the default profile refuses a client offering only TLS_AES_128_GCM_SHA256 in the handshake', () => {
      const r = sClientBrief(svc.port, pki.caBundle, [
        '-ciphersuites',
        'TLS_AES_128_GCM_SHA256',
        '-cert',
        pki.clients.valid.cert,
        '-key',
        pki.clients.valid.key,
      ]);
      assert.doesNotMatch(r.summary, /Ciphersuite:/);
      assert.match(r.summary, /handshake failure|alert/i);
      assert.equal(r.out, '');
    });
  });
});

describe('the modern cipher profile and session-ticket rotation (acceptance)', function () {
  this.timeout(120_000);
  let pki: DevPkiManifest;
  let svc: ServiceHandle;
  const ROTATION_S = 4;

  before(async () => {
    pki = await givenTestPki();
    svc = await givenService(givenMtlsEnv(pki, {TLS_CIPHER_PROFILE: 'modern', TLS_TICKET_KEY_ROTATION_S: String(ROTATION_S)}));
  });
  after(async () => {
    await svc?.stop();
  });

  it('modern: a client offering only TLS_AES_128_GCM_SHA256 negotiates it and is served', () => {
    const r = sClientBrief(svc.port, pki.caBundle, [
      '-ciphersuites',
      'TLS_AES_128_GCM_SHA256',
      '-cert',
      pki.clients.valid.cert,
      '-key',
      pki.clients.valid.key,
    ]);
    assert.match(r.summary, /Ciphersuite: TLS_AES_128_GCM_SHA256/);
    assert.match(r.out, /^HTTP\/1\.1 200/);
  });

  const rotations = () => svc.logs.filter(l => l.event === 'tls.ticket-keys.rotated' && l.reason === 'timer').length;
  const waitForRotation = (after: number) => svc.waitForLog(() => rotations() > after, ROTATION_S * 1000 * 4);

  it('a ticket is accepted before a rotation (control) and refused after it (Python session reuse)', async () => {
    // Start right after a rotation, so the control runs well inside one rotation period.
    await waitForRotation(rotations());
    const py = givenPythonClient({port: svc.port, ca: pki.caBundle, cert: pki.clients.valid.cert, key: pki.clients.valid.key});
    try {
      const first = await py.request('new');
      assert.equal(first.status, 200, JSON.stringify(first));
      assert.equal(first.reused, false);
      const before = rotations();
      const control = await py.request('reuse');
      assert.equal(control.status, 200);
      assert.ok(rotations() === before, 'a rotation happened during the control; the machine is too slow for this bound');
      assert.equal(control.reused, true, 'without a rotation the ticket must be accepted');
      await waitForRotation(before);
      const after = await py.request('reuse');
      assert.equal(after.status, 200, JSON.stringify(after));
      assert.equal(after.reused, false, 'a ticket issued before the rotation must not be accepted after it');
    } finally {
      py.close();
    }
  });
});

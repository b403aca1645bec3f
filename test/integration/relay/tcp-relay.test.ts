/**
 * The TCP relay (src/relay/tcp-relay.ts) on loopback:
 *   - in front of the real service (dev PKI made at test time): a real mTLS client (curl with a
 *     client certificate) through the relay gets 200 with its own identity, and openssl s_client
 *     through the relay sees the service's own certificate (TLS passes through, never terminated);
 *     without a client certificate: no 200;
 *   - bounds: the connection cap closes the connection over the limit (RELAY_CONNECTION_LIMIT
 *     audit line), an idle connection is closed (idle-timeout), an unreachable target closes the
 *     client (RELAY_TARGET_UNREACHABLE); half-close is passed on;
 *   - the process: a bad value exits 78 before listening; --health reads the listening socket;
 *     SIGTERM stops it with exit 0.
 */
import assert from 'node:assert/strict';
import {ChildProcess, spawn, spawnSync} from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {Writable} from 'node:stream';
import {createLogger} from '../../../src/logging/logger';
import {parseRelayConfig} from '../../../src/relay/relay-config';
import {listeningPorts, RunningRelay, startRelay} from '../../../src/relay/tcp-relay';
import {givenMtlsEnv} from '../../fixtures/mtls-env';
import {DevPkiManifest, givenTestPki} from '../../fixtures/pki';
import {givenService, ServiceHandle} from '../../fixtures/service';

const RELAY_JS = path.resolve(__dirname, '..', '..', '..', 'src', 'relay', 'tcp-relay.js');

function capture(): {lines: Record<string, unknown>[]; stream: Writable} {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return {lines, stream};
}

async function waitUntil(what: string, fn: () => boolean, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!fn()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 50));
  }
}

/** Connects; resolves with what the server sent and whether it closed on us. */
function connectAndRead(port: number, send?: string): Promise<{data: string; closed: boolean; error?: string}> {
  return new Promise(resolve => {
    let data = '';
    const s = net.connect({host: '127.0.0.1', port, allowHalfOpen: true});
    s.setEncoding('utf8').on('data', (d: string) => (data += d));
    s.on('connect', () => {
      if (send !== undefined) s.end(send);
    });
    s.setTimeout(15_000, () => {
      s.destroy();
      resolve({data, closed: false});
    });
    s.on('error', e => resolve({data, closed: true, error: (e as NodeJS.ErrnoException).code}));
    // the far side closed its half: enough (allowHalfOpen keeps our half open otherwise)
    s.on('end', () => {
      s.destroy();
      resolve({data, closed: true});
    });
    s.on('close', () => resolve({data, closed: true}));
  });
}

/** curl/openssl without blocking the event loop (the relay under test runs in this process). */
function run(cmd: string, args: string[], input?: string): Promise<{status: number | null; stdout: string; stderr: string}> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, {stdio: ['pipe', 'pipe', 'pipe']});
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => c.kill('SIGKILL'), 30_000);
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    c.on('error', reject);
    c.on('close', status => {
      clearTimeout(timer);
      resolve({status, stdout, stderr});
    });
    c.stdin.end(input ?? '');
  });
}

describe('relay: bounded TCP relay, TLS passthrough (integration)', function () {
  this.timeout(120_000);

  describe('in front of the real service', () => {
    let pki: DevPkiManifest;
    let service: ServiceHandle;
    let relay: RunningRelay;
    const log = capture();

    before(async () => {
      pki = await givenTestPki();
      service = await givenService(givenMtlsEnv(pki));
      relay = await startRelay(
        parseRelayConfig({RELAY_LISTEN: '127.0.0.1:0', RELAY_TARGET: `127.0.0.1:${service.port}`}),
        createLogger({destination: log.stream, name: 'tcp-relay'}),
      );
    });
    after(async () => {
      await relay?.stop();
      await service?.stop();
    });

    it('a real mTLS client (curl) through the relay gets 200 with its own identity; the service verified the certificate', async () => {
      const port = relay.address.port;
      const r = await run('curl', [
        '--silent',
        '--show-error',
        '--max-time',
        '20',
        '--tlsv1.3',
        '--resolve',
        `localhost:${port}:127.0.0.1`,
        '--cacert',
        pki.caBundle,
        '--cert',
        pki.clients.valid.cert,
        '--key',
        pki.clients.valid.key,
        '--write-out',
        '\n%{http_code}',
        `https://localhost:${port}/whoami`,
      ]);
      assert.equal(r.status, 0, r.stderr);
      const i = r.stdout.lastIndexOf('\n');
      assert.equal(r.stdout.slice(i + 1), '200', r.stdout);
      const who = JSON.parse(r.stdout.slice(0, i)) as {fingerprint256: string};
      assert.equal(who.fingerprint256, new crypto.X509Certificate(fs.readFileSync(pki.clients.valid.cert)).fingerprint256);
      const audit = service.logs.find(l => l.event === 'auth.decision' && l.fingerprint === who.fingerprint256);
      assert.equal(audit?.decision, 'allow');
      assert.equal(audit?.remoteAddress, '127.0.0.1');
    });

    it("oracle: openssl s_client through the relay sees the service's own certificate (not terminated)", async () => {
      const r = await run(
        'openssl',
        [
          's_client',
          '-connect',
          `127.0.0.1:${relay.address.port}`,
          '-servername',
          'localhost',
          '-CAfile',
          pki.caBundle,
          '-tls1_3',
          '-verify_return_error',
        ],
        'Q\n',
      );
      const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout);
      assert.ok(m, r.stdout + r.stderr);
      const seen = new crypto.X509Certificate(m![0]).fingerprint256;
      assert.equal(seen, new crypto.X509Certificate(fs.readFileSync(pki.server.cert)).fingerprint256);
      assert.match(r.stdout, /Verify return code: 0 \(ok\)/);
    });

    it('without a client certificate: no 200 through the relay', async () => {
      const port = relay.address.port;
      const r = await run('curl', [
        '--silent',
        '--max-time',
        '20',
        '--resolve',
        `localhost:${port}:127.0.0.1`,
        '--cacert',
        pki.caBundle,
        '--write-out',
        '\n%{http_code}',
        `https://localhost:${port}/whoami`,
      ]);
      const status = r.stdout.slice(r.stdout.lastIndexOf('\n') + 1);
      assert.notEqual(status, '200');
    });

    it('writes one relay.connection audit line per connection: allow, peer, fixed target, bytes both ways', async () => {
      await waitUntil('relay.connection lines', () => log.lines.filter(l => l.event === 'relay.connection').length >= 3);
      const lines = log.lines.filter(l => l.event === 'relay.connection');
      for (const l of lines) {
        assert.equal(l.audit, true);
        assert.equal(l.decision, 'allow');
        assert.equal(l.target, `127.0.0.1:${service.port}`);
        assert.equal(l.peerAddress, '127.0.0.1');
        assert.ok(Number(l.bytesIn) > 0 && Number(l.bytesOut) > 0, JSON.stringify(l));
      }
    });
  });

  describe('bounds', () => {
    let echo: net.Server;
    let echoPort = 0;
    const held: net.Socket[] = [];

    before(async () => {
      // a plain TCP target: echoes, ends when the client ends (half-close test), holds otherwise
      echo = net.createServer({allowHalfOpen: true}, s => {
        held.push(s);
        let got = '';
        s.setEncoding('utf8').on('data', (d: string) => (got += d));
        s.on('end', () => s.end(`echo:${got}`));
        s.on('error', () => undefined);
      });
      await new Promise<void>(r => echo.listen(0, '127.0.0.1', r));
      echoPort = (echo.address() as net.AddressInfo).port;
    });
    after(async () => {
      for (const s of held) s.destroy();
      await new Promise(r => echo.close(r));
    });

    const givenRelay = async (extra: Record<string, string>, target = `127.0.0.1:${echoPort}`) => {
      const log = capture();
      const relay = await startRelay(
        parseRelayConfig({RELAY_LISTEN: '127.0.0.1:0', RELAY_TARGET: target, ...extra}),
        createLogger({destination: log.stream, name: 'tcp-relay'}),
      );
      return {relay, log};
    };

    it('passes a half-close on: the client ends its side, still receives the answer', async () => {
      const {relay} = await givenRelay({});
      const r = await connectAndRead(relay.address.port, 'ping');
      assert.equal(r.data, 'echo:ping');
      await relay.stop();
    });

    it('the connection over RELAY_MAX_CONNECTIONS is closed at accept (RELAY_CONNECTION_LIMIT), the others stay', async () => {
      const {relay, log} = await givenRelay({RELAY_MAX_CONNECTIONS: '2'});
      const open: net.Socket[] = [];
      for (let i = 0; i < 2; i++) {
        const s = net.connect({host: '127.0.0.1', port: relay.address.port});
        s.on('error', () => undefined);
        open.push(s);
      }
      await waitUntil('two relayed connections', () => relay.active() === 2);
      const third = await connectAndRead(relay.address.port);
      assert.equal(third.closed, true);
      assert.equal(third.data, '');
      await waitUntil('the refusal line', () => log.lines.some(l => l.code === 'RELAY_CONNECTION_LIMIT'));
      const refusal = log.lines.find(l => l.code === 'RELAY_CONNECTION_LIMIT')!;
      assert.equal(refusal.decision, 'deny');
      assert.equal(refusal.limit, 2);
      assert.equal(relay.active(), 2);
      for (const s of open) s.destroy();
      await waitUntil('the relayed connections closed', () => relay.active() === 0);
      await relay.stop();
    });

    it('an idle connection is closed (idle-timeout)', async () => {
      const {relay, log} = await givenRelay({RELAY_IDLE_TIMEOUT_MS: '1000'});
      const r = await connectAndRead(relay.address.port);
      assert.equal(r.closed, true);
      await waitUntil('the idle line', () => log.lines.some(l => l.event === 'relay.connection' && l.reason === 'idle-timeout'));
      await relay.stop();
    });

    it('an unreachable target closes the client (RELAY_TARGET_UNREACHABLE)', async () => {
      const closed = net.createServer();
      await new Promise<void>(r => closed.listen(0, '127.0.0.1', r));
      const port = (closed.address() as net.AddressInfo).port;
      await new Promise(r => closed.close(r));
      const {relay, log} = await givenRelay({}, `127.0.0.1:${port}`);
      const r = await connectAndRead(relay.address.port);
      assert.equal(r.closed, true);
      await waitUntil('the refusal line', () => log.lines.some(l => l.code === 'RELAY_TARGET_UNREACHABLE'));
      const l = log.lines.find(x => x.code === 'RELAY_TARGET_UNREACHABLE')!;
      assert.equal(l.decision, 'deny');
      assert.equal(l.error, 'ECONNREFUSED');
      await relay.stop();
    });
  });

  describe('the process', () => {
    let child: ChildProcess | undefined;
    afterEach(() => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      child = undefined;
    });

    it('a bad value exits 78 before listening, with a coded fatal line', () => {
      const r = spawnSync(process.execPath, [RELAY_JS], {
        env: {PATH: process.env.PATH, RELAY_LISTEN: '127.0.0.1:0', RELAY_TARGET: 'x:1', RELAY_MAX_CONNECTIONS: 'many'},
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.status, 78, r.stdout + r.stderr);
      const fatal = JSON.parse(r.stdout.trim().split('\n').pop()!) as {code: string; level: string};
      assert.equal(fatal.code, 'CONFIG_INVALID');
      assert.equal(fatal.level, 'fatal');
      assert.doesNotMatch(r.stdout, /relay\.listening/);
    });

    it('listens, --health sees the listening socket (and not a closed port), SIGTERM exits 0', async () => {
      const c = spawn(process.execPath, [RELAY_JS], {
        env: {PATH: process.env.PATH, RELAY_LISTEN: '127.0.0.1:0', RELAY_TARGET: '127.0.0.1:9'},
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = c;
      let out = '';
      c.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      await waitUntil('relay.listening', () => /"event":"relay\.listening"/.test(out));
      const port = Number(/"listen":"127\.0\.0\.1:(\d+)"/.exec(out)![1]);
      assert.ok(listeningPorts().has(port));
      const health = spawnSync(process.execPath, [RELAY_JS, '--health'], {
        env: {PATH: process.env.PATH, RELAY_LISTEN: `127.0.0.1:${port}`, RELAY_TARGET: '127.0.0.1:9'},
        timeout: 30_000,
      });
      assert.equal(health.status, 0);
      const exited = new Promise<number | null>(r => c.on('exit', code => r(code)));
      c.kill('SIGTERM');
      assert.equal(await exited, 0);
      const down = spawnSync(process.execPath, [RELAY_JS, '--health'], {
        env: {PATH: process.env.PATH, RELAY_LISTEN: `127.0.0.1:${port}`, RELAY_TARGET: '127.0.0.1:9'},
        timeout: 30_000,
      });
      assert.equal(down.status, 1);
      assert.match(out, /"event":"shutdown\.complete"/);
    });
  });
});

/**
 * The README's first command in miniature: with no TLS files configured, the service makes a
 * dev PKI, warns about it, prints its URL and a curl line, and that exact curl line returns
 * the caller's identity. A second start reuses the PKI.
 */
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import {existsSync, statSync} from 'node:fs';
import path from 'node:path';
import {givenTempDir} from '../fixtures/pki';
import {baseEnv, givenService, PROJECT_ROOT} from '../fixtures/service';

/** Split the printed curl line into argv (it only uses plain words and single quotes). */
function argv(line: string): string[] {
  return [...line.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map(m => (m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]));
}

describe('start-up: npm start with a generated dev PKI (acceptance)', function () {
  this.timeout(90000);

  it('generates certs once, prints a curl line that returns the identity, reuses them next time', async () => {
    const dir = path.join(givenTempDir('hmtls-dev-'), 'dev');
    const env = baseEnv({DEV_PKI_DIR: dir, NODE_ENV: undefined});
    const svc = await givenService(env);
    try {
      const warn = await svc.waitForLog(l => l.level === 'warn' && typeof l.msg === 'string' && /DEVELOPMENT PKI/.test(l.msg));
      assert.equal(warn.generated, true);
      assert.equal(statSync(path.join(dir, 'clients', 'valid.key')).mode & 0o777, 0o600);
      const curlLine = svc.stdout.map(l => l.trim()).find(l => l.startsWith('curl '));
      assert.ok(curlLine, `no curl line in:\n${svc.stdout.join('\n')}`);
      assert.ok(svc.stdout.some(l => l.includes(`listening on ${svc.url}`)));
      const [cmd, ...args] = argv(curlLine);
      const out = execFileSync(cmd, ['-sS', '--max-time', '10', ...args], {cwd: PROJECT_ROOT, encoding: 'utf8'});
      const id = JSON.parse(out) as {sans: {uri: string[]}};
      assert.deepEqual(id.sans.uri, ['spiffe://hardened-mtls.test/client/valid']);
    } finally {
      await svc.stop();
    }
    const again = await givenService(env);
    try {
      const warn = await again.waitForLog(l => l.level === 'warn' && typeof l.msg === 'string' && /DEVELOPMENT PKI/.test(l.msg));
      assert.equal(warn.generated, false);
      assert.ok(existsSync(path.join(dir, 'manifest.json')));
    } finally {
      await again.stop();
    }
  });

  it('SIGTERM: graceful shutdown with exit code 0', async () => {
    const dir = path.join(givenTempDir('hmtls-dev-'), 'dev');
    const svc = await givenService(baseEnv({DEV_PKI_DIR: dir}));
    assert.equal(await svc.stop('SIGTERM'), 0);
    assert.ok(svc.logs.some(l => l.event === 'shutdown.complete'));
  });
});

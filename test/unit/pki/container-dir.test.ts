/**
 * `npm run pki -- --container-dir DIR`: a directory ready to mount for the image's uid/gid 10001
 * (defect: root-owned 0600 keys made the container exit TLS_MATERIAL_UNREADABLE). Checked with
 * real reads as other users (setpriv): uid/gid 10001 reads the key through its group, another
 * unprivileged user does not; non-root callers are refused rather than given world-readable keys.
 */
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {parsePkiArgs, writeContainerPki} from '../../../src/pki/cli';
import {generateDevPki, givenTempDir} from '../../fixtures/pki';

const CLI = path.resolve(__dirname, '..', '..', '..', 'src', 'pki', 'cli.js');

function readAs(uid: number, gid: number, file: string): number | null {
  return spawnSync('setpriv', ['--reuid', String(uid), '--regid', String(gid), '--clear-groups', '--', 'cat', file], {
    stdio: 'ignore',
    timeout: 30_000,
  }).status;
}

describe('pki: cli --container-dir, keys readable by the container user only (unit)', function () {
  this.timeout(120_000);

  it('parses --container-dir and --container-gid', () => {
    assert.deepEqual(
      {...parsePkiArgs(['--container-dir', 'c', '--container-gid=2000'])},
      {dir: 'certs/dev', force: false, help: false, containerDir: 'c', containerGid: 2000},
    );
    assert.equal(parsePkiArgs([]).containerGid, undefined, 'defaults to 10001 when writing');
    assert.throws(() => parsePkiArgs(['--container-gid', 'x']), /numeric gid/);
    assert.throws(() => parsePkiArgs(['--container-dir']), /needs a value/);
  });

  it('writes TLS_DIR and HEALTH_CLIENT_DIR: root:10001, keys 0440, certificates 0444, dirs 0750; 10001 reads, others do not', async () => {
    assert.equal(process.getuid?.(), 0, 'this test runs as root (the CI does)');
    const base = givenTempDir('pki-container-');
    fs.chmodSync(base, 0o755);
    const m = await generateDevPki({dir: path.join(base, 'dev')});
    const out = path.join(base, 'container');
    const l = writeContainerPki(m, out, 10001);
    assert.equal(l.healthSubject, `uri:${m.clients.valid.uri}`);
    const expect: [string, number][] = [
      ['tls/server.crt', 0o444],
      ['tls/server.key', 0o440],
      ['tls/ca-bundle.crt', 0o444],
      ['tls/root.crl.pem', 0o444],
      ['tls/intermediate.crl.pem', 0o444],
      ['health/client.crt', 0o444],
      ['health/client.key', 0o440],
    ];
    for (const [rel, mode] of expect) {
      const st = fs.statSync(path.join(out, rel));
      assert.equal(st.mode & 0o777, mode, rel);
      assert.equal(st.uid, 0, rel);
      assert.equal(st.gid, 10001, rel);
    }
    for (const d of ['tls', 'health']) assert.equal(fs.statSync(path.join(out, d)).mode & 0o777, 0o750, d);
    assert.equal(fs.readFileSync(path.join(out, 'tls/server.key'), 'utf8'), fs.readFileSync(m.server.key, 'utf8'));
    assert.equal(fs.readFileSync(path.join(out, 'health/client.key'), 'utf8'), fs.readFileSync(m.clients.valid.key, 'utf8'));
    // the oracle: real reads as the container user and as a stranger
    assert.equal(readAs(10001, 10001, path.join(out, 'tls/server.key')), 0, 'uid/gid 10001 reads the server key');
    assert.equal(readAs(10001, 10001, path.join(out, 'health/client.key')), 0, 'uid/gid 10001 reads the health key');
    assert.notEqual(readAs(10002, 10002, path.join(out, 'tls/server.key')), 0, 'another user does not');
    // idempotent: a second run replaces the files in place
    writeContainerPki(m, out, 10001);
    assert.equal(fs.statSync(path.join(out, 'tls/server.key')).mode & 0o777, 0o440);
  });

  it('refuses (exit 1, says why) when not run as root, writing no key', () => {
    const base = givenTempDir('pki-container-nonroot-');
    fs.chmodSync(base, 0o777);
    const r = spawnSync(
      'setpriv',
      [
        '--reuid',
        '10001',
        '--regid',
        '10001',
        '--clear-groups',
        '--',
        process.execPath,
        CLI,
        '--dir',
        path.join(base, 'dev'),
        '--container-dir',
        path.join(base, 'container'),
      ],
      {encoding: 'utf8', timeout: 120_000},
    );
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /needs root.*refusing to write world-readable keys/);
    assert.equal(fs.existsSync(path.join(base, 'container', 'tls', 'server.key')), false);
  });
});

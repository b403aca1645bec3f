/**
 * ensureDevPki(): reuse, regeneration triggers and CRL re-signing; the CLI end to end.
 */
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {parsePkiArgs} from '../../../src/pki/cli';
import {DevPkiManifest, ensureDevPki, generateDevPki, givenTempDir, readDevPkiManifest} from '../../fixtures/pki';
import {openssl, opensslOk} from '../../fixtures/openssl';
import {certText, extensionBlock} from './openssl-helper';

const DAY = 86400_000;

function fingerprints(m: DevPkiManifest): string[] {
  return [m.rootCa, m.intermediateCa, m.server, m.ocspResponder, ...Object.values(m.clients)].map(c => c.fingerprint256);
}

function crlInfo(file: string): {thisUpdate: number; serials: string[]; number: string} {
  const t = opensslOk(['crl', '-in', file, '-noout', '-text', '-lastupdate']);
  return {
    thisUpdate: Date.parse(/lastUpdate=(.*)/.exec(t)![1]),
    serials: [...t.matchAll(/Serial Number: ([0-9A-F]+)/g)].map(x => x[1]),
    number: /X509v3 CRL Number:\s+(\S+)/.exec(t)![1],
  };
}

describe('pki: ensureDevPki (unit)', function () {
  describe('reuse and regeneration', () => {
    let dir: string;
    let first: DevPkiManifest;

    before(async () => {
      dir = path.join(givenTempDir('hmtls-ensure-'), 'certs', 'dev');
      const r = await ensureDevPki({dir});
      assert.equal(r.generated, true);
      first = r.manifest;
    });

    it('reuses a sound directory (same fingerprints, generated=false)', async () => {
      const r = await ensureDevPki({dir});
      assert.equal(r.generated, false);
      assert.deepEqual(fingerprints(r.manifest), fingerprints(first));
      assert.deepEqual(r.manifest, readDevPkiManifest(dir));
    });

    it('regenerates when manifest.json is deleted', async () => {
      fs.rmSync(path.join(dir, 'manifest.json'));
      const r = await ensureDevPki({dir});
      assert.equal(r.generated, true);
      assert.notDeepEqual(fingerprints(r.manifest), fingerprints(first));
      first = r.manifest;
    });

    it('regenerates when manifest.json is truncated (half-written directory)', async () => {
      const f = path.join(dir, 'manifest.json');
      fs.writeFileSync(f, fs.readFileSync(f, 'utf8').slice(0, 100));
      const r = await ensureDevPki({dir});
      assert.equal(r.generated, true);
      first = r.manifest;
    });

    it('regenerates when a listed file is missing', async () => {
      fs.rmSync(first.clients.valid.key);
      const r = await ensureDevPki({dir});
      assert.equal(r.generated, true);
      assert.ok(fs.existsSync(r.manifest.clients.valid.key));
      first = r.manifest;
    });

    it('regenerates when a certificate on disk no longer matches the manifest', async () => {
      fs.copyFileSync(first.clients.valid2.cert, first.clients.valid.cert);
      const r = await ensureDevPki({dir});
      assert.equal(r.generated, true);
      first = r.manifest;
    });

    it('regenerates when the OCSP/CRL URLs change, and puts them into the certificates', async () => {
      const r = await ensureDevPki({dir, ocspUrl: 'http://127.0.0.1:8888/ocsp', crlUrl: 'http://127.0.0.1:8888/int.crl'});
      assert.equal(r.generated, true);
      const t = certText(r.manifest.clients.valid.cert);
      assert.equal(extensionBlock(t, 'Authority Information Access'), 'Authority Information Access:\nOCSP - URI:http://127.0.0.1:8888/ocsp');
      assert.match(extensionBlock(t, 'X509v3 CRL Distribution Points') ?? '', /URI:http:\/\/127\.0\.0\.1:8888\/int\.crl/);
      const again = await ensureDevPki({dir, ocspUrl: 'http://127.0.0.1:8888/ocsp', crlUrl: 'http://127.0.0.1:8888/int.crl'});
      assert.equal(again.generated, false);
    });
  });

  it('regenerates when the server certificate expires within 7 days', async () => {
    const dir = givenTempDir('hmtls-expiring-');
    // Generated "362 days ago": the 1-year server certificate has 3 days left.
    const old = await generateDevPki({dir, now: new Date(Date.now() - 362 * DAY)});
    const r = await ensureDevPki({dir});
    assert.equal(r.generated, true);
    assert.notEqual(r.manifest.server.fingerprint256, old.server.fingerprint256);
    assert.ok(Date.parse(r.manifest.server.notAfter) - Date.now() > 300 * DAY);
  });

  it('re-signs both CRLs within 1 day of nextUpdate: same entries, new dates, crlNumber + 1, certs kept', async () => {
    const dir = givenTempDir('hmtls-crl-resign-');
    // Generated 29.5 days ago: the 30-day CRLs have 12 hours left; the certificates are fine.
    const old = await generateDevPki({dir, now: new Date(Date.now() - 29.5 * DAY)});
    const before = crlInfo(old.crls.intermediate);
    const r = await ensureDevPki({dir});
    assert.equal(r.generated, false);
    assert.deepEqual(fingerprints(r.manifest), fingerprints(old));
    for (const [crl, ca] of [
      [old.crls.root, old.rootCa.cert],
      [old.crls.intermediate, old.intermediateCa.cert],
    ]) {
      const v = openssl(['crl', '-in', crl, '-noout', '-verify', '-CAfile', ca]);
      assert.equal(v.status, 0, v.output);
      const nextUpdate = Date.parse(opensslOk(['crl', '-in', crl, '-noout', '-nextupdate']).split('=')[1]);
      assert.ok(nextUpdate - Date.now() > 29 * DAY, crl);
    }
    const after = crlInfo(old.crls.intermediate);
    assert.deepEqual(after.serials, [old.clients.revoked.serialHex]);
    assert.deepEqual(before.serials, after.serials);
    assert.ok(after.thisUpdate > before.thisUpdate);
    assert.equal(before.number, '1');
    assert.equal(after.number, '2');
    assert.match(opensslOk(['crl', '-in', old.crls.intermediate, '-noout', '-text']), /Key Compromise/);
  });
});

describe('pki CLI', function () {
  const cli = path.resolve(__dirname, '../../../src/pki/cli.js');

  it('parsePkiArgs: defaults, flags and inline values', () => {
    assert.deepEqual(parsePkiArgs([]), {dir: 'certs/dev', force: false, help: false});
    assert.deepEqual(parsePkiArgs(['--dir', 'x', '--force', '--ocsp-url=http://127.0.0.1:1/o', '--crl-url', 'https://127.0.0.1/c']), {
      dir: 'x',
      force: true,
      help: false,
      ocspUrl: 'http://127.0.0.1:1/o',
      crlUrl: 'https://127.0.0.1/c',
    });
  });

  for (const bad of [['--bogus'], ['--dir'], ['--ocsp-url', 'file:///etc/passwd'], ['--crl-url', 'not a url'], ['--dir', '--force']]) {
    it(`parsePkiArgs rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parsePkiArgs(bad));
    });
  }

  it('generates, then reuses, then --force regenerates; exit 0 and prints the files', () => {
    const dir = path.join(givenTempDir('hmtls-cli-'), 'dev');
    const run = (...args: string[]): ReturnType<typeof spawnSync> => spawnSync(process.execPath, [cli, '--dir', dir, ...args], {encoding: 'utf8'});
    const a = run();
    assert.equal(a.status, 0, String(a.stderr));
    assert.match(String(a.stdout), /^generated dev PKI/);
    assert.match(String(a.stdout), /clients\/revoked\.crt/);
    const fp1 = readDevPkiManifest(dir).server.fingerprint256;
    const b = run();
    assert.equal(b.status, 0, String(b.stderr));
    assert.match(String(b.stdout), /^reused dev PKI/);
    assert.equal(readDevPkiManifest(dir).server.fingerprint256, fp1);
    const c = run('--force');
    assert.equal(c.status, 0, String(c.stderr));
    assert.match(String(c.stdout), /^generated dev PKI/);
    assert.notEqual(readDevPkiManifest(dir).server.fingerprint256, fp1);
  });

  it('exits 1 on a bad argument and on an unwritable directory', () => {
    const bad = spawnSync(process.execPath, [cli, '--nope'], {encoding: 'utf8'});
    assert.equal(bad.status, 1);
    const file = path.join(givenTempDir('hmtls-cli-bad-'), 'file');
    fs.writeFileSync(file, 'x');
    const r = spawnSync(process.execPath, [cli, '--dir', path.join(file, 'sub')], {encoding: 'utf8'});
    assert.equal(r.status, 1);
    assert.equal(String(r.stdout), '');
  });
});

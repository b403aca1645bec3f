/**
 * docker-compose.yml is dclint-clean (every rule of dclint's recommended set, warnings included:
 * --max-warnings 0), and the linter is not vacuous here: `build` + `image` and a `latest` tag —
 * what the file used to have — fail it.
 */
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {givenTempDir} from '../../fixtures/pki';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const DCLINT = path.join(ROOT, 'node_modules', '.bin', 'dclint');

function dclint(file: string): {status: number | null; out: string} {
  const r = spawnSync(DCLINT, ['--max-warnings', '0', file], {encoding: 'utf8', timeout: 120_000});
  return {status: r.status, out: r.stdout + r.stderr};
}

describe('container policy: dclint (unit)', function () {
  this.timeout(180_000);

  it('docker-compose.yml has no dclint problem', () => {
    const r = dclint(path.join(ROOT, 'docker-compose.yml'));
    assert.equal(r.status, 0, r.out);
    assert.doesNotMatch(r.out, /problem/);
  });

  it('the old mistakes fail it (build + image, latest tag)', () => {
    const dir = givenTempDir('dclint-');
    const bad = path.join(dir, 'docker-compose.yml');
    fs.writeFileSync(bad, 'name: x\nservices:\n  a:\n    image: localhost/hardened-mtls:latest\n    build: .\n');
    const r = dclint(bad);
    assert.notEqual(r.status, 0);
    assert.match(r.out, /no-build-and-image/);
    assert.match(r.out, /service-image-require-explicit-tag/);
  });
});

/**
 * `npm run image:pin` (scripts/container/image-pin.mjs) on temporary copies of deploy/kubernetes:
 * the Deployment's container image and the kustomization's images entry become NAME@sha256:...,
 * comments and every other byte stay, a second pin replaces the first, and malformed input
 * changes nothing (exit 2; nothing to pin: exit 1). The container tier pins to a real built
 * image's digest (test/container/image-pin.test.ts).
 */
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import {givenTempDir} from '../../fixtures/pki';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const SCRIPT = path.join(ROOT, 'scripts', 'container', 'image-pin.mjs');
const MANIFESTS = path.join(ROOT, 'deploy', 'kubernetes');
const D1 = `sha256:${'a1'.repeat(32)}`;
const D2 = `sha256:${'b2'.repeat(32)}`;

function givenManifestCopy(): string {
  const dir = path.join(givenTempDir('image-pin-'), 'kubernetes');
  fs.cpSync(MANIFESTS, dir, {recursive: true});
  return dir;
}

function pin(args: string[]) {
  return spawnSync(process.execPath, [SCRIPT, ...args], {encoding: 'utf8', timeout: 60_000});
}

function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(fs.readdirSync(dir).map(f => [f, fs.readFileSync(path.join(dir, f), 'utf8')]));
}

function containerImages(dir: string): string[] {
  const dep = YAML.parse(fs.readFileSync(path.join(dir, 'deployment.yaml'), 'utf8')) as {spec: {template: {spec: {containers: {image: string}[]}}}};
  return dep.spec.template.spec.containers.map(c => c.image);
}

describe('container policy: image:pin rewrites the manifests to a digest (unit)', () => {
  it('pins the Deployment and the kustomization to NAME@sha256:DIGEST; comments and other files unchanged', () => {
    const dir = givenManifestCopy();
    const before = snapshot(dir);
    const r = pin(['--dir', dir, '--digest', D1, 'registry.example/team/hardened-mtls:0.1.0']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(containerImages(dir), [`registry.example/team/hardened-mtls@${D1}`]);
    const k = YAML.parse(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as {images: Record<string, string>[]};
    assert.deepEqual(k.images, [{name: 'registry.example/team/hardened-mtls', digest: D1}]);
    const after = snapshot(dir);
    for (const f of Object.keys(before).filter(x => x !== 'deployment.yaml' && x !== 'kustomization.yaml')) assert.equal(after[f], before[f], f);
    // only the image value changed in the Deployment, its comment kept
    const changed = before['deployment.yaml'].split('\n').filter((l, i) => after['deployment.yaml'].split('\n')[i] !== l);
    assert.equal(changed.length, 1);
    assert.match(after['deployment.yaml'], /image: registry\.example\/team\/hardened-mtls@sha256:(a1){32} # pin by digest in production/);
    assert.match(after['kustomization.yaml'], /# One versioned tag everywhere/);
    assert.match(r.stdout, /deployment\.yaml: localhost\/hardened-mtls:0\.1\.0 -> registry\.example\/team\/hardened-mtls@sha256:/);
  });

  it('a second pin replaces the first (a new release); the digest in the reference itself is used without --digest', () => {
    const dir = givenManifestCopy();
    assert.equal(pin(['--dir', dir, '--digest', D1, 'registry.example/hardened-mtls']).status, 0);
    const r = pin(['--dir', dir, `registry.example/hardened-mtls@${D2}`]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(containerImages(dir), [`registry.example/hardened-mtls@${D2}`]);
    const k = YAML.parse(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as {images: Record<string, string>[]};
    assert.deepEqual(k.images, [{name: 'registry.example/hardened-mtls', digest: D2}]);
  });

  const BAD: ReadonlyArray<[string, string[], number]> = [
    ['a short digest', ['--digest', 'sha256:abc', 'registry.example/hardened-mtls'], 2],
    ['a non-sha256 digest', ['--digest', `md5:${'a'.repeat(32)}`, 'registry.example/hardened-mtls'], 2],
    ['an upper-case reference', ['--digest', D1, 'Registry.example/Hardened'], 2],
    ['no image', ['--digest', D1], 2],
    ['an unknown option', ['--digest', D1, '--force', 'registry.example/hardened-mtls'], 2],
    ['an image the manifests do not use', ['--digest', D1, '--match', 'localhost/other', 'registry.example/other'], 1],
  ];
  for (const [what, args, code] of BAD) {
    it(`refuses ${what} (exit ${code}) and writes nothing`, () => {
      const dir = givenManifestCopy();
      const before = snapshot(dir);
      const r = pin(['--dir', dir, ...args]);
      assert.equal(r.status, code, r.stdout + r.stderr);
      assert.match(r.stderr, /^image:pin: /);
      assert.deepEqual(snapshot(dir), before);
    });
  }

  it('the repository copy stays on the versioned tag (pinning is a release step)', () => {
    assert.deepEqual(containerImages(MANIFESTS), ['localhost/hardened-mtls:0.1.0']);
  });
});

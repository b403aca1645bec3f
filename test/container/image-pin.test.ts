/**
 * Container tier: `npm run image:pin` against a REAL local image digest. No registry is reachable,
 * so the digest is the one podman records for the run's built image (`podman image inspect
 * .Digest`, the sha256 of its manifest): the script pins a temporary copy of deploy/kubernetes to
 * it, and the oracle is podman itself: the pinned reference resolves to the same image ID.
 */
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import {REPO_ROOT} from './compose';
import {givenBuiltImage, givenWorkDir} from './image-fixture';

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{code: number | null; stdout: string; stderr: string}> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, {env, stdio: ['ignore', 'pipe', 'pipe']});
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => c.kill('SIGKILL'), 120_000);
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    c.on('error', reject);
    c.on('close', code => {
      clearTimeout(timer);
      resolve({code, stdout, stderr});
    });
  });
}

describe('container tier: image:pin pins the manifests to a built image digest (container)', function () {
  this.timeout(30 * 60_000);

  it("rewrites a copy of deploy/kubernetes to NAME@sha256:<podman's digest>, and that reference names the built image", async () => {
    const image = await givenBuiltImage();
    const dir = path.join(givenWorkDir(image, 'pin'), 'kubernetes');
    fs.cpSync(path.join(REPO_ROOT, 'deploy', 'kubernetes'), dir, {recursive: true});
    const digest = (await image.podman.ok(['image', 'inspect', '--format', '{{.Digest}}', image.names.app])).trim();
    assert.match(digest, /^sha256:[0-9a-f]{64}$/);

    const r = await run(
      process.execPath,
      [path.join(REPO_ROOT, 'scripts', 'container', 'image-pin.mjs'), '--dir', dir, image.names.app],
      image.podman.env,
    );
    assert.equal(r.code, 0, r.stderr);
    const name = image.names.app.replace(/:[^:/]+$/, '');
    const dep = YAML.parse(fs.readFileSync(path.join(dir, 'deployment.yaml'), 'utf8')) as {spec: {template: {spec: {containers: {image: string}[]}}}};
    assert.deepEqual(
      dep.spec.template.spec.containers.map(c => c.image),
      [`${name}@${digest}`],
    );
    const k = YAML.parse(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as {images: Record<string, string>[]};
    assert.deepEqual(k.images, [{name, digest}]);

    // oracle: podman resolves the pinned reference to the image that was built
    const byDigest = (await image.podman.ok(['image', 'inspect', '--format', '{{.Id}}', `${name}@${digest}`])).trim();
    const byTag = (await image.podman.ok(['image', 'inspect', '--format', '{{.Id}}', image.names.app])).trim();
    assert.equal(byDigest, byTag);
    fs.rmSync(path.dirname(dir), {recursive: true, force: true});
  });
});

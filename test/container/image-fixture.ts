/**
 * The container tier's shared image: the project's Dockerfile built ONCE per mocha run (podman +
 * runc, local stand-in base images from the host's node binary, `--pull=never`, the build stage
 * reaching npm the way the host does), shared by every container-tier test file
 * (container.test.ts, escape.test.ts). The first givenBuiltImage() builds; later calls get the
 * same build. The root-level after-all hook below (registered when a spec file first imports this
 * module, i.e. on mocha's root suite) removes every image the run created, once all files are
 * done, and checks that none is left.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {buildSyscallProbe} from '../../src/escape/runtime';
import {REPO_ROOT} from './compose';
import {assertContainerPrerequisites, buildBuilderStandin, buildRuntimeStandin, hostNpmCache, Podman} from './podman';

export interface BuiltImage {
  podman: Podman;
  /** Work directory of the run (containers.conf, per-file subdirectories). */
  work: string;
  runId: string;
  names: {builder: string; runtime: string; app: string; escape: string};
  /** The escape suite's static syscall probe, built on the host (bind-mounted into containers, never in the image). */
  syscallProbe: string;
  /** The version label/tag the image was built with (package.json). */
  version: string;
}

let imagesBefore: Set<string> | undefined;
let shared: Promise<BuiltImage> | undefined;
let state: BuiltImage | undefined;

async function build(): Promise<BuiltImage> {
  assertContainerPrerequisites();
  const runId = `${process.pid}-${Date.now().toString(36)}`;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hmtls-container-'));
  fs.chmodSync(work, 0o755);
  const podman = new Podman(work);
  const probeDir = path.join(work, 'syscall-probe');
  fs.mkdirSync(probeDir, {mode: 0o755});
  const version = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {version: string}).version;
  state = {
    podman,
    work,
    runId,
    version,
    syscallProbe: buildSyscallProbe(probeDir),
    names: {
      builder: `localhost/hmtls-standin-builder:${runId}`,
      runtime: `localhost/hmtls-standin-runtime:${runId}`,
      app: `localhost/hardened-mtls-test:${runId}`,
      escape: `localhost/hardened-mtls-escape-test:${runId}`,
    },
  };
  const {names} = state;
  imagesBefore = await podman.imageIds();

  await buildRuntimeStandin(podman, names.runtime);
  await buildBuilderStandin(podman, names.builder);
  await podman.ok([...buildArgs(state), '--file', path.join(REPO_ROOT, 'Dockerfile'), '--tag', names.app, REPO_ROOT], {timeoutMs: 20 * 60_000});
  return state;
}

/** `podman build` arguments shared by both targets (stand-in bases, provenance, npm access). */
function buildArgs(st: BuiltImage): string[] {
  // --format docker: the OCI format has no HEALTHCHECK (podman/buildah drop it silently).
  const args = [
    'build',
    '--format',
    'docker',
    '--pull=never',
    '--network=host',
    '--layers=false',
    '--no-cache',
    '--volume',
    `${hostNpmCache()}:/root/.npm`,
    '--build-arg',
    `VERSION=${st.version}`,
    '--build-arg',
    `REVISION=test-${st.runId}`,
    '--build-arg',
    `CREATED=${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
    '--build-arg',
    `BUILDER_IMAGE=${st.names.builder}`,
    '--build-arg',
    `RUNTIME_IMAGE=${st.names.runtime}`,
  ];
  if (process.env.NODE_EXTRA_CA_CERTS && fs.existsSync(process.env.NODE_EXTRA_CA_CERTS)) {
    args.push('--build-arg', `NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS}`);
  }
  return args;
}

let escapeBuild: Promise<string> | undefined;

/**
 * The `--target escape` image (QA's escape-suite image), built on first call from the same
 * stand-in bases. The stand-in builder has no C compiler, so the host's static build of the
 * syscall probe comes in through the Dockerfile's `syscall-probe` named build context.
 */
export function givenEscapeImage(): Promise<string> {
  escapeBuild ??= givenBuiltImage().then(async st => {
    await st.podman.ok(
      [
        ...buildArgs(st),
        '--target',
        'escape',
        '--build-context',
        `syscall-probe=${path.dirname(st.syscallProbe)}`,
        '--file',
        path.join(REPO_ROOT, 'Dockerfile'),
        '--tag',
        st.names.escape,
        REPO_ROOT,
      ],
      {timeoutMs: 20 * 60_000},
    );
    return st.names.escape;
  });
  return escapeBuild;
}

/** The built image (built on the first call of the run; a failed build fails every caller). */
export function givenBuiltImage(): Promise<BuiltImage> {
  shared ??= build();
  return shared;
}

/** A fresh, world-traversable subdirectory of the run's work directory. */
export function givenWorkDir(image: BuiltImage, name: string): string {
  const dir = fs.mkdtempSync(path.join(image.work, `${name}-`));
  fs.chmodSync(dir, 0o755);
  return dir;
}

after('container tier: remove the shared image', async function () {
  this.timeout(10 * 60_000);
  if (!state) return;
  const {podman, names, work} = state;
  const after = await podman.imageIds();
  const ours = [...after].filter(id => !imagesBefore?.has(id));
  if (ours.length > 0) await podman.run(['rmi', '--force', ...ours]);
  for (const tag of [names.escape, names.app, names.builder, names.runtime]) await podman.run(['rmi', '--force', tag]);
  escapeBuild = undefined;
  const imgs = await podman.imageIds();
  fs.rmSync(work, {recursive: true, force: true});
  state = undefined;
  assert.deepEqual(
    [...imgs].filter(id => !imagesBefore?.has(id)),
    [],
    'images removed',
  );
});

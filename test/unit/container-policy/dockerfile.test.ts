/**
 * Static policy: the Dockerfile parsed with dockerfile-ast, every hardening property asserted.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {DockerfileParser, From, Instruction, JSONInstruction} from 'dockerfile-ast';
import {isSecretEnvName} from '../../../src/posture/posture';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

const SOURCE = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const LINES = SOURCE.split('\n');

function givenDockerfile() {
  return DockerfileParser.parse(SOURCE);
}

/** The full text of an instruction (keyword, flags and arguments, continuation lines joined). */
function text(ins: Instruction): string {
  const r = ins.getRange();
  const lines = LINES.slice(r.start.line, r.end.line + 1);
  lines[lines.length - 1] = lines[lines.length - 1].slice(0, r.end.character);
  lines[0] = lines[0].slice(r.start.character);
  return lines
    .map(l => l.replace(/\\\s*$/, ''))
    .join(' ')
    .replace(/\s+/g, ' ');
}

function stages(df: ReturnType<typeof givenDockerfile>): {from: From; instructions: Instruction[]}[] {
  const froms = df.getFROMs();
  const all = df.getInstructions();
  return froms.map((from, i) => {
    const start = from.getRange().start.line;
    const end = i + 1 < froms.length ? froms[i + 1].getRange().start.line : Number.MAX_SAFE_INTEGER;
    return {from, instructions: all.filter(ins => ins.getRange().start.line > start && ins.getRange().start.line < end)};
  });
}

function args(ins: Instruction): string {
  return ins.getArgumentsContent() ?? '';
}

function jsonArgs(ins: Instruction): string[] {
  return (ins as JSONInstruction).getJSONStrings().map(s => s.getJSONValue());
}

describe('container policy: Dockerfile (unit)', () => {
  const df = givenDockerfile();
  const all = stages(df);
  const stage = (name: string) => all.find(st => st.from.getBuildStage() === name)!;
  const build = stage('build');
  const runtime = stage('runtime');
  const escape = stage('escape');
  const initialArgs = new Map(df.getInitialARGs().map(a => [a.getProperty()!.getName(), a.getProperty()!.getValue() ?? '']));

  it('is multi-stage: build, escape (QA target) and runtime, the runtime LAST (the default target), all FROM build arguments; an empty prebuilt-probe stage', () => {
    assert.deepEqual(
      all.map(st => st.from.getBuildStage()),
      ['syscall-probe', 'build', 'escape', 'runtime'],
    );
    // empty unless --build-context syscall-probe=DIR replaces it; only the build stage reads it,
    // and only for the escape tree (the runtime stage copies from `build` alone)
    const probe = stage('syscall-probe');
    assert.equal(probe.from.getImage(), 'scratch');
    assert.deepEqual(probe.instructions, []);
    assert.match(SOURCE, /^COPY --from=syscall-probe \/ \/prebuilt-probe\/$/m);
    assert.equal((SOURCE.match(/--from=syscall-probe/g) ?? []).length, 1);
    const buildRun = build.instructions
      .filter(i => i.getKeyword() === 'RUN')
      .map(args)
      .join(' ');
    assert.match(buildRun, /cp \/prebuilt-probe\/syscall-probe \/escape\/syscall-probe/);
    assert.match(buildRun, /rm -rf \/prebuilt-probe/);
    assert.equal(build.from.getImage(), '${BUILDER_IMAGE}');
    assert.equal(runtime.from.getImage(), '${RUNTIME_IMAGE}');
    assert.equal(escape.from.getImage(), '${RUNTIME_IMAGE}');
  });

  it('Node 24 bases (bookworm builder, distroless nodejs24 :nonroot runtime); release builds pin them by digest (said in the file)', () => {
    const builder = initialArgs.get('BUILDER_IMAGE') ?? '';
    const rt = initialArgs.get('RUNTIME_IMAGE') ?? '';
    assert.match(builder, /\/node:24-bookworm(@sha256:[0-9a-f]{64})?$/);
    assert.match(rt, /\/distroless\/nodejs24-debian12(:nonroot)?(@sha256:[0-9a-f]{64})?$/);
    assert.match(SOURCE, /RELEASE BUILDS MUST PIN THEM\s+#?\s*BY DIGEST/);
  });

  it('ships only the service: removes escape/demo/PKI CLI, source maps, declarations, dependency test folders; source-map-support is no production dependency', () => {
    const runs = build.instructions
      .filter(i => i.getKeyword() === 'RUN')
      .map(text)
      .join('\n');
    for (const p of ['dist/src/escape', 'dist/src/demo', 'dist/src/pki']) assert.ok(runs.includes(p), p);
    assert.match(runs, /-name '\*\.map'/);
    assert.match(runs, /-name test -o -name tests/);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {dependencies: Record<string, string>};
    assert.equal(pkg.dependencies['source-map-support'], undefined);
  });

  it('OCI labels: version, revision, created, source (build arguments)', () => {
    const labels = runtime.instructions
      .filter(i => i.getKeyword() === 'LABEL')
      .map(text)
      .join(' ');
    for (const l of ['version', 'revision', 'created', 'source', 'title', 'licenses'])
      assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${l}=`), l);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {version: string};
    assert.ok(
      runtime.instructions.some(i => i.getKeyword() === 'ARG' && text(i) === `ARG VERSION=${pkg.version}`),
      'VERSION defaults to package.json',
    );
  });

  it('build stage: npm ci from the lockfile without install scripts, tsc, prune dev dependencies', () => {
    const runs = build.instructions
      .filter(i => i.getKeyword() === 'RUN')
      .map(args)
      .join('\n');
    assert.match(runs, /npm ci\b[^\n]*--ignore-scripts/);
    assert.match(runs, /tsc -p tsconfig\.json/);
    assert.match(runs, /npm prune --omit=dev/);
    const copies = build.instructions.filter(i => i.getKeyword() === 'COPY').map(args);
    assert.ok(
      copies.some(c => /package-lock\.json/.test(c)),
      'the lockfile is copied',
    );
  });

  it('runtime stage: no RUN (distroless: no shell), only root-owned COPY --from=build', () => {
    assert.equal(runtime.instructions.filter(i => i.getKeyword() === 'RUN').length, 0);
    const copies = runtime.instructions.filter(i => i.getKeyword() === 'COPY');
    assert.ok(copies.length >= 3);
    for (const c of copies) {
      assert.match(text(c), /--from=build\b/);
      assert.match(text(c), /--chown=0:0\b/, 'application files are owned by root');
      assert.doesNotMatch(text(c), /--chmod/);
    }
    assert.equal(df.getInstructions().filter(i => i.getKeyword() === 'ADD').length, 0, 'no ADD');
  });

  it('runs as the numeric user 10001:10001', () => {
    const users = runtime.instructions.filter(i => i.getKeyword() === 'USER').map(args);
    assert.deepEqual(users, ['10001:10001']);
  });

  it('sets NODE_ENV=production and POSTURE_MODE=enforce', () => {
    const env = new Map<string, string>();
    for (const e of runtime.instructions.filter(i => i.getKeyword() === 'ENV')) {
      for (const p of (e as unknown as {getProperties(): {getName(): string; getValue(): string | null}[]}).getProperties())
        env.set(p.getName(), p.getValue() ?? '');
    }
    assert.equal(env.get('NODE_ENV'), 'production');
    assert.equal(env.get('POSTURE_MODE'), 'enforce');
    assert.equal(env.get('PORT'), '8443');
  });

  it('bakes in no secret: no secret-looking ENV/ARG, no certificate or key file copied', () => {
    for (const e of df.getENVs()) {
      for (const p of e.getProperties()) assert.ok(!isSecretEnvName(p.getName()), `ENV ${p.getName()}`);
    }
    for (const a of df.getARGs()) assert.ok(!isSecretEnvName(a.getProperty()!.getName()), `ARG ${a.getProperty()!.getName()}`);
    for (const c of df.getCOPYs()) assert.doesNotMatch(args(c), /\.(pem|key|crt|p12|pfx)\b|certs\//);
  });

  it('exec-form ENTRYPOINT: static tini (copied from the build stage) as PID 1, subreaper; CMD the distroless node and the entry point', () => {
    const eps = runtime.instructions.filter(i => i.getKeyword() === 'ENTRYPOINT');
    assert.equal(eps.length, 1);
    assert.deepEqual(jsonArgs(eps[0]), ['/usr/bin/tini', '-s', '--']);
    const cmds = runtime.instructions.filter(i => i.getKeyword() === 'CMD');
    assert.deepEqual(jsonArgs(cmds[cmds.length - 1]), ['/nodejs/bin/node', '/app/dist/src/index.js']);
    assert.ok(
      runtime.instructions.some(i => i.getKeyword() === 'COPY' && /--from=build --chown=0:0 \/usr\/bin\/tini-static \/usr\/bin\/tini/.test(text(i))),
    );
  });

  it('EXPOSE 8443 only', () => {
    const ex = runtime.instructions.filter(i => i.getKeyword() === 'EXPOSE').map(args);
    assert.deepEqual(ex, ['8443']);
  });

  it('HEALTHCHECK runs the mTLS health-check script with node (exec form, bounded)', () => {
    const hc = runtime.instructions.filter(i => i.getKeyword() === 'HEALTHCHECK');
    // kept only in docker-format builds: the file says so (the container tier builds --format docker)
    assert.match(SOURCE, /--format docker/);
    assert.equal(hc.length, 1);
    const t = text(hc[0]);
    assert.match(t, /--timeout=\d+s/);
    assert.match(t, /--retries=\d+/);
    assert.match(t, /CMD \["\/nodejs\/bin\/node", "\/app\/dist\/src\/posture\/healthcheck\.js"\]/);
    assert.ok(fs.existsSync(path.join(ROOT, 'src', 'posture', 'healthcheck.ts')));
  });

  it('.dockerignore keeps keys, certificates, tests, dependencies, builds and VCS data out', () => {
    const lines = fs
      .readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map(l => l.trim())
      .filter(l => l && !l.startsWith('#'));
    for (const p of ['.git', 'node_modules', 'dist', 'test', 'certs', '*.pem', '*.key', '*.crt', '*.p12', '.env', '.npmrc']) {
      assert.ok(lines.includes(p), `.dockerignore has ${p}`);
    }
  });
});

/**
 * Container tier: the escape catalog against the BUILT image (shared with container.test.ts via
 * image-fixture.ts). The image runs with the docker-compose.yml flags on an `--internal` podman
 * network, with a throw-away PKI (CAs, CRLs, every mTLS scenario certificate); the CLI runs in the
 * container's network namespace against its loopback port, reads the image's own /openapi.json for
 * the spec-driven cases, and runs the runtime cases inside the container (`--runtime exec:podman
 * exec ...`). No case may fail; cases that need the local harness (url-param: canaries, stub DNS,
 * fake upstream) are "not applicable" against a remote target, as the runner reports them.
 *
 * Then QA's way: the `--target escape` image (built from the same stand-in bases, the host's static
 * syscall probe passed in through the `syscall-probe` build context) runs as its own container on
 * the same internal network against the service container's address, with the certificates
 * mounted read-only, and writes JSON and SARIF reports (SARIF checked against the SARIF 2.1.0
 * schema). Without a way into the target from there, its runtime cases are "not applicable".
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {loadCatalog} from '../../src/escape/catalog';
import {generateTargetPki, TargetPki} from '../../src/escape/local-target';
import {REPORT_FILES} from '../../src/escape/report';
import type {SuiteResult} from '../../src/escape/runner';
import {layOutContainerTls, runEscapeInContainerNetns} from '../escape/support/container-tier';
import {assertHtml, assertJsonReport, assertJUnit} from '../escape/support/report-checks';
import {SYSCALL_PROBE_PATH} from '../../src/escape/runtime';
import {loadCompose, podmanRunArgs, REPO_ROOT} from './compose';
import {givenSarifValidator} from '../fixtures/sarif-validator';
import {givenBuiltImage, givenEscapeImage, givenWorkDir} from './image-fixture';
import {freePort, Podman} from './podman';

const SERVICE = 'hardened-mtls';

describe('container tier: the escape catalog against the built image (container)', function () {
  this.timeout(30 * 60_000);
  const names = {network: '', container: ''};
  const created = {network: false, container: false};
  let podman: Podman;
  let work: string;
  let t: TargetPki;
  let run: {code: number | null; stdout: string; stderr: string; result?: SuiteResult};
  let outDir: string;
  let serviceIp = '';

  before(async () => {
    const image = await givenBuiltImage();
    podman = image.podman;
    work = givenWorkDir(image, 'escape');
    names.network = `hmtls-escape-net-${image.runId}`;
    names.container = `hmtls-escape-${image.runId}`;

    t = await generateTargetPki(path.join(work, 'pki'));
    fs.chmodSync(path.join(work, 'pki'), 0o755);
    const tlsDir = path.join(work, 'tls');
    const healthDir = path.join(work, 'health');
    for (const d of [tlsDir, healthDir]) fs.mkdirSync(d, {mode: 0o755});
    const vars = layOutContainerTls(t, tlsDir, healthDir);

    await podman.ok(['network', 'create', '--internal', '--disable-dns', names.network]);
    created.network = true;
    serviceIp = String(JSON.parse(await podman.ok(['network', 'inspect', names.network]))[0].subnets[0].subnet).replace(/\.\d+\/\d+$/, '.20');
    const compose = loadCompose({TLS_DIR: tlsDir, HEALTH_CLIENT_DIR: healthDir, ...vars});
    const hostPort = await freePort();
    const args = podmanRunArgs(compose.services[SERVICE], {network: names.network, name: names.container, hostPort: () => hostPort});
    // The image ships no escape suite: the harness mounts the runtime probe (the host's build of
    // dist/src/escape) and the static syscall probe, read-only.
    await podman.ok([
      'run',
      '--detach',
      ...args,
      '--volume',
      `${image.syscallProbe}:${SYSCALL_PROBE_PATH}:ro`,
      '--volume',
      `${path.join(REPO_ROOT, 'dist', 'src', 'escape')}:/app/dist/src/escape:ro`,
      // the suite's benign targets (GET /search, POST /echo): not booted in production otherwise
      '--env',
      'DEMO_ROUTES=true',
      // a fixed address on the test network, which the service answers to (the authority guard
      // refuses a Host that is not a server name): the escape image's run below targets it
      '--ip',
      serviceIp,
      '--env',
      `SERVER_NAMES=localhost,127.0.0.1,::1,${serviceIp}`,
      image.names.app,
    ]);
    created.container = true;

    for (let i = 0; ; i++) {
      const logs = await podman.run(['logs', names.container]);
      if (/"event":"listening"/.test(logs.stdout + logs.stderr)) break;
      const st = (await podman.ok(['inspect', '--format', '{{.State.Status}}', names.container])).trim();
      if (st !== 'running' || i >= 120)
        throw new Error(`container ${st}, no listening line: ${logs.stdout.slice(-4000)} ${logs.stderr.slice(-4000)}`);
      await new Promise(r => setTimeout(r, 500));
    }
    const containerPid = Number((await podman.ok(['inspect', '--format', '{{.State.Pid}}', names.container])).trim());
    assert.ok(containerPid > 0);

    outDir = path.join(work, 'report');
    run = await runEscapeInContainerNetns({t, containerPid, container: names.container, outDir, podmanEnv: podman.env});
  });

  after(async () => {
    if (!podman) return;
    if (created.container) await podman.run(['rm', '--force', '--time', '0', names.container]);
    if (created.network) await podman.run(['network', 'rm', '--force', names.network]);
    const left = await podman.run(['ps', '--all', '--filter', `name=${names.container}`, '--format', '{{.Names}}']);
    assert.equal(left.stdout.trim(), '', 'container removed');
    if (work) fs.rmSync(work, {recursive: true, force: true});
  });

  it('runs every catalog case against the container; none fails (exit 0)', () => {
    assert.ok(run.result, `no JSON report; exit ${String(run.code)}: ${run.stdout.slice(-3000)} ${run.stderr.slice(-3000)}`);
    const r = run.result;
    assert.equal(r.target.kind, 'remote');
    const ran = new Set(r.results.map(x => x.id));
    assert.deepEqual(
      loadCatalog()
        .cases.filter(c => !ran.has(c.id))
        .map(c => c.id),
      [],
    );
    assert.deepEqual(
      r.results.filter(x => x.status === 'failed').map(x => `${x.id} [${x.payload}]: ${x.reason}`),
      [],
    );
    assert.equal(r.totals.failed, 0);
    assert.equal(run.code, 0, run.stderr.slice(-3000));
  });

  it('only the harness-dependent (url-param) cases are "not applicable"; the rest are attacked and pass', () => {
    const r = run.result!;
    assert.deepEqual(
      r.results.filter(x => x.status === 'not-applicable' && x.vector !== 'url-param').map(x => `${x.id}: ${x.reason}`),
      [],
    );
    for (const v of ['tls', 'path', 'query', 'header', 'body']) {
      assert.ok(
        r.results.some(x => x.vector === v && x.status === 'passed'),
        `no passed ${v} case`,
      );
    }
  });

  it('runs the runtime cases inside the container (podman exec) and they pass there', () => {
    const rt = run.result!.results.filter(x => x.vector === 'runtime');
    assert.equal(rt.length, loadCatalog().cases.filter(c => c.vector === 'runtime').length);
    assert.deepEqual(
      rt.filter(x => x.status !== 'passed').map(x => `${x.id}: ${x.reason}`),
      [],
    );
    for (const x of rt) assert.match(x.observed, new RegExp(`exec: podman exec ${names.container} `));
    // RT-013/RT-014 are judged on the real errno of each attempt, not on the posture's assumption
    for (const id of ['RT-013', 'RT-014']) {
      const x = rt.find(y => y.id === id)!;
      assert.match(x.observed, /attempts: .* -> (EPERM|ENOSYS)/, `${id}: ${x.observed}`);
      assert.doesNotMatch(x.observed, /unproven/);
    }
  });

  it("attacks every operation of the image's own OpenAPI document", () => {
    const r = run.result!;
    assert.equal(r.spec?.error, undefined);
    assert.ok(r.spec!.cases > 50, `${r.spec!.cases} spec cases`);
  });

  it('writes JUnit XML, JSON and a self-contained HTML report, each well-formed', () => {
    const r = run.result!;
    assertJUnit(fs.readFileSync(path.join(outDir, REPORT_FILES.junit), 'utf8'), r);
    assertJsonReport(fs.readFileSync(path.join(outDir, REPORT_FILES.json), 'utf8'), r);
    assertHtml(fs.readFileSync(path.join(outDir, REPORT_FILES.html), 'utf8'), r);
  });

  describe('the escape image (--target escape), run from its own container against the service over the test network', () => {
    let image = '';
    let out = '';
    let qa: {code: number | null; stdout: string; stderr: string};
    let report: SuiteResult | undefined;

    before(async () => {
      image = await givenEscapeImage();
      // inputs readable by the image's uid 10001 (mounted read-only), an output directory it may write
      const certs = path.join(work, 'qa-certs');
      out = path.join(work, 'qa-out');
      fs.mkdirSync(certs, {mode: 0o755});
      fs.mkdirSync(out, {mode: 0o755});
      fs.copyFileSync(t.pki.caBundle, path.join(certs, 'ca-bundle.crt'));
      fs.cpSync(t.scenarioDir, path.join(certs, 'scenarios'), {recursive: true});
      const own = (p: string) => {
        fs.chownSync(p, 10001, 10001);
        if (fs.statSync(p).isDirectory()) for (const e of fs.readdirSync(p)) own(path.join(p, e));
      };
      own(certs);
      own(out);
      const ip = String(JSON.parse(await podman.ok(['inspect', names.container]))[0].NetworkSettings.Networks[names.network].IPAddress);
      assert.equal(ip, serviceIp);
      qa = await podman.run(
        [
          'run',
          '--rm',
          '--network',
          names.network,
          '--read-only',
          '--read-only-tmpfs=false',
          '--tmpfs',
          '/tmp:size=16m,mode=1777,noexec,nosuid,nodev',
          '--cap-drop',
          'ALL',
          '--security-opt',
          'no-new-privileges',
          '--pids-limit',
          '256',
          '--volume',
          `${certs}:/certs:ro`,
          '--volume',
          `${out}:/out:rw`,
          image,
          '--target',
          `https://${ip}:8443`,
          '--servername',
          'localhost',
          '--ca',
          '/certs/ca-bundle.crt',
          '--cert',
          '/certs/scenarios/valid.crt',
          '--key',
          '/certs/scenarios/valid.key',
          '--scenario-certs',
          '/certs/scenarios',
          '--spec',
          'target',
          '--quiet',
          '--report',
          'json,sarif',
          '--out',
          '/out',
        ],
        {timeoutMs: 20 * 60_000},
      );
      const file = path.join(out, REPORT_FILES.json);
      report = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as SuiteResult) : undefined;
    });

    it('contains the escape suite and the static syscall probe (the host build, byte for byte), runs as uid 10001', async () => {
      const r = await podman.run(
        [
          'run',
          '--rm',
          '--network',
          'none',
          '--entrypoint',
          '["/nodejs/bin/node"]',
          image,
          '-e',
          `const fs=require("fs"),c=require("crypto");const b=fs.readFileSync("/escape/syscall-probe");
           process.stdout.write(JSON.stringify({sha:c.createHash("sha256").update(b).digest("hex"),elf:b.subarray(0,4).toString("latin1"),
             mode:(fs.statSync("/escape/syscall-probe").mode&0o777).toString(8),cli:fs.existsSync("/escape/dist/src/escape/cli.js"),uid:process.getuid()}))`,
        ],
        {timeoutMs: 120_000},
      );
      assert.equal(r.code, 0, r.stderr);
      const o = JSON.parse(r.stdout) as {sha: string; elf: string; mode: string; cli: boolean; uid: number};
      const host = crypto
        .createHash('sha256')
        .update(fs.readFileSync((await givenBuiltImage()).syscallProbe))
        .digest('hex');
      assert.deepEqual(o, {sha: host, elf: '\x7fELF', mode: '755', cli: true, uid: 10001});
      const cfg = JSON.parse(await podman.ok(['image', 'inspect', image]))[0].Config as {Entrypoint: string[]; User: string};
      assert.deepEqual(cfg.Entrypoint, ['/nodejs/bin/node', '/escape/dist/src/escape/cli.js']);
      assert.equal(cfg.User, '10001:10001');
    });

    it('attacks the service over the network: exit 0, a remote-target report, no case failed, every non-runtime vector attacked', () => {
      assert.ok(report, `no JSON report; exit ${String(qa.code)}: ${qa.stdout.slice(-3000)} ${qa.stderr.slice(-3000)}`);
      const r = report!;
      assert.equal(r.target.kind, 'remote');
      assert.deepEqual(
        r.results.filter(x => x.status === 'failed').map(x => `${x.id} [${x.payload}]: ${x.reason}`),
        [],
      );
      assert.equal(qa.code, 0, qa.stderr.slice(-3000));
      // not applicable from a separate container: the harness-dependent url-param cases and the
      // runtime cases (no way into the target from here; see the in-container run above)
      assert.deepEqual(
        r.results.filter(x => x.status === 'not-applicable' && x.vector !== 'url-param' && x.vector !== 'runtime').map(x => `${x.id}: ${x.reason}`),
        [],
      );
      for (const v of ['tls', 'path', 'query', 'header', 'body']) {
        assert.ok(
          r.results.some(x => x.vector === v && x.status === 'passed'),
          `no passed ${v} case`,
        );
      }
      assert.ok(r.spec!.cases > 50, `${r.spec?.cases} spec cases from the target's own OpenAPI document`);
      // the same verdicts as the in-container run for every case both attacked
      const inside = new Map(run.result!.results.map(x => [`${x.id}|${x.payload}`, x.status]));
      const differ = r.results.filter(
        x => x.status !== 'not-applicable' && inside.has(`${x.id}|${x.payload}`) && inside.get(`${x.id}|${x.payload}`) !== x.status,
      );
      assert.deepEqual(
        differ.map(x => x.id),
        [],
      );
    });

    it('writes JSON and SARIF 2.1.0 (schema-valid, independent validator)', () => {
      const r = report!;
      assertJsonReport(fs.readFileSync(path.join(out, REPORT_FILES.json), 'utf8'), r);
      const sarif = JSON.parse(fs.readFileSync(path.join(out, REPORT_FILES.sarif), 'utf8')) as {version: string; runs: {results: unknown[]}[]};
      const validate = givenSarifValidator();
      assert.ok(validate(sarif), validate.errorsText());
      assert.equal(sarif.version, '2.1.0');
      assert.ok(sarif.runs[0].results.length > 0);
    });
  });
});

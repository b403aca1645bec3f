/**
 * The whole escape catalog against a local instance (throw-away PKI, harness, the service in this
 * process), through the runner's library API, plus spec-driven cases from the service's own
 * /openapi.json. Every case must pass; the three reports must be written and well-formed. Then
 * the CLI against the same kind of instance as a REMOTE target: harness-dependent cases are "not
 * applicable", never "passed".
 */
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {loadCatalog} from '../../src/escape/catalog';
import {startLocalTarget, LocalTarget} from '../../src/escape/local-target';
import {REPORT_FILES, writeReports} from '../../src/escape/report';
import {runEscapeSuite, SuiteResult} from '../../src/escape/runner';
import {givenTempDir} from '../fixtures/pki';
import {assertHtml, assertJsonReport, assertJUnit} from './support/report-checks';
import {givenRuntimeProbe} from './support/runtime-probe';

const CLI = path.resolve(__dirname, '..', '..', 'src', 'escape', 'cli.js');

function runCli(args: string[], timeoutMs = 180_000): Promise<{code: number | null; stdout: string; stderr: string}> {
  return new Promise(resolve => {
    const child = spawn(process.execPath, [CLI, ...args], {stdio: ['ignore', 'pipe', 'pipe']});
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', code => {
      clearTimeout(t);
      resolve({code, stdout, stderr});
    });
  });
}

describe('escape: the whole catalog against the local instance (escape)', function () {
  this.timeout(300_000);
  let result: SuiteResult;
  let outDir: string;
  const catalog = loadCatalog().cases;
  const progress: number[] = [];

  before(async () => {
    result = await runEscapeSuite({
      spec: {kind: 'target'},
      runtime: givenRuntimeProbe(),
      onProgress: e => e.kind === 'case' && progress.push(e.index!),
    });
    outDir = path.join(givenTempDir('escape-suite-'), 'report');
    writeReports(result, outDir);
  });

  it('runs every catalog case against the local instance, with nothing left "not applicable"', () => {
    const ran = new Set(result.results.map(r => r.id));
    assert.deepEqual(
      catalog.filter(c => !ran.has(c.id)).map(c => c.id),
      [],
    );
    assert.deepEqual(
      result.results.filter(r => r.status === 'not-applicable').map(r => `${r.id}: ${r.reason}`),
      [],
    );
    assert.equal(result.target.kind, 'local');
    assert.equal(progress.length, result.results.length, 'one progress event per case');
  });

  it('every case passes', () => {
    const failed = result.results.filter(r => r.status === 'failed').map(r => `${r.id} [${r.payload}]: ${r.reason}`);
    assert.deepEqual(failed, []);
  });

  it("attacks every operation of the service's own OpenAPI document (spec-driven, per operation)", () => {
    assert.equal(result.spec?.error, undefined);
    assert.ok(result.spec!.cases > 50, `${result.spec!.cases} spec cases`);
    for (const op of ['GET /search', 'POST /echo', 'POST /fetch', 'GET /products/{slug}', 'GET /static/{path}']) {
      assert.ok(result.byOperation[op]?.total > 0, `no spec case for ${op}`);
    }
    const fetchUrl = result.results.filter(r => r.operation === 'POST /fetch' && r.location === 'body:/url').map(r => r.id);
    assert.ok(
      fetchUrl.some(id => id.endsWith(' SI-001')),
      'the url field gets SSRF targets',
    );
  });

  it('writes JUnit XML, JSON and a self-contained HTML report, each well-formed', () => {
    assertJUnit(fs.readFileSync(path.join(outDir, REPORT_FILES.junit), 'utf8'), result);
    assertJsonReport(fs.readFileSync(path.join(outDir, REPORT_FILES.json), 'utf8'), result);
    assertHtml(fs.readFileSync(path.join(outDir, REPORT_FILES.html), 'utf8'), result);
  });
});

describe('escape CLI', function () {
  this.timeout(300_000);
  let target: LocalTarget;

  before(async () => {
    target = await startLocalTarget({dns: {}});
  });
  after(async () => {
    await target?.close();
  });

  it('against a remote target: harness-dependent cases are "not applicable", never "passed"; exit 0', async () => {
    const out = path.join(givenTempDir('escape-cli-'), 'out');
    const s = target.scenarioDir;
    const r = await runCli([
      '--target',
      target.url,
      '--ca',
      path.join(path.dirname(s), 'pki', 'ca-bundle.crt'),
      '--servername',
      'localhost',
      '--cert',
      path.join(s, 'valid.crt'),
      '--key',
      path.join(s, 'valid.key'),
      '--scenario-certs',
      s,
      '--out',
      out,
    ]);
    assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr);
    assert.match(r.stdout, /escape: running \d+ cases/);
    assert.match(r.stdout, /\[\s*1\/\d+\] PASS /);
    const j = JSON.parse(fs.readFileSync(path.join(out, REPORT_FILES.json), 'utf8')) as SuiteResult;
    assert.equal(j.target.kind, 'remote');
    const urlParam = j.results.filter(x => x.vector === 'url-param');
    assert.ok(urlParam.length > 100);
    assert.deepEqual(
      urlParam.filter(x => x.status !== 'not-applicable').map(x => `${x.id}: ${x.status}`),
      [],
    );
    assert.ok(j.results.filter(x => x.vector === 'runtime').every(x => x.status === 'not-applicable'));
    const tlsCases = j.results.filter(x => x.vector === 'tls');
    assert.deepEqual(
      tlsCases.filter(x => x.status !== 'passed').map(x => `${x.id}: ${x.reason}`),
      [],
      'every scenario supplied',
    );
    assert.ok(j.results.filter(x => ['path', 'query', 'header', 'body'].includes(x.vector)).every(x => x.status === 'passed'));
    assert.ok(fs.existsSync(path.join(out, REPORT_FILES.junit)) && fs.existsSync(path.join(out, REPORT_FILES.html)));
  });

  it('a missing scenario certificate makes its case "not applicable"; an unreachable target fails (exit 1)', async () => {
    const out = path.join(givenTempDir('escape-cli-'), 'out');
    const s = target.scenarioDir;
    const ca = path.join(path.dirname(s), 'pki', 'ca-bundle.crt');
    const common = [
      '--ca',
      ca,
      '--servername',
      'localhost',
      '--cert',
      path.join(s, 'valid.crt'),
      '--key',
      path.join(s, 'valid.key'),
      '--out',
      out,
      '--report',
      'json',
    ];
    const r = await runCli(['--target', target.url, '--only', 'mtls,benign-control', ...common]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const j = JSON.parse(fs.readFileSync(path.join(out, REPORT_FILES.json), 'utf8')) as SuiteResult;
    assert.equal(j.results.find(x => x.id === 'TL-002')!.status, 'not-applicable');
    assert.equal(j.results.find(x => x.id === 'TL-001')!.status, 'passed');
    assert.equal(j.results.find(x => x.id === 'BC-020')!.status, 'passed');

    const closed = await runCli(['--target', 'https://127.0.0.1:1', '--only', 'mtls', ...common]);
    assert.equal(closed.code, 1);
    const k = JSON.parse(fs.readFileSync(path.join(out, REPORT_FILES.json), 'utf8')) as SuiteResult;
    assert.equal(k.results.find(x => x.id === 'TL-001')!.status, 'failed', 'no connection is not a refusal');
  });

  it('usage errors exit 2', async () => {
    for (const args of [
      ['--only', 'nope'],
      ['--report', 'pdf'],
      ['--target', 'http://x:1'],
      ['--target', 'https://127.0.0.1:1'],
      ['--cert', 'x'],
      ['--bogus'],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, /usage: npm run escape/);
    }
  });
});

/**
 * Issue 16 defects 1-3: hostile specs against the audit CLI (a real child process, every output
 * format) and the escape suite's `--spec` loader. Each ends in a coded finding or refusal, the
 * child is never killed by the time bound, and no output contains the secret planted in a file
 * outside the spec folder or in the child's environment (read through /proc/self/environ).
 */
import assert from 'node:assert/strict';
import {execFile} from 'node:child_process';
import path from 'node:path';
import {isAppError} from '../../../src/errors';
import {loadSpecDocument} from '../../../src/escape/spec-cases';
import {auditOpenApiFile} from '../../../src/audit/openapi-audit';
import {givenHostileSpecs, HostileSpecs} from '../../fixtures/hostile-specs';
import {givenSarifValidator} from '../../fixtures/sarif-validator';

const CLI = path.resolve(__dirname, '../../../src/audit/cli.js');
const BOUND_MS = 20_000;

interface Run {
  code: number | null;
  killed: boolean;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise(resolve => {
    execFile(process.execPath, [CLI, ...args], {timeout: BOUND_MS, env, maxBuffer: 64 * 1024 * 1024}, (err, stdout, stderr) => {
      const e = err as (Error & {code?: number; killed?: boolean; signal?: string}) | null;
      resolve({code: e ? (typeof e.code === 'number' ? e.code : null) : 0, killed: Boolean(e?.killed || e?.signal), stdout, stderr});
    });
  });
}

describe('audit: hostile specs, confined resolver (integration)', function () {
  this.timeout(300_000);
  let h: HostileSpecs;
  before(() => {
    h = givenHostileSpecs();
  });
  after(() => h.cleanup());

  const noSecret = (text: string, what: string) => {
    assert.ok(!text.includes(h.fileSecret), `${what}: file secret leaked`);
    assert.ok(!text.includes(h.envSecret), `${what}: environment secret leaked`);
    assert.ok(!/root:x:0:0/.test(text), `${what}: /etc/passwd leaked`);
  };

  it('every hostile spec ends in its coded finding or refusal, bounded, in text, json and sarif, without the secrets', async () => {
    const env = {...process.env, H16_PLANTED_SECRET: h.envSecret};
    const validSarif = givenSarifValidator();
    for (const spec of h.specs) {
      const formats = ['text', 'json', 'sarif'];
      const runs = await Promise.all(formats.map(format => runCli([spec.file, '--format', format], env)));
      for (const [i, format] of formats.entries()) {
        const r = runs[i];
        const what = `${spec.name} (${format})`;
        assert.equal(r.killed, false, `${what}: not finished within ${BOUND_MS} ms`);
        assert.ok(r.code === 0 || r.code === 1 || r.code === 2, `${what}: exit ${r.code}: ${r.stderr}`);
        noSecret(r.stdout + r.stderr, what);
        if (spec.expect.startsWith('OPENAPI_SPEC_REFUSED')) {
          assert.equal(r.code, 2, what);
          assert.ok(r.stderr.includes(spec.expect), `${what}: ${r.stderr}`);
        } else {
          assert.ok(r.stdout.includes(spec.expect), `${what}: expected ${spec.expect} in\n${r.stdout.slice(0, 2000)}`);
          if (format === 'json') {
            const j = JSON.parse(r.stdout) as {findings: Array<{ruleId: string}>};
            assert.ok(
              j.findings.some(f => f.ruleId === spec.expect),
              what,
            );
          }
          if (format === 'sarif') {
            const j = JSON.parse(r.stdout) as {runs: Array<{results: Array<{ruleId: string}>}>};
            assert.ok(validSarif(j), `${what}: ${validSarif.errorsText()}`);
            assert.ok(
              j.runs[0].results.some(x => x.ruleId === spec.expect),
              what,
            );
          }
        }
      }
    }
  });

  it('a refused parameter `in` is never echoed: the finding names the location as invalid', async () => {
    const spec = h.specs.find(s => s.name === 'proc-environ-in')!;
    const r = await auditOpenApiFile(spec.file);
    assert.ok(r.findings.some(f => f.ruleId === 'OA-REF-OUTSIDE-ROOT'));
    for (const f of r.findings) assert.ok(!/\[object|environ=|PATH=/.test(f.location + f.message), f.location);
    noSecret(JSON.stringify(r), 'in-process report');
  });

  it('the escape suite `--spec FILE` loader applies the same policy: OPENAPI_SPEC_REFUSED, no secret in the message', async () => {
    const target = {endpoint: {host: '127.0.0.1', port: 1}, credentials: {}, timeoutMs: 1000};
    for (const spec of h.specs) {
      const started = Date.now();
      await assert.rejects(loadSpecDocument({kind: 'file', file: spec.file}, target), (e: unknown) => {
        assert.ok(isAppError(e) && e.code === 'OPENAPI_SPEC_REFUSED', `${spec.name}: ${String(e)}`);
        noSecret(e.message, spec.name);
        return true;
      });
      assert.ok(Date.now() - started < BOUND_MS, `${spec.name}: bounded`);
    }
  });

  it('a total byte cap and a file cap below the document refuse with OA-REF-LIMIT / OPENAPI_SPEC_REFUSED', async () => {
    const fine = h.specs.find(s => s.name === 'absolute-path')!;
    const r = await runCli([fine.file, '--max-file-bytes', '10', '--format', 'json'], process.env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /OPENAPI_SPEC_REFUSED\/too-large/);
  });
});

/**
 * `npm run escape -- --report sarif` against the local instance (a real run of the CLI as a child
 * process, spec-driven cases from the instance's own /openapi.json): the SARIF log validates
 * against the OASIS SARIF 2.1.0 schema and has one result per case.
 */
import assert from 'node:assert/strict';
import {execFile} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {REPORT_FILES} from '../../src/escape/report';
import type {SuiteResult} from '../../src/escape/runner';
import {givenTempDir} from '../fixtures/pki';
import {givenSarifValidator} from '../fixtures/sarif-validator';

const CLI = path.resolve(__dirname, '../../src/escape/cli.js');

describe('escape: SARIF report (escape)', function () {
  this.timeout(300_000);

  it('--report sarif against the local instance writes a schema-valid SARIF 2.1.0 log, one result per case', async () => {
    const out = path.join(givenTempDir('escape-sarif-'), 'out');
    const r = await new Promise<{code: number; text: string}>(resolve => {
      execFile(
        process.execPath,
        [CLI, '--only', 'benign-control', '--spec', 'target', '--report', 'sarif,json', '--out', out, '--quiet'],
        {timeout: 240_000, maxBuffer: 32 * 1024 * 1024},
        (err, stdout, stderr) => {
          resolve({code: err ? ((err as {code?: number}).code ?? -1) : 0, text: stdout + stderr});
        },
      );
    });
    assert.equal(r.code, 0, r.text.slice(-3000));
    const log = JSON.parse(fs.readFileSync(path.join(out, REPORT_FILES.sarif), 'utf8')) as {
      runs: Array<{results: Array<{ruleId: string; kind: string; level: string}>; tool: {driver: {rules: unknown[]}}}>;
    };
    const validate = givenSarifValidator();
    assert.ok(validate(log), validate.errorsText());
    const j = JSON.parse(fs.readFileSync(path.join(out, REPORT_FILES.json), 'utf8')) as SuiteResult;
    const caseResults = log.runs[0].results.filter(x => !x.ruleId.startsWith('OA-'));
    assert.equal(caseResults.length, j.results.length);
    assert.equal(caseResults.filter(x => x.kind === 'fail').length, j.totals.failed);
    assert.ok(
      caseResults.some(x => x.ruleId.startsWith('spec/')),
      'spec-driven cases present',
    );
  });
});

/**
 * SARIF 2.1.0 output of the OpenAPI audit, validated against the OASIS JSON schema (independent
 * oracle), plus --fail-on and --baseline gating through the CLI entry point.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {runCli} from '../../../src/audit/cli';
import {fingerprint, gate, parseBaseline} from '../../../src/audit/gate';
import {AuditFinding} from '../../../src/audit/openapi-audit';
import {LABELLED_DIR, labelledFiles} from '../../../bench/lib/labelled-openapi';
import {givenSarifValidator} from '../../fixtures/sarif-validator';

async function cli(args: string[]): Promise<{code: number; out: string; err: string}> {
  let out = '';
  let err = '';
  const code = await runCli(args, {out: s => (out += s), err: s => (err += s)});
  return {code, out, err};
}

describe('audit: SARIF output and CI gating (unit)', function () {
  this.timeout(60_000);
  const validate = givenSarifValidator();
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-sarif-'));
  });
  after(() => fs.rmSync(dir, {recursive: true, force: true}));

  it('the schema oracle rejects a broken log (the check can fail)', () => {
    assert.equal(validate({version: '2.1.0', runs: [{tool: {driver: {}}}]}), false);
    assert.equal(validate({version: '2.0.0', runs: []}), false);
  });

  it('every labelled fixture audits to a schema-valid SARIF 2.1.0 log with rules, levels, regions and fingerprints', async () => {
    for (const file of labelledFiles()) {
      const r = await cli([file, '--format', 'sarif', '--fail-on', 'none']);
      assert.equal(r.code, 0, r.err);
      const log = JSON.parse(r.out) as {
        version: string;
        runs: Array<{
          tool: {driver: {rules: Array<{id: string}>}};
          results: Array<{ruleId: string; ruleIndex: number; level: string; locations: Array<{physicalLocation: {region?: {startLine: number}}}>}>;
        }>;
      };
      assert.ok(validate(log), `${path.basename(file)}: ${validate.errorsText()}`);
      const run = log.runs[0];
      for (const res of run.results) assert.equal(run.tool.driver.rules[res.ruleIndex].id, res.ruleId);
    }
    const d = await cli([path.join(LABELLED_DIR, 'docker-engine-swagger2.yaml'), '--format', 'sarif']);
    const res = (
      JSON.parse(d.out) as {
        runs: Array<{
          results: Array<{
            ruleId: string;
            level: string;
            message: {text: string};
            locations: Array<{physicalLocation: {region?: {startLine: number}}}>;
          }>;
        }>;
      }
    ).runs[0].results;
    const exec = res.find(x => x.ruleId === 'OA-CONTAINER-MGMT-PATH' && x.message.text.includes('/containers/{id}/exec'))!;
    assert.equal(exec.level, 'error');
    const text = fs.readFileSync(path.join(LABELLED_DIR, 'docker-engine-swagger2.yaml'), 'utf8').split('\n');
    assert.match(text[exec.locations[0].physicalLocation.region!.startLine - 1], /\/containers\/\{id\}\/exec:/, 'region points at the path key');
  });

  it('--fail-on: high fails on high findings, none never fails, low fails on a low-only spec', async () => {
    const docker = path.join(LABELLED_DIR, 'docker-engine-swagger2.yaml');
    assert.equal((await cli([docker])).code, 1);
    assert.equal((await cli([docker, '--fail-on', 'none'])).code, 0);
    const lowOnly = path.join(dir, 'low.yaml');
    fs.writeFileSync(
      lowOnly,
      "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /orders:\n    get:\n      responses: {'200': {description: ok}}\n",
    );
    assert.equal((await cli([lowOnly])).code, 0, 'only OA-AUTH-UNDECLARED (low)');
    assert.equal((await cli([lowOnly, '--fail-on', 'medium'])).code, 0);
    assert.equal((await cli([lowOnly, '--fail-on', 'low'])).code, 1);
    assert.equal((await cli([lowOnly, '--fail-on', 'critical'])).code, 2);
  });

  it('--baseline: accepted findings (with a reason) pass, a new finding fails, a reason is required, stale entries are listed', async () => {
    const spec = path.join(dir, 'svc.yaml');
    const v1 =
      "openapi: 3.0.3\ninfo: {title: t, version: '1'}\nsecurity: [{m: []}]\ncomponents: {securitySchemes: {m: {type: mutualTLS}}}\npaths:\n  /ping:\n    get:\n      security: []\n      responses: {'200': {description: ok}}\n";
    fs.writeFileSync(spec, v1);
    const baselineFile = path.join(dir, 'baseline.json');
    const first = await cli([spec, '--write-baseline', baselineFile]);
    assert.equal(first.code, 1);
    // As written the baseline has empty reasons: refused until a human fills them in.
    assert.equal((await cli([spec, '--baseline', baselineFile])).code, 2);
    const b = JSON.parse(fs.readFileSync(baselineFile, 'utf8')) as {accepted: Array<{reason: string}>};
    for (const e of b.accepted) e.reason = 'health probe for the load balancer, no data';
    fs.writeFileSync(baselineFile, JSON.stringify(b));
    const ok = await cli([spec, '--baseline', baselineFile, '--format', 'json']);
    assert.equal(ok.code, 0, ok.out);
    assert.equal((JSON.parse(ok.out) as {gate: {accepted: number}}).gate.accepted, 1);
    // A regression: a new exempt route.
    fs.writeFileSync(spec, v1 + "  /debug:\n    get:\n      security: []\n      responses: {'200': {description: ok}}\n");
    const reg = await cli([spec, '--baseline', baselineFile]);
    assert.equal(reg.code, 1);
    assert.match(reg.out, /1 failing, 1 accepted/);
    // The accepted finding fixed: its baseline entry is stale, nothing fails.
    fs.writeFileSync(spec, v1.replace('      security: []\n', ''));
    const fixed = await cli([spec, '--baseline', baselineFile, '--format', 'json']);
    assert.equal(fixed.code, 0);
    assert.equal((JSON.parse(fixed.out) as {gate: {stale: string[]}}).gate.stale.length, 1);
  });

  it('gate() and parseBaseline() are pure and table-driven', () => {
    const f = (severity: AuditFinding['severity'], ruleId: AuditFinding['ruleId'] = 'OA-AUTH-EXEMPT'): AuditFinding => ({
      ruleId,
      severity,
      location: 'operation',
      message: 'm',
      method: 'GET',
      path: `/${severity}`,
    });
    const all = [f('high'), f('medium'), f('low'), f('info')];
    const rows: Array<[Parameters<typeof gate>[1], number]> = [
      ['high', 1],
      ['medium', 2],
      ['low', 3],
      ['none', 0],
    ];
    for (const [failOn, failing] of rows) assert.equal(gate(all, failOn).failing.length, failing, failOn);
    const b = parseBaseline(JSON.stringify({version: 1, accepted: [{fingerprint: fingerprint(all[0]), reason: 'known'}]}));
    assert.equal(gate(all, 'high', b).pass, true);
    assert.throws(() => parseBaseline('{"version": 1, "accepted": [{"fingerprint": "00", "reason": "x"}]}'));
    assert.throws(() => parseBaseline('[]'));
  });
});
